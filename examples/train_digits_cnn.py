"""Train hlsgen's example CNN on scikit-learn's bundled 8x8 digits and export it as ONNX.

The network is deliberately tiny so that its generated RTL simulates in seconds::

    input  float32 NCHW [1, 1, 8, 8], pixels 0..16 (as load_digits gives them)
    conv1  Conv 3x3, 8 channels, pad 1  + Relu  -> MaxPool 2x2   [1, 8, 4, 4]
    conv2  Conv 3x3, 16 channels, pad 1 + Relu  -> MaxPool 2x2   [1, 16, 2, 2]
    fc     Flatten -> Gemm                                        logits [1, 10]

Training is plain numpy (im2col + matmul, hand-written backward pass, Adam), so the example needs
no deep-learning framework and no download.  Everything is seeded and single-threaded, and the
weights are snapped to a 2^-16 grid, so a rerun writes a byte-identical ONNX file.

Writes to ``--out-dir`` (default: this file's directory):

    digits_cnn.onnx     the float model (IR 8, opset 13, batch 1, input "input", output "logits")
    digits_test.npz     the held-out 20 %: x float32 [N, 1, 8, 8], y int64 [N]
    digits_calib.npz    64 unlabelled training images: x float32 [64, 1, 8, 8]
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

SEED = 0
EPOCHS = 40
BATCH = 32
LEARNING_RATE = 3e-3
CONV1, CONV2, CLASSES = 8, 16, 10
CALIBRATION_SAMPLES = 64
# Weights are rounded to multiples of 2^-GRID_BITS before export.  Training in float64 leaves
# last-bit differences between BLAS kernels of different CPUs around 1e-12; a grid this much
# coarser makes them (almost surely) vanish, while costing nothing in accuracy.
GRID_BITS = 16
# load_digits pixels are 0..16.  Training sees x / 16 (better conditioned); the exported conv1
# weights are divided by 16 instead, which is exact in binary floating point.
PIXEL_MAX = 16.0


# ----------------------------------------------------------------------------------------------
# Layers, NHWC inside training.  Conv weights keep the ONNX shape [out, in, 3, 3] throughout.


def _im2col(x: np.ndarray) -> np.ndarray:
    """[B, H, W, C] -> [B, H, W, 9 * C] patches of a 3x3 window with zero padding 1,
    ordered (ky, kx, c) to match :func:`_weight_matrix`."""
    _, h, w, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = [xp[:, dy : dy + h, dx : dx + w, :] for dy in range(3) for dx in range(3)]
    return np.concatenate(patches, axis=3)


def _col2im(cols: np.ndarray, channels: int) -> np.ndarray:
    """Adjoint of :func:`_im2col`: scatter-add patch gradients back onto the input."""
    b, h, w, _ = cols.shape
    cols = cols.reshape(b, h, w, 9, channels)
    xp = np.zeros((b, h + 2, w + 2, channels), dtype=cols.dtype)
    for k in range(9):
        dy, dx = divmod(k, 3)
        xp[:, dy : dy + h, dx : dx + w, :] += cols[:, :, :, k, :]
    return xp[:, 1:-1, 1:-1, :]


def _weight_matrix(weight: np.ndarray) -> np.ndarray:
    """ONNX conv weight [O, C, 3, 3] -> matrix [9 * C, O] with rows ordered (ky, kx, c)."""
    out_ch, in_ch = weight.shape[:2]
    return weight.transpose(2, 3, 1, 0).reshape(9 * in_ch, out_ch)


def _weight_from_matrix(matrix: np.ndarray, in_ch: int) -> np.ndarray:
    out_ch = matrix.shape[1]
    return matrix.reshape(3, 3, in_ch, out_ch).transpose(3, 2, 0, 1)


def _maxpool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 stride-2 max pool of [B, H, W, C]; also returns a one-hot mask of the maximum.

    Only the first maximum of a window gets the gradient: blank image regions give windows of
    four equal values (the bias), and passing the gradient to all four would count it 4 times.
    """
    b, h, w, c = x.shape
    windows = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // 2, w // 2, c, 4)
    first_max = windows.argmax(axis=4)
    pooled = np.take_along_axis(windows, first_max[..., None], axis=4)[..., 0]
    mask = first_max[..., None] == np.arange(4)
    return pooled, mask


