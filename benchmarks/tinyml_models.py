"""Two int8 QDQ models too big to hard-wire, built with onnx.helper (random, seeded weights).

* ``vww_mbv1_025``: the MLPerf Tiny visual wake words reference network's structure --
  MobileNetV1 with width 0.25 (channels 8, 16, 32, 32, 64, 64, 128 x 6, 256, 256), 96x96x3
  input, 13 depthwise-separable blocks, ReLU, average pooling over the 3x3 map, a dense layer
  to 2 classes, Softmax.
* ``resnet8_w40``: the MLPerf Tiny ResNet-8 (``../shared/models/resnet8_int8``) with its
  16-32-64 channels widened to 40-80-160: 32x32x3 input, 10 classes.

Their QDQ structure copies the shared MLPerf Tiny int8 models (tflite -> tf2onnx):

* the input is int8 NHWC (``pixel - 128``), moved to NCHW by a Transpose and dequantized
  (scale 1/255, zero point -128: the float input is the pixel in [0, 1]);
* every Conv / MatMul reads DequantizeLinear'd int8 weights (per output channel for Conv,
  axis 0, zero point 0; per tensor for the dense layer) and an int32 bias whose scale is
  input scale x weight scale (zero point 0);
* every activation is QuantizeLinear'd then DequantizeLinear'd with one per-tensor scale and
  zero point (a ReLU output: zero point -128); a residual Add reads two such tensors; average
  pooling keeps its input's scale; a Reshape sits between the pooling's QuantizeLinear and the
  dense layer's DequantizeLinear; the model ends with Softmax quantized at 1/256, -128.

Weights are He-normal (seeded), biases small; the activation scales are calibrated by running
the fake-quantized network (numpy, exactly the QDQ semantics up to float rounding) on random
inputs, layer by layer: each tensor's range is its min/max over the calibration batch, so
activations use the int8 range without saturating.  ``data.npz`` holds 16 random int8 NHWC
images (``x``) and random labels (``y``); the models are written with IR 10 and opset 13
(onnxruntime 1.31 accepts it).

    python benchmarks/tinyml_models.py -o OUTDIR    # both models
"""

from __future__ import annotations

import argparse
import tempfile
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
OPSET = 13
INPUT_SCALE = 1.0 / 255.0
INPUT_ZP = -128


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.round(x)  # numpy rounds half to even, as QuantizeLinear does


