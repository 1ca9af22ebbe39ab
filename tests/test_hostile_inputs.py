"""Hostile and broken inputs through the real command line (issue 15).

Every case runs ``hlsgen.cli.main`` in-process on generated ONNX and data files and must end
in exactly one of two ways: exit 2 with one clean ``hlsgen <cmd>: error: ...`` line (further
lines only as an indented list), no traceback and nothing written; or success with correct
output.  The classes: unreadable model files, models hlsgen cannot (or can) convert, hostile
names, data files, options, and output paths.  Signals are in test_hostile_signals.py, the
name-injection corpus through ``make``'s compilers in test_hostile_names.py, checkpoint and
cache files in test_untrusted_files.py.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle  # noqa: S403 -- to write hostile files only; the package itself never loads any
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

from hlsgen.cli import main
from onnx_builders import GraphBuilder
from test_hostile_names import HOSTILE, check_project_text

RNG = np.random.default_rng(15)
CLASSES = 3


# -- models ---------------------------------------------------------------------------------
def float_model(w1=None, *, bias=None, names=None, opset=13, shape=(1, 2, 4, 4),
                extra_input=False, dilation=1, second_output=False) -> onnx.ModelProto:
    """Conv(3x3, 3 channels) + ReLU -> Flatten -> Gemm(3 classes), NCHW float32."""
    n = names or {}
    b = GraphBuilder(opset=opset)
    x = b.input(n.get("x", "x"), list(shape))
    if extra_input:
        b.input("unused", [1, 3])
    w1 = RNG.normal(0, 0.3, (3, shape[1], 3, 3)).astype(np.float32) if w1 is None else w1
    bias = np.zeros(3, np.float32) if bias is None else bias
    attrs = {"dilations": [dilation, dilation]} if dilation != 1 else {}
    c = b.op("Conv", [x, b.const(w1, n.get("w1")), b.const(bias, n.get("b1"))],
             pads=[1, 1, 1, 1], name=n.get("conv", "conv"), **attrs)
    r = b.op("Relu", [c], name=n.get("relu", "relu"))
    f = b.op("Flatten", [r], name=n.get("flat", "flat"))
    size = 3 * shape[2] * shape[3] if dilation == 1 else 3 * (shape[2] - 2) * (shape[3] - 2)
    y = b.op("Gemm", [f, b.const(RNG.normal(0, 0.3, (size, CLASSES)).astype(np.float32))],
             name=n.get("fc", "fc"))
    model = b.build(y)
    if second_output:
        model.graph.output.append(helper.make_tensor_value_info(r, TensorProto.FLOAT, None))
    return model


def huge_input_model() -> onnx.ModelProto:
    """A 1x3x10000x10000 input (1.2 GB as float32) with few weights: refused up front."""
    b = GraphBuilder()
    x = b.input("x", [1, 3, 10000, 10000])
    y = b.op("Conv", [x, b.const(RNG.normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32))],
             pads=[1, 1, 1, 1], name="conv")
    y = b.op("Flatten", [b.op("GlobalAveragePool", [b.op("Relu", [y])])])
    return b.build(b.op("Gemm", [y, b.const(RNG.normal(0, 0.3, (3, 3)).astype(np.float32))]))


def int8_model(weight_scale=0.02, act_scale=0.1, scales=None) -> onnx.ModelProto:
    """The QDQ version: int8 input, per-channel int8 weights, requantized outputs."""
    b = GraphBuilder()
    x = b.input("x", [1, 2, 4, 4], dtype=np.int8)
    xf = b.dequant(x, 0.05, 0)
    s = np.full(3, weight_scale, np.float32) if scales is None else np.asarray(scales, np.float32)
    w = b.qconst(RNG.integers(-100, 100, (3, 2, 3, 3)), s, axis=0)
    y = b.op("Conv", [xf, w], pads=[1, 1, 1, 1], name="conv")
    _, y = b.requant(y, act_scale, 0)
    y = b.op("Flatten", [y])
    w2 = b.qconst(RNG.integers(-100, 100, (48, CLASSES)), np.full(CLASSES, weight_scale,
                                                                   np.float32), axis=1)
    y = b.op("MatMul", [y, w2], name="fc")
    q, _ = b.requant(y, 0.2, 0)
    return b.build(q, dtype=np.int8)


def three_bad_activation_scales() -> onnx.ModelProto:
    model = int8_model()
    bad = iter([0.0, -1.0])
    consts = {t.name: t for t in model.graph.initializer}
    quants = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    for node in quants[:2]:
        consts[node.input[1]].CopyFrom(numpy_helper.from_array(np.float32(next(bad)),
                                                               node.input[1]))
    return model


def graph_model(nodes, inputs, outputs, inits=(), opset=13) -> onnx.ModelProto:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def unsupported_ops_model() -> onnx.ModelProto:
    w = init("w", RNG.normal(0, 0.3, (3, 2, 3, 3)).astype(np.float32))
    nodes = [helper.make_node("Sin", ["x"], ["s"], name="sin"),
             helper.make_node("Conv", ["s", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Cos", ["c"], ["k"], name="cos"),
             helper.make_node("Tanh", ["k"], ["t"], name="tanh"),
             helper.make_node("Flatten", ["t"], ["y"], name="flat")]
    return graph_model(nodes, [vi("x", [1, 2, 4, 4])], [vi("y", None)], [w])


def two_used_inputs_model() -> onnx.ModelProto:
    nodes = [helper.make_node("Add", ["x", "x2"], ["a"], name="add"),
             helper.make_node("Flatten", ["a"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["y"], name="fc")]
    return graph_model(nodes, [vi("x", [1, 2, 4, 4]), vi("x2", [1, 2, 4, 4])], [vi("y", None)],
                       [init("w", RNG.normal(0, 1, (32, 3)).astype(np.float32))])


def non_constant_weight_model() -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["w0"], ["w"]),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv_rt"),
             helper.make_node("Flatten", ["c"], ["y"])]
    return graph_model(nodes, [vi("x", [1, 2, 4, 4]), vi("w0", [3, 2, 3, 3])], [vi("y", None)])


def custom_domain_model() -> onnx.ModelProto:
    model = float_model()
    model.graph.node[1].domain = "com.evil"
    model.opset_import.append(helper.make_opsetid("com.evil", 1))
    return model


def float64_model() -> onnx.ModelProto:
    model = float_model()
    for i, t in enumerate(model.graph.initializer):
        a = numpy_helper.to_array(t)
        model.graph.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float64),
                                                                    t.name))
    for v in list(model.graph.input) + list(model.graph.output):
        v.type.tensor_type.elem_type = TensorProto.DOUBLE
    return model


def dead_filters() -> np.ndarray:
    w = RNG.normal(0, 0.3, (3, 2, 3, 3)).astype(np.float32)
    w[1] = 0.0
    w[2] = 1e-32
    return w


def npy_header_bomb(path: Path) -> None:
    """An .npz whose x claims shape (10**6, 10**6) in its header: refused before reading."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", np.lib.format.MAGIC_PREFIX + b"\x01\x00"
                         + header.getvalue()[8:] + b"\x00" * 64)