def _maxpool_backward(grad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Gradient [B, H/2, W/2, C] of the pooled output -> gradient [B, H, W, C] of the input."""
    b, h2, w2, c, _ = mask.shape
    windows = (mask * grad[..., None]).reshape(b, h2, w2, c, 2, 2)
    return windows.transpose(0, 1, 4, 2, 5, 3).reshape(b, 2 * h2, 2 * w2, c)


def forward(params: dict[str, np.ndarray], x: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """Logits [B, 10] for images x [B, 8, 8, 1] already scaled to 0..1."""
    cols1 = _im2col(x)
    a1 = cols1 @ _weight_matrix(params["w1"]) + params["b1"]
    r1 = np.maximum(a1, 0.0)
    p1, m1 = _maxpool(r1)
    cols2 = _im2col(p1)
    a2 = cols2 @ _weight_matrix(params["w2"]) + params["b2"]
    r2 = np.maximum(a2, 0.0)
    p2, m2 = _maxpool(r2)
    # ONNX Flatten of NCHW orders features (c, h, w): transpose before reshaping.
    flat = p2.transpose(0, 3, 1, 2).reshape(len(x), -1)
    logits = flat @ params["wfc"].T + params["bfc"]
    if cache is not None:
        cache.update(cols1=cols1, a1=a1, m1=m1, cols2=cols2, a2=a2, m2=m2, p2=p2, flat=flat)
    return logits


def loss_and_grads(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy and its gradient with respect to every parameter."""
    cache: dict = {}
    logits = forward(params, x, cache)
    shifted = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(shifted)
    prob /= prob.sum(axis=1, keepdims=True)
    n = len(x)
    loss = float(-np.log(prob[np.arange(n), y]).mean())

    d_logits = prob
    d_logits[np.arange(n), y] -= 1.0
    d_logits /= n
    grads = {"wfc": d_logits.T @ cache["flat"], "bfc": d_logits.sum(axis=0)}
    d_p2 = (d_logits @ params["wfc"]).reshape(cache["p2"].shape[0], CONV2, 2, 2)
    d_a2 = _maxpool_backward(d_p2.transpose(0, 2, 3, 1), cache["m2"]) * (cache["a2"] > 0)
    cols2 = cache["cols2"]
    d_w2 = cols2.reshape(-1, cols2.shape[-1]).T @ d_a2.reshape(-1, CONV2)
    grads["w2"] = _weight_from_matrix(d_w2, CONV1)
    grads["b2"] = d_a2.sum(axis=(0, 1, 2))
    d_p1 = _col2im(d_a2 @ _weight_matrix(params["w2"]).T, CONV1)
    d_a1 = _maxpool_backward(d_p1, cache["m1"]) * (cache["a1"] > 0)
    cols1 = cache["cols1"]
    grads["w1"] = _weight_from_matrix(cols1.reshape(-1, 9).T @ d_a1.reshape(-1, CONV1), 1)
    grads["b1"] = d_a1.sum(axis=(0, 1, 2))
    return loss, grads


# ----------------------------------------------------------------------------------------------
# Training


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-normal weights, zero biases (float64)."""

    def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)

    flat = CONV2 * 2 * 2
    return {
        "w1": he((CONV1, 1, 3, 3), 9),
        "b1": np.zeros(CONV1),
        "w2": he((CONV2, CONV1, 3, 3), 9 * CONV1),
        "b2": np.zeros(CONV2),
        "wfc": he((CLASSES, flat), flat),
        "bfc": np.zeros(CLASSES),
    }


def train(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Adam with a cosine learning-rate decay; x [N, 8, 8, 1] scaled to 0..1."""
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    moment1 = {k: np.zeros_like(v) for k, v in params.items()}
    moment2 = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    steps_per_epoch = -(-len(x) // BATCH)
    total_steps = EPOCHS * steps_per_epoch
    step = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        epoch_loss = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            loss, grads = loss_and_grads(params, x[batch], y[batch])
            epoch_loss += loss * len(batch)
            step += 1
            # Decaying to a small rate at the end settles the weights, so a last-bit difference
            # in the arithmetic cannot grow into a different model.
            lr = LEARNING_RATE * 0.5 * (1.0 + np.cos(np.pi * step / total_steps))
            for k in params:
                moment1[k] = beta1 * moment1[k] + (1 - beta1) * grads[k]
                moment2[k] = beta2 * moment2[k] + (1 - beta2) * grads[k] ** 2
                m_hat = moment1[k] / (1 - beta1**step)
                v_hat = moment2[k] / (1 - beta2**step)
                params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"  epoch {epoch + 1:3d}/{EPOCHS}: mean loss {epoch_loss / len(x):.4f}")
    return params


# ----------------------------------------------------------------------------------------------
# Export


def export_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float32 ONNX initializers: snapped to the 2^-GRID_BITS grid, conv1 rescaled for 0..16."""
    grid = 2.0**GRID_BITS
    out = {k: (np.round(v * grid) / grid).astype(np.float32) for k, v in params.items()}
    out["w1"] = out["w1"] / np.float32(PIXEL_MAX)  # exact: a power-of-two scale
    return out


def build_onnx(weights: dict[str, np.ndarray], seed: int) -> onnx.ModelProto:
    """The float model, IR 8 / opset 13, so that onnxruntime 1.x and older tools accept it."""
    init = [numpy_helper.from_array(weights[k], name=k) for k in ("w1", "b1", "w2", "b2")]
    init += [
        numpy_helper.from_array(weights["wfc"], name="wfc"),
        numpy_helper.from_array(weights["bfc"], name="bfc"),
    ]
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["conv1_out"], name="conv1", **conv),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("MaxPool", ["relu1_out"], ["pool1_out"], name="pool1", **pool),
        helper.make_node("Conv", ["pool1_out", "w2", "b2"], ["conv2_out"], name="conv2", **conv),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("MaxPool", ["relu2_out"], ["pool2_out"], name="pool2", **pool),
        helper.make_node("Flatten", ["pool2_out"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "wfc", "bfc"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        initializer=init,
    )
    model = helper.make_model(
        graph,
        producer_name="hlsgen examples/train_digits_cnn.py",
        doc_string=(
            f"8x8 digits CNN (sklearn load_digits), seed {seed}; input pixels 0..16, NCHW; "
            "output: 10 logits, no softmax."
        ),
        ir_version=8,
        opset_imports=[helper.make_opsetid("", 13)],
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def onnxruntime_predictions(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Top-1 class of every sample, one batch-1 inference each (the model's fixed shape)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return np.array([int(session.run(None, {"input": s[None]})[0].argmax()) for s in x])


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez, but byte-identical on rerun: np.savez stamps each member with the time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where to write digits_cnn.onnx and the .npz files (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    x_all = digits.images.astype(np.float32)[:, None, :, :]  # [N, 1, 8, 8], 0..16
    y_all = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=0.2, random_state=args.seed, stratify=y_all
    )
    print(f"digits: {len(x_train)} training, {len(x_test)} test images")

    started = time.perf_counter()
    # One BLAS thread: multithreaded reductions may sum in a different order from run to run.
    with threadpool_limits(limits=1):
        x_nhwc = x_train.transpose(0, 2, 3, 1).astype(np.float64) / PIXEL_MAX
        params = train(x_nhwc, y_train, args.seed)
    print(f"trained in {time.perf_counter() - started:.1f} s")

    weights = export_params(params)
    model_bytes = build_onnx(weights, args.seed).SerializeToString()
    predictions = onnxruntime_predictions(model_bytes, x_test)
    # Guard rail: the exported graph must compute what was trained (layout, flatten order).
    exported = {k: v.astype(np.float64) for k, v in weights.items()}
    exported["w1"] = exported["w1"] * PIXEL_MAX
    numpy_predictions = forward(exported, x_test.transpose(0, 2, 3, 1) / PIXEL_MAX).argmax(axis=1)
    agree = int((predictions == numpy_predictions).sum())
    if agree != len(x_test):
        raise SystemExit(f"ONNX export disagrees with training on {len(x_test) - agree} images")

    (args.out_dir / "digits_cnn.onnx").write_bytes(model_bytes)
    save_npz(args.out_dir / "digits_test.npz", x=x_test, y=y_test)
    save_npz(args.out_dir / "digits_calib.npz", x=x_train[:CALIBRATION_SAMPLES])
    correct = int((predictions == y_test).sum())
    print(
        f"float test accuracy (onnxruntime): {correct}/{len(y_test)} = "
        f"{100.0 * correct / len(y_test):.2f}%"
    )
    print(f"wrote digits_cnn.onnx, digits_test.npz, digits_calib.npz to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