def _fake_quant(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    q = np.clip(_round_half_even(x / np.float32(scale)) + zp, -128, 127)
    return (q - zp) * np.float32(scale)


def _act_qparams(x: np.ndarray, relu: bool) -> tuple[float, int]:
    """Per-tensor int8 scale and zero point covering x's calibrated range (tflite style)."""
    hi = max(float(x.max()), 1e-3)
    lo = 0.0 if relu else min(float(x.min()), 0.0)
    scale = (hi - lo) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return float(np.float32(scale)), zp


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding: (before, after), the extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_nchw(x, w, b, stride, pads, group):
    """float64 conv, NCHW, weights (O, C/group, KH, KW), pads (top, left, bottom, right)."""
    n, c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # (N, C, OH, OW, KH, KW)
    og = o // group
    outs = []
    for g in range(group):
        xs = win[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        outs.append(np.einsum("ncijkl,ockl->noij", xs, ws, optimize=True))
    return np.concatenate(outs, axis=1) + b[None, :, None, None]


class QDQBuilder:
    """Builds the QDQ graph and runs its fake-quantized float twin to calibrate scales."""

    def __init__(self, name: str, shape_nhwc: tuple[int, int, int], rng: np.random.Generator,
                 calib: np.ndarray):
        self.name, self.rng = name, rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0
        h, w, c = shape_nhwc
        self.graph_input = helper.make_tensor_value_info("input_int8", TensorProto.INT8,
                                                         [1, h, w, c])
        # calibration batch: float NCHW view of the int8 images, as the model sees them
        self.x = ((calib.astype(np.float64) - INPUT_ZP) * INPUT_SCALE).transpose(0, 3, 1, 2)
        t = self._node("Transpose", ["input_int8"], perm=[0, 3, 1, 2])
        self.q = t  # the current activation's quantized (int8) tensor name
        self.scale, self.zp = INPUT_SCALE, INPUT_ZP
        self.f = self._dq(t, self.scale, self.zp)  # its dequantized float tensor name
        self.weights = 0
        self.macs = 0

    # -- graph plumbing -------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def _const(self, array: np.ndarray, prefix: str = "c") -> str:
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def _node(self, op: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        name = name or self._name(op)
        out = f"{name}:0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def _q(self, x: str, scale: float, zp: int) -> str:
        return self._node("QuantizeLinear", [x, self._const(np.array(scale, np.float32), "scale"),
                                             self._const(np.array(zp, np.int8), "zero_point")])

    def _dq(self, q: str, scale: float, zp: int) -> str:
        return self._node("DequantizeLinear",
                          [q, self._const(np.array(scale, np.float32), "scale"),
                           self._const(np.array(zp, np.int8), "zero_point")])

    def _qconst(self, q: np.ndarray, scale: np.ndarray, prefix: str, axis: int | None) -> str:
        zp = np.zeros(scale.shape, dtype=q.dtype)
        attrs = {} if axis is None else {"axis": axis}
        return self._node("DequantizeLinear",
                          [self._const(q, prefix), self._const(scale.astype(np.float32), "scale"),
                           self._const(zp, "zero_point")], **attrs)

    # -- layers ---------------------------------------------------------------------------
    def conv(self, name: str, cout: int, kernel: int, stride: int = 1, group: int = 1,
             relu: bool = True, src: tuple | None = None) -> tuple:
        """Conv (TF 'same' padding) [+ Relu] + Q + DQ.  ``src`` is a saved activation
        (``self.save()``) to read instead of the current one; returns the saved output."""
        if src is not None:
            self.restore(src)
        n, cin, h, w = self.x.shape
        cg = cin // group
        fan_in = cg * kernel * kernel
        wf = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (cout, cg, kernel, kernel))
        bf = self.rng.normal(0.0, 0.1, cout)
        # per-output-channel symmetric int8 weights, int32 bias at in_scale * w_scale
        w_scale = (np.abs(wf).reshape(cout, -1).max(axis=1) / 127.0).astype(np.float32)
        wq = np.clip(np.round(wf / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        b_scale = (np.float32(self.scale) * w_scale).astype(np.float32)
        bq = np.round(bf / b_scale).astype(np.int32)
        pt, pb = _same_pads(h, kernel, stride)
        pl, pr = _same_pads(w, kernel, stride)
        pads = [pt, pl, pb, pr]
        wname = self._qconst(wq, w_scale, f"{name}/weights", axis=0)
        bname = self._qconst(bq, b_scale, f"{name}/bias", axis=0)
        y = self._node("Conv", [self.f, wname, bname], name=name, kernel_shape=[kernel, kernel],
                       strides=[stride, stride], pads=pads, dilations=[1, 1], group=group)
        yf = _conv_nchw(self.x, wq.astype(np.float64) * w_scale[:, None, None, None],
                        bq * b_scale.astype(np.float64), stride, pads, group)
        self.weights += wq.size
        self.macs += wq.size * yf.shape[2] * yf.shape[3]
        if relu:
            y = self._node("Relu", [y], name=f"{name}/Relu")
            yf = np.maximum(yf, 0.0)
        return self._activation(y, yf, relu)

    def _activation(self, y: str, yf: np.ndarray, relu: bool) -> tuple:
        scale, zp = _act_qparams(yf, relu)
        self.q = self._q(y, scale, zp)
        self.scale, self.zp = scale, zp
        self.f = self._dq(self.q, scale, zp)
        self.x = _fake_quant(yf, scale, zp)
        return self.save()

    def save(self) -> tuple:
        return (self.q, self.f, self.scale, self.zp, self.x)

    def restore(self, saved: tuple) -> None:
        self.q, self.f, self.scale, self.zp, self.x = saved

    def add_relu(self, a: tuple, b: tuple) -> tuple:
        """Residual Add of two saved activations, Relu, Q + DQ."""
        y = self._node("Add", [a[1], b[1]])
        y = self._node("Relu", [y])
        return self._activation(y, np.maximum(a[4] + b[4], 0.0), relu=True)

    def avgpool_dense(self, classes: int) -> None:
        """AveragePool over the whole map (Q at the input's scale), Reshape, DQ, MatMul + bias,
        Q, DQ, Softmax, Q (1/256, -128): the graph's output."""
        n, c, h, w = self.x.shape
        p = self._node("AveragePool", [self.f], kernel_shape=[h, w], strides=[h, w])
        pq = self._q(p, self.scale, self.zp)
        r = self._node("Reshape", [pq, self._const(np.array([-1, c], np.int64), "shape")])
        rf = self._dq(r, self.scale, self.zp)
        pooled = _fake_quant(self.x.mean(axis=(2, 3)), self.scale, self.zp)
        wf = self.rng.normal(0.0, np.sqrt(1.0 / c), (c, classes))
        w_scale = np.float32(np.abs(wf).max() / 127.0)
        wq = np.clip(np.round(wf / w_scale), -127, 127).astype(np.int8)
        b_scale = np.float32(np.float32(self.scale) * w_scale)
        bq = np.round(self.rng.normal(0.0, 0.1, classes) / b_scale).astype(np.int32)
        m = self._node("MatMul", [rf, self._qconst(wq, np.array(w_scale), "dense/weights", None)],
                       name="dense/MatMul")
        y = self._node("Add", [m, self._qconst(bq, np.array(b_scale), "dense/bias", None)],
                       name="dense/BiasAdd")
        logits = pooled @ (wq * np.float64(w_scale)) + bq * np.float64(b_scale)
        scale, zp = _act_qparams(logits, relu=False)
        yf = self._dq(self._q(y, scale, zp), scale, zp)
        s = self._node("Softmax", [yf], axis=-1)
        out = self._node("QuantizeLinear", [s, self._const(np.array(1 / 256, np.float32), "scale"),
                                            self._const(np.array(-128, np.int8), "zero_point")],
                         name="output_int8")
        self.output, self.classes = out, classes
        self.weights += wq.size
        self.macs += wq.size

    def model(self) -> onnx.ModelProto:
        out = helper.make_tensor_value_info(self.output, TensorProto.INT8, [1, self.classes])
        graph = helper.make_graph(self.nodes, self.name, [self.graph_input], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="hlsgen benchmarks/tinyml_models.py")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


# MobileNetV1 alpha = 0.25 (channels of alpha = 1 times 0.25): (pointwise channels, dw stride)
MBV1_BLOCKS = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [
    (256, 2), (256, 1)]


def build_vww(seed: int, calib: np.ndarray) -> QDQBuilder:
    b = QDQBuilder("vww_mbv1_025", (96, 96, 3), np.random.default_rng(seed), calib)
    b.conv("conv0", 8, 3, stride=2)
    for i, (cout, stride) in enumerate(MBV1_BLOCKS, start=1):
        cin = b.x.shape[1]
        b.conv(f"block{i}/depthwise", cin, 3, stride=stride, group=cin)
        b.conv(f"block{i}/pointwise", cout, 1)
    b.avgpool_dense(2)
    return b


def build_resnet8(seed: int, calib: np.ndarray, widths=(40, 80, 160)) -> QDQBuilder:
    """MLPerf Tiny ResNet-8: conv-relu, then three stacks (conv-relu, conv, shortcut
    (identity in the first, a strided 1x1 conv in the others), add, relu), avgpool, dense."""
    b = QDQBuilder("resnet8_w40", (32, 32, 3), np.random.default_rng(seed), calib)
    x = b.conv("conv0", widths[0], 3)
    for s, width in enumerate(widths, start=1):
        stride = 1 if s == 1 else 2
        b.conv(f"stack{s}/conv_a", width, 3, stride=stride, src=x)
        y = b.conv(f"stack{s}/conv_b", width, 3, relu=False)
        short = x if s == 1 else b.conv(f"stack{s}/shortcut", width, 1, stride=2, relu=False,
                                        src=x)
        x = b.add_relu(y, short)
    b.avgpool_dense(10)
    return b


BUILDERS = {
    "vww_mbv1_025": (build_vww, (96, 96, 3), 2,
                     "MobileNetV1 alpha=0.25 (MLPerf Tiny VWW structure), random weights"),
    "resnet8_w40": (build_resnet8, (32, 32, 3), 10,
                    "MLPerf Tiny ResNet-8 widened to 40-80-160 channels, random weights"),
}


def write_model(name: str, folder: Path, seed: int = 0, samples: int = 16,
                calibration: int = 32) -> dict:
    """Writes folder/model.onnx, data.npz (x: int8 NHWC, y: labels) and meta.json; checks the
    model in onnxruntime on the data.  Returns the meta dictionary."""
    import onnxruntime as ort

    build, shape, classes, what = BUILDERS[name]
    rng = np.random.default_rng(seed + 1000)
    calib = rng.integers(-128, 128, (calibration, *shape), dtype=np.int8)
    x = rng.integers(-128, 128, (samples, *shape), dtype=np.int8)
    y = rng.integers(0, classes, samples).astype(np.int64)
    builder = build(seed, calib)
    model = builder.model()
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    np.savez(folder / "data.npz", x=x, y=y)
    session = ort.InferenceSession(str(folder / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    outputs = np.concatenate([session.run(None, {"input_int8": x[i:i + 1]})[0]
                              for i in range(samples)])
    meta = {
        "description": what, "seed": seed,
        "input": f"int8 NHWC [1,{shape[0]},{shape[1]},{shape[2]}] = pixel - 128 "
                 "(scale 1/255, zero point -128)",
        "weights": int(builder.weights), "macs": int(builder.macs),
        "x_shape": list(x.shape), "x_dtype": "int8", "samples": samples, "labelled": True,
        "note": "synthetic: random weights, random images and random labels (top-1 is "
                "meaningless; exactness and fit do not depend on it)",
        "onnxruntime_predictions": np.bincount(outputs.argmax(axis=1),
                                               minlength=classes).tolist(),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path(tempfile.gettempdir()) / "hlsgen_big_models")
    parser.add_argument("--models", default=",".join(BUILDERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        meta = write_model(name, args.out / name, seed=args.seed)
        print(f"{name}: {meta['weights']:,} weights, {meta['macs']:,} MACs -> "
              f"{args.out / name}; onnxruntime predictions per class "
              f"{meta['onnxruntime_predictions']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