# -- the files of every case, built once ------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    f: dict[str, Path] = {}

    def save(key, model, name=None):
        f[key] = d / (name or f"{key}.onnx")
        onnx.save(model, f[key])

    def npz(key, **arrays):
        f[key] = d / f"{key}.npz"
        np.savez(f[key], **arrays)

    def raw(key, data: bytes, suffix=".onnx"):
        f[key] = d / f"{key}{suffix}"
        f[key].write_bytes(data)

    save("float", float_model())
    save("int8", int8_model())
    good = f["float"].read_bytes()
    raw("empty", b"")
    for key, n in (("trunc10", 10), ("trunc100", 100), ("trunc400", 400),
                   ("trunc_half", len(good) // 2), ("trunc_end", len(good) - 7)):
        raw(key, good[:n])
    for seed in range(3):
        raw(f"random{seed}", np.random.default_rng(seed).bytes(3000))
    raw("text", b"hello, I am not a model\n")
    raw("json", b'{"graph": {"node": []}}')
    raw("pickle", pickle.dumps({"a": 1}))
    raw("gzip", gzip.compress(good))
    save("no_nodes", graph_model([], [vi("x", [1, 2])], [vi("x", [1, 2])]))
    f["dir"] = d / "a_directory.onnx"
    f["dir"].mkdir()
    f["fifo"] = d / "fifo.onnx"
    os.mkfifo(f["fifo"])
    f["devnull_link"] = d / "devnull.onnx"
    f["devnull_link"].symlink_to("/dev/null")

    save("unsupported3", unsupported_ops_model())
    save("dynamic", _dynamic())
    save("batch2", float_model(shape=(2, 2, 4, 4)))
    save("dilation2", float_model(dilation=2))
    save("nonconst", non_constant_weight_model())
    w_nan = RNG.normal(0, 0.3, (3, 2, 3, 3)).astype(np.float32)
    w_nan[0, 0, 0, 0] = np.nan
    save("nan_weights", float_model(w_nan))
    save("inf_weights", float_model(np.full((3, 2, 3, 3), np.inf, np.float32)))
    save("float64", float64_model())
    save("unused_input", float_model(extra_input=True))
    save("two_inputs", two_used_inputs_model())
    save("two_outputs", float_model(second_output=True))
    save("opset7", float_model(opset=7))
    save("huge", huge_input_model())
    save("custom_domain", custom_domain_model())
    save("qdq_act_scales", three_bad_activation_scales())
    save("qdq_wscale0", int8_model(weight_scale=0.0))
    save("qdq_wscale_denormal", int8_model(weight_scale=1e-40))
    save("qdq_wscale_neg", int8_model(scales=[0.02, -0.02, 0.02]))
    save("qdq_wscale_nan", int8_model(scales=[0.02, np.nan, 0.02]))
    save("qdq_wscale_inf", int8_model(scales=[np.inf, 0.02, 0.02]))
    save("dead", float_model(dead_filters()))
    save("tiny_weights", float_model(np.full((3, 2, 3, 3), 1e-30, np.float32)))
    save("huge_bias", float_model(bias=np.array([1e30, 0, 0], np.float32)))

    ext = d / "ext"
    ext.mkdir()
    model = float_model()
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="w.bin",
                                   size_threshold=0)
    onnx.save(model, ext / "ok.onnx")
    f["ext_ok"] = ext / "ok.onnx"
    for key, location, length in (("ext_missing", "gone.bin", None),
                                  ("ext_traversal", "../../../../etc/passwd", None),
                                  ("ext_absolute", "/etc/passwd", None),
                                  ("ext_escape_link", "link.bin", None),
                                  ("ext_truncated", "w.bin", 10**9)):
        m = onnx.load(ext / "ok.onnx", load_external_data=False)
        for t in m.graph.initializer:
            for entry in t.external_data:
                if entry.key == "location":
                    entry.value = location
                if entry.key == "length" and length is not None:
                    entry.value = str(length)
        onnx.save(m, ext / f"{key}.onnx")
        f[key] = ext / f"{key}.onnx"
    (ext / "link.bin").symlink_to("/etc/passwd")

    # data
    x = RNG.uniform(0, 1, (6, 2, 4, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    npz("good", x=x, y=y)
    npz("unlabelled", x=x)
    npz("qdata", x=RNG.integers(-128, 128, (4, 2, 4, 4)).astype(np.int8))
    npz("nan_all", x=np.full_like(x, np.nan))
    x_nan = x.copy()
    x_nan[3, 0, 0, 0] = np.nan
    npz("nan_one", x=x_nan)
    npz("inf_one", x=np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x))
    npz("no_x", data=x)
    npz("scalar_x", x=np.float32(1.0))
    npz("empty_x", x=np.zeros((0, 2, 4, 4), np.float32))
    npz("wrong_shape", x=RNG.uniform(0, 1, (6, 3, 4, 4)).astype(np.float32))
    npz("flat_x", x=RNG.uniform(0, 1, (6,)).astype(np.float32))
    npz("int64_x", x=(x * 100).astype(np.int64))
    npz("str_x", x=np.array(["a", "b"]))
    npz("complex_x", x=x.astype(np.complex64))
    npz("bool_x", x=x > 0.5)
    npz("float_labels", x=x, y=y.astype(np.float32))
    npz("bool_labels", x=x, y=y > 0)
    npz("short_labels", x=x, y=y[:4])
    npz("labels_1000", x=x, y=np.array([1000, 0, 1, 2, 0, 1]))
    npz("labels_neg", x=x, y=np.array([-5, 0, 1, 2, 0, 1]))
    npz("labels_u64_huge", x=x, y=np.array([2**64 - 1, 0, 1, 2, 0, 1], np.uint64))
    npz("labels_u64", x=x, y=y.astype(np.uint64))
    npz("labels_2d", x=x, y=y.reshape(-1, 1))
    f["object_x"] = d / "object_x.npz"
    np.savez(f["object_x"], x=np.array([{"a": 1}, None], dtype=object))
    f["bomb"] = d / "bomb.npz"
    np.savez_compressed(f["bomb"], x=x, y=y, junk=np.zeros(40_000_000, np.uint8))
    f["header_bomb"] = d / "header_bomb.npz"
    npy_header_bomb(f["header_bomb"])
    np.save(d / "array.npy", x)
    f["npy_renamed"] = d / "npy_renamed.npz"
    os.replace(d / "array.npy", f["npy_renamed"])
    raw("empty_data", b"", ".npz")
    raw("random_data", np.random.default_rng(9).bytes(500), ".npz")
    raw("text_data", b"x,y\n1,2\n", ".npz")
    f["data_fifo"] = d / "data_fifo.npz"
    os.mkfifo(f["data_fifo"])
    f["dir_data"] = d / "dir_data.npz"
    f["dir_data"].mkdir()

    # design files and checkpoint
    raw("design_bad_json", b"{not json", ".json")
    raw("design_deep", b"[" * 100_000 + b"]" * 100_000, ".json")
    raw("design_methods_list", b'{"methods": ["exact"]}', ".json")
    raw("design_unknown_layer", b'{"methods": {"nope": "po2"}}', ".json")
    raw("design_newline_method", b'{"methods": {"conv0": "exact\\n$system"}}', ".json")
    f["design_fifo"] = d / "design_fifo.json"
    os.mkfifo(f["design_fifo"])
    f["explored"] = d / "explored"
    f["explored"].mkdir()
    (f["explored"] / "design.json").write_text('{"methods": {}}\n')
    f["bad_checkpoint"] = d / "bad_checkpoint"
    f["bad_checkpoint"].mkdir()
    (f["bad_checkpoint"] / "checkpoint.json").write_bytes(pickle.dumps(["not", "json"]))
    return f


def _dynamic() -> onnx.ModelProto:
    model = float_model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    return model


# -- running a case ---------------------------------------------------------------------------
def run(argv: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean_error(code: int, err: str, command: str, needle: str | None) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "Warning" not in err.split("error:")[0], err
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith(f"hlsgen {command}: error: "), err
    assert all(line.startswith("  ") for line in lines[1:]), err
    assert not any(c in err for c in "\r\x00\x1b"), err
    for text in (needle,) if isinstance(needle, str) else needle or ():
        assert text in err, err


ERROR = "error"
OK = "ok"

# (id, argv with file keys as {key}, expected: ERROR or OK, needle or check)
CASES: list[tuple[str, list[str], str, object]] = []


def case(ident: str, argv: str | list[str], expect: str = ERROR, needle=None) -> None:
    CASES.append((ident, argv.split() if isinstance(argv, str) else argv, expect, needle))


# unreadable model files (inspect)
case("model-missing", "inspect {dir}/nothing.onnx", needle="no such file")
case("model-empty", "inspect {empty}", needle="empty")
for _n in ("trunc10", "trunc100", "trunc400"):
    case(f"model-{_n}", f"inspect {{{_n}}}")
case("model-trunc-half", "inspect {trunc_half}")
case("model-trunc-end", "inspect {trunc_end}")
for _s in range(3):
    case(f"model-random{_s}", f"inspect {{random{_s}}}")
case("model-text", "inspect {text}")
case("model-json", "inspect {json}")
case("model-pickle", "inspect {pickle}")
case("model-gzip", "inspect {gzip}")
case("model-no-nodes", "inspect {no_nodes}")
case("model-directory", "inspect {dir}", needle="directory")
case("model-fifo", "inspect {fifo}", needle="not a regular file")
case("model-dev-zero", "inspect /dev/zero", needle="not a regular file")
case("model-devnull-link", "inspect {devnull_link}", needle="not a regular file")
case("model-npz", "inspect {good}")
case("generate-model-fifo", "generate {fifo} -o {out} --input-range 0 1", needle="regular")
case("evaluate-model-dev-zero", "evaluate /dev/zero --data {good} --input-range 0 1",
     needle="regular")

# models hlsgen cannot convert: every problem at once, by node name
case("unsupported-ops", "inspect {unsupported3}", needle="3 unsupported node(s)")
case("unsupported-ops-generate", "generate {unsupported3} -o {out} --input-range 0 1",
     needle="'tanh'")
case("dynamic-batch", "generate {dynamic} -o {out} --input-range 0 1", needle="dynamic")
case("batch-2", "generate {batch2} -o {out} --input-range 0 1", needle="batch")
case("dilation-2", "generate {dilation2} -o {out} --input-range 0 1", needle="dilation")
case("non-constant-weights", "inspect {nonconst}", needle="non-constant weights")
case("nan-weights", "generate {nan_weights} -o {out} --input-range 0 1")
case("inf-weights", "generate {inf_weights} -o {out} --input-range 0 1")
case("float64-model", "generate {float64} -o {out} --input-range 0 1", needle="float64")
case("float64-evaluate", "evaluate {float64} --data {good} --input-range 0 1",
     needle="float64")
case("unused-second-input", "generate {unused_input} -o {out} --input-range 0 1",
     needle="input 'unused'")
case("unused-second-input-evaluate", "evaluate {unused_input} --data {good} --input-range 0 1",
     needle="unused")
case("two-used-inputs", "inspect {two_inputs}", needle="second model input")
case("two-outputs", "inspect {two_outputs}", needle="second model output")
case("old-opset", "generate {opset7} -o {out} --input-range 0 1", needle="opset 7")
case("huge-input", "generate {huge} -o {out} --input-range 0 1", needle="elements")
case("huge-input-inspect", "inspect {huge}", needle="elements")
case("custom-domain", "inspect {custom_domain}", needle="custom domain")
case("qdq-bad-activation-scales-all-at-once", "generate {qdq_act_scales} -o {out}",
     needle=("scale 0.0 is not a positive", "scale -1.0 is not a positive"))
case("qdq-weight-scale-negative", "generate {qdq_wscale_neg} -o {out}", needle="weight scale")
case("qdq-weight-scale-nan", "generate {qdq_wscale_nan} -o {out}", needle="weight scale")
case("qdq-weight-scale-inf", "generate {qdq_wscale_inf} -o {out}", needle="weight scale")
case("huge-bias", "generate {huge_bias} -o {out} --input-range 0 1", needle="bias")
case("calibration-on-int8", "generate {int8} -o {out} --calibration {good}",
     needle="already quantized")
case("input-range-on-int8", "evaluate {int8} --data {qdata} --input-range 0 1",
     needle="already quantized")
case("float-without-range", "generate {float} -o {out}", needle="--input-range")
case("external-missing", "inspect {ext_missing}", needle="missing")
case("external-traversal", "inspect {ext_traversal}", needle="outside the model's folder")
case("external-absolute", "inspect {ext_absolute}", needle="outside the model's folder")
case("external-symlink-escape", "inspect {ext_escape_link}", needle="outside")
case("external-truncated", "inspect {ext_truncated}", needle="beyond")
case("external-generate", "generate {ext_traversal} -o {out} --input-range 0 1",
     needle="outside")

# models hlsgen converts although they look odd
case("qdq-weight-scale-zero", "generate {qdq_wscale0} -o {out} --count 1", OK, "project")
case("qdq-weight-scale-denormal", "generate {qdq_wscale_denormal} -o {out} --count 1", OK,
     "project")
case("float-weights-1e-30", "generate {tiny_weights} -o {out} --input-range 0 1 --count 1", OK,
     "project")
case("dead-filters", "evaluate {dead} --data {good} --calibration {good} --json {out}", OK,
     "exact")
case("qdq-weight-scale-zero-evaluate", "evaluate {qdq_wscale0} --data {qdata} --json {out}", OK,
     "exact")
case("external-ok", "inspect {ext_ok}", OK, None)

# data files
for _cmd in ("evaluate {float} --data {D} --input-range 0 1",
             "generate {float} -o {out} --calibration {D}"):
    _c = _cmd.split()[0]
    case(f"{_c}-data-missing", _cmd.replace("{D}", "{dir}/none.npz"), needle="does not exist")
    case(f"{_c}-data-directory", _cmd.replace("{D}", "{dir_data}"), needle="directory")
    case(f"{_c}-data-fifo", _cmd.replace("{D}", "{data_fifo}"), needle="not a regular file")
    case(f"{_c}-data-dev-zero", _cmd.replace("{D}", "/dev/zero"), needle="not a regular file")
    case(f"{_c}-data-empty", _cmd.replace("{D}", "{empty_data}"), needle="not a readable")
    case(f"{_c}-data-random", _cmd.replace("{D}", "{random_data}"), needle="not a readable")
    case(f"{_c}-data-text", _cmd.replace("{D}", "{text_data}"), needle="not a readable")
    case(f"{_c}-data-npy-renamed", _cmd.replace("{D}", "{npy_renamed}"), needle=".npy")
    case(f"{_c}-data-object-array", _cmd.replace("{D}", "{object_x}"), needle="not readable")
    case(f"{_c}-data-no-x", _cmd.replace("{D}", "{no_x}"), needle="no array 'x'")
    case(f"{_c}-data-scalar-x", _cmd.replace("{D}", "{scalar_x}"), needle="single number")
    case(f"{_c}-data-empty-x", _cmd.replace("{D}", "{empty_x}"), needle="no samples")
    case(f"{_c}-data-string-x", _cmd.replace("{D}", "{str_x}"), needle="dtype")
    case(f"{_c}-data-complex-x", _cmd.replace("{D}", "{complex_x}"), needle="dtype")
    case(f"{_c}-data-bool-x", _cmd.replace("{D}", "{bool_x}"), needle="dtype")
    case(f"{_c}-data-all-nan", _cmd.replace("{D}", "{nan_all}"), needle="NaN")
    case(f"{_c}-data-one-nan", _cmd.replace("{D}", "{nan_one}"), needle="sample 3")
    case(f"{_c}-data-inf", _cmd.replace("{D}", "{inf_one}"), needle="infinite")
    case(f"{_c}-data-header-bomb", _cmd.replace("{D}", "{header_bomb}"), needle="GiB")
case("evaluate-wrong-shape", "evaluate {float} --data {wrong_shape} --input-range 0 1",
     needle="shape")
case("evaluate-flat-x", "evaluate {float} --data {flat_x} --input-range 0 1", needle="shape")
case("evaluate-int64-for-float", "evaluate {float} --data {int64_x} --input-range 0 1",
     needle="dtype int64")
case("evaluate-float-for-int8", "evaluate {int8} --data {good}", needle="dtype float32")
case("evaluate-float-labels", "evaluate {float} --data {float_labels} --input-range 0 1",
     needle="integers")
case("evaluate-bool-labels", "evaluate {float} --data {bool_labels} --input-range 0 1",
     needle="integers")
case("evaluate-short-labels", "evaluate {float} --data {short_labels} --input-range 0 1",
     needle="labels")
case("evaluate-label-1000", "evaluate {float} --data {labels_1000} --input-range 0 1",
     needle="3 classes")
case("evaluate-label-negative", "evaluate {float} --data {labels_neg} --input-range 0 1",
     needle="y[0] = -5")
case("evaluate-label-uint64-huge", "evaluate {float} --data {labels_u64_huge} --input-range 0 1",
     needle="uint64")
case("evaluate-label-uint64", "evaluate {float} --data {labels_u64} --input-range 0 1 "
     "--json {out}", OK, "top1")
case("evaluate-label-2d", "evaluate {float} --data {labels_2d} --input-range 0 1 --json {out}",
     OK, "top1")
case("evaluate-compressed-junk-not-read", "evaluate {float} --data {bomb} --input-range 0 1 "
     "--json {out}", OK, "top1")
case("evaluate-limit-0", "evaluate {float} --data {good} --input-range 0 1 --limit 0",
     needle="--limit")
case("evaluate-limit-negative", "evaluate {float} --data {good} --input-range 0 1 --limit -3",
     needle="--limit")
case("evaluate-limit-2", "evaluate {float} --data {good} --input-range 0 1 --limit 2 "
     "--json {out}", OK, "samples2")
case("generate-vectors-int64", "generate {float} -o {out} --input-range 0 1 --vectors {int64_x}",
     needle="dtype int64")
case("generate-vectors-shape", "generate {float} -o {out} --input-range 0 1 --vectors "
     "{wrong_shape}", needle="shape")
case("generate-vectors-nan", "generate {float} -o {out} --input-range 0 1 --vectors {nan_one}",
     needle="NaN")
case("generate-vectors-too-few", "generate {float} -o {out} --input-range 0 1 --vectors {good} "
     "--count 7", needle="holds (6)")
case("generate-vectors-ok", "generate {float} -o {out} --input-range 0 1 --vectors {good} "
     "--count 2", OK, "project")
case("explore-data-labels-1000", "explore {float} -o {out} --data {labels_1000} --calibration "
     "{good}", needle="3 classes")
case("explore-data-all-nan", "explore {float} -o {out} --data {nan_all} --calibration {good}",
     needle="NaN")

# options
for _m in ("", "   ", "bogus", "terms:0", "terms:-1", "terms:x", "lcc:sqnr=abc", "lcc:nope=1",
           "exact\n$system"):
    case(f"generate-method-{_m.strip() or 'empty'!r}",
         ["generate", "{float}", "-o", "{out}", "--input-range", "0", "1", "--method", _m],
         needle="method")
case("evaluate-method-empty", ["evaluate", "{float}", "--data", "{good}", "--input-range", "0",
                               "1", "--method", ""], needle="--method is empty")
for _n in ("0", "-1", "200000000"):
    case(f"generate-count-{_n}", f"generate {{float}} -o {{out}} --input-range 0 1 --count {_n}",
         needle="--count")
case("generate-range-and-calibration", "generate {float} -o {out} --input-range 0 1 "
     "--calibration {good}", needle="not both")
case("evaluate-range-and-calibration", "evaluate {float} --data {good} --input-range 0 1 "
     "--calibration {good}", needle="not both")
for _lo, _hi in (("1", "0"), ("nan", "nan"), ("0", "inf"), ("nan", "1"), ("0", "1e300"),
                 ("3", "3")):
    case(f"generate-input-range-{_lo}-{_hi}",
         f"generate {{float}} -o {{out}} --input-range {_lo} {_hi}", needle="input range")
for _clk in ("0", "-5", "nan", "inf", "1e9"):
    case(f"generate-clock-{_clk}", f"generate {{float}} -o {{out}} --input-range 0 1 "
         f"--clock-mhz {_clk}", needle="--clock-mhz")
for _p in ("0", "-1"):
    case(f"generate-pipeline-{_p}", f"generate {{float}} -o {{out}} --input-range 0 1 "
         f"--pipeline {_p}", needle="pipeline levels")
for _j in ("0", "-2"):
    case(f"generate-jobs-{_j}", f"generate {{float}} -o {{out}} --input-range 0 1 --jobs {_j}",
         needle="--jobs")
for _part in ("", "xc7z020 clg400", "x;rm -rf", "part\n"):
    case(f"generate-part-{_part!r}", ["generate", "{float}", "-o", "{out}", "--input-range", "0",
                                      "1", "--part", _part], needle="--part")
for _why, _name in (("digit-first", "1abc"), ("dash", "a-b"), ("verilog-keyword", "module"),
                    ("100-chars", "a" * 100), ("newline", "acc\nrm"), ("double-underscore", "a__b"),
                    ("empty", ""), ("non-ascii", "acc\u00e9")):
    case(f"generate-name-{_why}", ["generate", "{float}", "-o", "{out}", "--input-range", "0",
                                   "1", "--name", _name], needle="--name")
case("build-name-keyword", ["build", "{float}", "-o", "{out}", "--input-range", "0", "1",
                            "--name", "class"], needle="--name")
case("design-missing", "generate {float} -o {out} --input-range 0 1 --design {dir}/none.json",
     needle="does not exist")
case("design-bad-json", "generate {float} -o {out} --input-range 0 1 --design {design_bad_json}",
     needle="JSON")
case("design-deeply-nested", "generate {float} -o {out} --input-range 0 1 --design "
     "{design_deep}", needle="JSON")
case("design-methods-list", "generate {float} -o {out} --input-range 0 1 --design "
     "{design_methods_list}", needle="methods")
case("design-unknown-layer", "generate {float} -o {out} --input-range 0 1 --design "
     "{design_unknown_layer}", needle="nope")
case("design-newline-method", "generate {float} -o {out} --input-range 0 1 --design "
     "{design_newline_method}", needle="method")
case("design-fifo", "generate {float} -o {out} --input-range 0 1 --design {design_fifo}",
     needle="not a regular file")
case("evaluate-method-file-fifo", "evaluate {float} --data {good} --input-range 0 1 --method "
     "{design_fifo}", needle="not a regular file")
case("evaluate-method-file-deep", "evaluate {float} --data {good} --input-range 0 1 --method "
     "{design_deep}", needle="JSON")
case("evaluate-method-file-bad", "evaluate {float} --data {good} --input-range 0 1 --method "
     "{design_bad_json}", needle="JSON")
case("design-directory", "generate {float} -o {out} --input-range 0 1 --design {dir}",
     needle="directory")
for _d in ("nan", "-1", "-inf"):
    case(f"explore-max-accuracy-drop-{_d}", f"explore {{float}} -o {{out}} --calibration {{good}} "
         f"--max-accuracy-drop={_d}", needle="--max-accuracy-drop")
case("explore-population-2", "explore {float} -o {out} --population 2", needle="--population")
case("explore-generations-0", "explore {float} -o {out} --generations 0", needle="--generations")
case("explore-workers-0", "explore {float} -o {out} --workers 0", needle="--workers")
case("explore-device-bogus", "explore {float} -o {out} --device bogus", needle="bogus")
case("explore-budget-negative", "explore {float} -o {out} --lut-budget -1 --ff-budget 1 "
     "--dsp-budget 0 --bram-budget 0", needle="budget")
case("explore-budget-partial", "explore {float} -o {out} --lut-budget 10", needle="missing")
case("explore-clock-nan", "explore {float} -o {out} --clock-mhz nan", needle="--clock-mhz")
case("explore-existing-products", "explore {float} -o {explored} --calibration {good}",
     needle="--force")
case("explore-bad-checkpoint", "explore {float} -o {bad_checkpoint} --calibration {good} "
     "--resume --generations 1 --population 4 --workers 1", needle="checkpoint")

# output paths
case("generate-out-is-file", "generate {float} -o {good} --input-range 0 1",
     needle="already exists")
case("generate-out-is-file-force", "generate {float} -o {good} --input-range 0 1 --force",
     needle="not a directory")
case("generate-out-under-proc", "generate {float} -o /proc/hlsgen-proj --input-range 0 1")
case("generate-out-under-file", "generate {float} -o {good}/proj --input-range 0 1")
case("generate-out-name-too-long", ["generate", "{float}", "-o", "{tmp}/" + "p" * 300,
                                    "--input-range", "0", "1"], needle="longer than")
case("generate-out-holds-model", "generate {float} -o {dir}/.. --input-range 0 1 --force")
case("inspect-json-missing-dir", "inspect {float} --json {dir}/none/x.json", needle="--json")
case("inspect-json-proc", "inspect {float} --json /proc/hlsgen.json", needle="--json")
case("evaluate-json-directory", "evaluate {float} --data {good} --input-range 0 1 --json {dir}",
     needle="--json")

# hostile names: inspect shows them escaped, generate writes only safe text
for _i, _name in enumerate(HOSTILE):
    case(f"name-inspect-{_i}", ["inspect", f"{{name{_i}}}"], OK, "names")
for _i in (0, 1, 2, 5, 12, 13):
    case(f"name-generate-{_i}", ["generate", f"{{name{_i}}}", "-o", "{out}", "--input-range",
                                 "0", "1", "--count", "1"], OK, "names-project")


@pytest.fixture(scope="module")
def named(files, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("names")
    out = {}
    for i, name in enumerate(HOSTILE):
        names = {"conv": name, "relu": name + " r", "fc": name + " f", "x": name + " x",
                 "w1": name + " w"}
        path = d / f"name{i}.onnx"
        onnx.save(float_model(names=names), path)
        out[f"name{i}"] = path
    return out


def _expand(argv: list[str], files: dict, named: dict, tmp_path: Path) -> list[str]:
    keys = {**{k: str(v) for k, v in files.items()}, **{k: str(v) for k, v in named.items()},
            "out": str(tmp_path / "out"), "tmp": str(tmp_path)}
    return [a.format(**keys) if "{" in a else a for a in argv]


def _snapshot(paths) -> dict:
    return {str(p): (p.stat().st_mtime_ns, sorted(os.listdir(p)) if p.is_dir() else None)
            for p in paths if p.exists()}


@pytest.mark.parametrize("ident,argv,expect,needle", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(ident, argv, expect, needle, files, named, tmp_path, capsys,
                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _expand(argv, files, named, tmp_path)
    command = args[0]
    watched = [files["good"], files["explored"], files["bad_checkpoint"], files["dir"]]
    before = _snapshot(watched)
    code, out, err = run(args, capsys)
    if expect == ERROR:
        assert_clean_error(code, err, command, needle)
        assert not (tmp_path / "out").exists() or command in ("evaluate", "inspect")
        assert not [p for p in tmp_path.rglob(".*tmp-*")], "staging directory left behind"
        assert _snapshot(watched) == before, "an input or earlier product was modified"
        return
    assert code == 0, err
    assert "Traceback" not in err
    if needle == "project":
        assert (tmp_path / "out" / "README.md").is_file() and "wrote " in out
    elif needle == "exact":
        result = json.loads((tmp_path / "out").read_text())
        assert result["export_matches"] and result["top1_agreement"] == 100.0
    elif needle == "top1":
        result = json.loads((tmp_path / "out").read_text())
        assert 0 <= result["integer_top1"] <= 100 and result["samples"] == 6
    elif needle == "samples2":
        assert json.loads((tmp_path / "out").read_text())["samples"] == 2
    elif needle == "names":
        assert not any(c in out for c in "\r\x00\x1b\u202e")
    elif needle == "names-project":
        index = int(ident.rsplit("-", 1)[1])
        name = HOSTILE[index]
        check_project_text(tmp_path / "out", [name, name + " r", name + " f", name + " x"])


def test_at_least_150_cases():
    assert len(CASES) >= 150


def test_unreachable_scheduler_leaves_no_outdir(files, tmp_path, capsys, monkeypatch):
    import distributed

    def refuse(address, timeout=None):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    out = tmp_path / "explore"
    code, _, err = run(["explore", files["float"], "-o", out, "--calibration", files["good"],
                        "--scheduler", "tcp://127.0.0.1:1", "--generations", "1",
                        "--population", "4"], capsys)
    # the search reports its progress on stderr before it needs the cluster
    assert code == 2 and "Traceback" not in err, err
    assert err.rstrip("\n").split("\n")[-1].startswith(
        "hlsgen explore: error: cannot reach the Dask scheduler"), err
    assert not out.exists()
