"""The numpy executor against a loop-by-loop transcription of the hlsgen.ir docstring."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from factory import LAYER_KINDS, random_graph, random_input
from hlsgen import ir
from hlsgen.errors import DataError, QuantizationError
from hlsgen.reference import execute, quantize_input
from hlsgen.reference import executor as executor_module
from hlsgen.ir import Window
from hlsgen.reference.windows import window_pixels
from hlsgen.verify_ir import InvalidGraphError, verify


# -- an independent, slow transcription of the IR semantics (Python ints, explicit loops) --
def _requant(acc: int, rq: ir.Requant, c: int) -> int:
    m, s = int(rq.multiplier[c]), int(rq.shift[c])
    y = ((acc * m + (1 << (s - 1))) >> s) + rq.zero_point  # Python >> floors
    return min(max(y, rq.lo), rq.hi)


def _naive_layer(graph: ir.Graph, layer, values) -> np.ndarray:
    out = graph.tensor(layer.output)
    ho, wo, co = out.shape
    y = np.zeros(out.shape, dtype=object)
    if layer.kind is ir.LayerKind.ADD:
        a, b = graph.tensor(layer.input_a), graph.tensor(layer.input_b)
        va, vb = values[layer.input_a], values[layer.input_b]
        for i in np.ndindex(out.shape):
            acc = ((int(va[i]) - a.zero_point) * int(layer.mult_a[i[2]])
                   + (int(vb[i]) - b.zero_point) * int(layer.mult_b[i[2]]))
            y[i] = _requant(acc, layer.requant, i[2])
        return y
    src = graph.tensor(layer.input)
    x = values[layer.input]
    if layer.kind is ir.LayerKind.DENSE:
        flat = [int(v) - src.zero_point for v in x.reshape(-1)]
        for o in range(co):
            acc = int(layer.bias[o]) + sum(int(w) * v for w, v in zip(layer.weight[o], flat))
            y[0, 0, o] = _requant(acc, layer.requant, o)
        return y
    h, w, cin = src.shape
    kh, kw = layer.kernel
    sh, sw = layer.stride
    top, left = (layer.pads[0], layer.pads[1]) if hasattr(layer, "pads") else (0, 0)
    for oh, ow, o in np.ndindex(out.shape):
        taps = [(oh * sh + i - top, ow * sw + j - left, i, j)
                for i in range(kh) for j in range(kw)]
        inside = [(r, c, i, j) for r, c, i, j in taps if 0 <= r < h and 0 <= c < w]
        if layer.kind is ir.LayerKind.MAXPOOL:
            y[oh, ow, o] = max(int(x[r, c, o]) for r, c, _, _ in inside)
        elif layer.kind is ir.LayerKind.AVGPOOL:
            acc = sum(int(x[r, c, o]) - src.zero_point for r, c, _, _ in inside)
            y[oh, ow, o] = _requant(acc, layer.requant, o)
        else:  # Conv: padded taps contribute 0
            cig, cog = cin // layer.groups, co // layer.groups
            g = o // cog
            acc = int(layer.bias[o])
            for r, c, i, j in inside:
                for ci in range(cig):
                    xc = int(x[r, c, g * cig + ci]) - src.zero_point
                    acc += int(layer.weight[o, i, j, ci]) * xc
            y[oh, ow, o] = _requant(acc, layer.requant, o)
    return y


def naive_execute(graph: ir.Graph, x_ir: np.ndarray) -> dict[str, np.ndarray]:
    results = {}
    for sample in x_ir:
        values = {graph.input: sample.reshape(graph.tensor(graph.input).shape)}
        for layer in graph.layers:
            values[layer.output] = _naive_layer(graph, layer, values)
        for name, value in values.items():
            results.setdefault(name, []).append(value)
    return {name: np.stack(v).astype(np.int64) for name, v in results.items()}


def _assert_matches_naive(graph: ir.Graph, x: np.ndarray) -> None:
    got = execute(graph, x, return_all=True)
    want = naive_execute(graph, x)
    assert set(got) == set(want) == set(graph.tensors)
    for name in want:
        assert got[name].dtype == np.int64
        assert np.array_equal(got[name], want[name]), name


# -- executor == transcription -------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), signed=st.sampled_from([True, False, None]))
def test_execute_matches_naive_on_random_graphs(seed, signed):
    graph = random_graph(seed, signed=signed)
    verify(graph)
    _assert_matches_naive(graph, random_input(graph, 3, seed))


@pytest.mark.parametrize("kind", LAYER_KINDS)
@pytest.mark.parametrize("signed", [True, False])
def test_execute_matches_naive_per_layer_kind(kind, signed):
    for seed in range(6):
        graph = random_graph(seed, (kind,), signed=signed, max_channels=6)
        _assert_matches_naive(graph, random_input(graph, 2, seed))


@pytest.mark.parametrize("weight_bits", [12, 16, 20, 30, 40])
def test_execute_matches_naive_with_wide_weights_and_large_shifts(weight_bits):
    """Wide weights push partial sums past 2**24 and 2**53: the float fast paths must notice."""
    shifts = []
    for seed in range(4):
        graph = random_graph(seed, ("conv", "dwconv", "dense", "add"), weight_bits=weight_bits,
                             max_channels=6, max_hw=5)
        shifts += [int(s) for layer in graph.layers for s in layer.requant.shift]
        _assert_matches_naive(graph, random_input(graph, 2, seed))
    if weight_bits >= 30:
        assert max(shifts) >= 40  # the requant really exercises shifts of approximated designs


@pytest.mark.parametrize("groups, cout", [(1, 3), (2, 2), (2, 4)])
def test_float_fast_paths_stay_exact_past_2_pow_24(groups, cout):
    """Each product 127 * 32767 fits float32 but the 3x3 sums (> 2**25, not multiples of 8)
    do not.  The bias cancels the interior sum to 0 and shift 1 makes an error of a few units
    visible in the output: a path bounding single products instead of sums would show it."""
    cig = 2 // groups
    t_in = ir.Tensor("x", (3, 3, 2), ir.DType.INT8, 1.0, 0)
    t_out = ir.Tensor("y", (3, 3, cout), ir.DType.INT8, 1.0, 0)
    weight = np.full((cout, 3, 3, cig), 32767, dtype=np.int64)
    bias = np.full(cout, -9 * cig * 127 * 32767, dtype=np.int64)
    rq = ir.Requant(np.ones(cout, np.int64), np.ones(cout, np.int64), 0, -128, 127)
    conv = ir.Conv("conv", (), "x", "y", weight, bias, (1, 1), (1, 1, 1, 1), groups, rq)
    graph = ir.Graph("g", "x", "y", {"x": t_in, "y": t_out}, (conv,), np.arange(18), "y")
    verify(graph)
    x = np.stack([np.full(18, 127), np.full(18, -128), np.arange(-9, 9)])
    assert (execute(graph, x)[0, 1, 1] == 0).all()  # interior: exactly cancelled
    _assert_matches_naive(graph, x)


def test_product_dtype_picks_exact_types():
    pick = executor_module._product_dtype
    mat = np.array([[100], [-27]])  # column |sum| = 127
    assert pick(255, mat) is np.float32
    assert pick((1 << 24) // 127 + 1, mat) is np.float64
    assert pick((1 << 53) // 127 + 1, mat) is np.int64
    with pytest.raises(QuantizationError, match="overflow int64"):
        pick(1 << 60, mat)


def test_int64_fallback_is_used_and_exact(monkeypatch):
    """Partial sums beyond 2**53 must not go through float64."""
    used = []
    original = executor_module._product_dtype
    monkeypatch.setattr(executor_module, "_product_dtype",
                        lambda x, m: used.append(original(x, m)) or used[-1])
    for seed in range(3):
        graph = random_graph(seed, ("conv", "dense"), weight_bits=46, max_channels=6)
        verify(graph)
        _assert_matches_naive(graph, random_input(graph, 2, seed))
    assert np.int64 in used


def test_round_half_up_and_clamp_by_hand():
    """acc / 2 for acc in -5..5: halves go to +inf; the clamp folds ReLU at zero point 3."""
    t_in = ir.Tensor("x", (1, 1, 11), ir.DType.INT8, 1.0, 0)
    t_out = ir.Tensor("y", (1, 1, 11), ir.DType.INT8, 1.0, 3)
    rq = ir.Requant(np.ones(11, np.int64), np.ones(11, np.int64), 3, 3, 127)
    pool = ir.AvgPool("pool", (), "x", "y", (1, 1), (1, 1), rq)
    graph = ir.Graph("g", "x", "y", {"x": t_in, "y": t_out}, (pool,), np.arange(11), "y")
    acc = np.arange(-5, 6)
    y = execute(graph, acc[None, :]).reshape(-1)
    expected = [max(3, int(np.floor(a / 2 + 0.5)) + 3) for a in acc]  # -2.5 -> -2, 2.5 -> 3
    assert y.tolist() == expected


def test_return_all_and_shapes():
    graph = random_graph(11)
    x = random_input(graph, 4, 0)
    every = execute(graph, x, return_all=True)
    assert set(every) == set(graph.tensors)
    for name, value in every.items():
        assert value.shape == (4,) + graph.tensor(name).shape
    assert np.array_equal(every[graph.input].reshape(4, -1), x)
    assert np.array_equal(execute(graph, x), every[graph.output])


def test_run_layer_steps_through_the_graph_like_execute():
    graph = random_graph(12, signed=None)
    x = random_input(graph, 5, 3)
    every = execute(graph, x, return_all=True)
    values = {name: v.reshape(5, -1, v.shape[-1]) for name, v in every.items()}
    for layer in graph.layers:
        out = executor_module.run_layer(graph, layer, values)
        assert np.array_equal(out, values[layer.output]), layer.name


def test_chunking_does_not_change_results(monkeypatch):
    graph = random_graph(3, signed=None)
    x = random_input(graph, 9, 1)
    whole = execute(graph, x)
    monkeypatch.setattr(executor_module, "_CHUNK_BYTES", 1)  # one sample per chunk
    assert np.array_equal(execute(graph, x), whole)


def test_overflowing_requant_is_reported():
    graph = random_graph(2, ("dense",))
    layer = graph.layers[0]
    huge = replace(layer.requant, multiplier=np.full_like(layer.requant.multiplier, 1 << 60))
    bad = replace(graph, layers=(replace(layer, requant=huge),))
    x = np.full((1, graph.tensor(graph.input).size), graph.tensor(graph.input).dtype.qmax)
    with pytest.raises(QuantizationError, match="dense0"):
        execute(bad, x)
    with pytest.raises(InvalidGraphError, match="overflow int64"):
        verify(bad)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 3), np.int64), "must be \\[N"),
    (np.zeros((2,), np.int64), "must be \\[N"),
    ("float", "must be integers"),
    ("range", "outside the"),
])
def test_execute_rejects_bad_input(bad, message):
    graph = random_graph(1, ("conv",))
    size = graph.tensor(graph.input).size
    if isinstance(bad, str):
        bad = np.full((1, size), 0.5) if bad == "float" else np.full((1, size), 300)
    with pytest.raises(DataError, match=message):
        execute(graph, bad)


# -- windows -----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), pads=st.tuples(*[st.integers(0, 2)] * 4))
def test_window_pixels_by_brute_force(h, w, kh, kw, sh, sw, pads):
    top, left, bottom, right = pads
    assume(h + top + bottom >= kh and w + left + right >= kw)
    window = Window.of((h, w), (kh, kw), (sh, sw), pads)
    index = window_pixels(window)
    ho, wo = window.ho, window.wo
    assert index.shape == (ho * wo, kh * kw)
    padded = np.full((h + top + bottom, w + left + right), h * w)
    padded[top : top + h, left : left + w] = np.arange(h * w).reshape(h, w)
    for p in range(ho * wo):
        r, c = divmod(p, wo)
        window = padded[r * sh : r * sh + kh, c * sw : c * sw + kw]
        assert window.shape == (kh, kw)  # floor mode: every window fits in the padded input
        assert index[p].tolist() == window.reshape(-1).tolist()


# -- quantize_input ----------------------------------------------------------------------
def _ort_quantize(values: np.ndarray, scale: float, zp: int, dtype: ir.DType) -> np.ndarray:
    elem = TensorProto.INT8 if dtype is ir.DType.INT8 else TensorProto.UINT8
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(values.shape))],
        [helper.make_tensor_value_info("y", elem, list(values.shape))],
        initializer=[helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
                     helper.make_tensor("z", elem, [], [zp])])
    model = helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 21)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values})[0].astype(np.int64)


@pytest.mark.parametrize("signed", [True, False])
def test_quantize_input_matches_onnx_quantizelinear(signed):
    graph = random_graph(4, ("conv",), signed=signed, nchw=True)
    t = graph.tensor(graph.input)
    rng = np.random.default_rng(0)
    n = 64
    # halfway cases (k + 0.5) * scale, far out-of-range values and plain noise
    halves = (rng.integers(-300, 300, (n, t.size)) + 0.5) * t.scale
    noise = rng.normal(0, 200 * t.scale, (n, t.size))
    x = np.where(rng.random((n, t.size)) < 0.5, halves, noise).astype(np.float32)
    h, w, c = t.shape
    x_source = x.reshape(n, c, h, w)  # the graph's source layout is (C, H, W)
    want = _ort_quantize(x, t.scale, t.zero_point, t.dtype)[:, graph.input_permutation]
    got = quantize_input(graph, x_source)
    assert got.dtype == np.int64 and np.array_equal(got, want)


def test_quantize_input_integer_data_is_permuted_only():
    graph = random_graph(6, ("conv",), nchw=True)
    h, w, c = graph.tensor(graph.input).shape
    x_hwc = random_input(graph, 3, 2)  # what the IR should receive
    x_chw = x_hwc.reshape(3, h, w, c).transpose(0, 3, 1, 2).astype(np.int8)
    assert np.array_equal(quantize_input(graph, x_chw), x_hwc)


@pytest.mark.parametrize("data, message", [
    (np.zeros((2, 5), np.float32), "values per sample"),
    ("nan", "NaN"),
    ("range", "outside the"),
    (np.zeros((0, 4)), "no samples"),
])
def test_quantize_input_rejects_bad_data(data, message):
    graph = random_graph(1, ("conv",))
    size = graph.tensor(graph.input).size
    if isinstance(data, str):
        data = np.full((1, size), np.nan if data == "nan" else 1000)
    with pytest.raises(DataError, match=message):
        quantize_input(graph, data)


# -- verify ------------------------------------------------------------------------------
def test_factory_graphs_verify():
    for seed in range(40):
        for signed in (True, False, None):
            verify(random_graph(seed, signed=signed, weight_bits=8 + seed % 33))


def test_factory_is_deterministic_and_spread():
    a, b = random_graph(7), random_graph(7)
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    for la, lb in zip(a.layers, b.layers):
        if hasattr(la, "weight"):
            assert np.array_equal(la.weight, lb.weight)
    distinct = []
    for seed in range(20):
        graph = random_graph(seed)
        values = execute(graph, random_input(graph, 16, seed), return_all=True)
        distinct += [len(np.unique(values[layer.output])) for layer in graph.layers]
    assert np.median(distinct) >= 8  # outputs are not collapsed onto a clamp bound


def _broken(graph: ir.Graph, **changes) -> ir.Graph:
    return replace(graph, **changes)


def test_verify_reports_every_problem_with_names():
    graph = random_graph(0, ("conv", "maxpool", "dense"))
    conv, pool, dense = graph.layers
    tensors = dict(graph.tensors)
    tensors["orphan"] = ir.Tensor("orphan", (1, 1, 1), ir.DType.INT8, 1.0, 0)
    cases = [
        (_broken(graph, layers=(conv, dense, pool)), "not produced by an earlier layer"),
        (_broken(graph, tensors=tensors), "tensor 'orphan' is dangling"),
        (_broken(graph, layers=(replace(conv, name="conv-0"), pool, dense)),
         "not a C++/Verilog identifier"),
        (_broken(graph, layers=(replace(conv, requant=replace(conv.requant, shift=np.zeros_like(
            conv.requant.shift))), pool, dense)), "shift must lie in"),
        (_broken(graph, layers=(replace(conv, weight=conv.weight[:, :, :, :0]), pool, dense)),
         "input channels per group"),
        (_broken(graph, layers=(replace(conv, stride=(9, 9)), pool, dense)), "has shape"),
        (_broken(graph, input_permutation=np.zeros_like(graph.input_permutation)),
         "not a permutation"),
        (_broken(graph, layers=(conv, pool)), "dangling"),
    ]
    for bad, message in cases:
        with pytest.raises(InvalidGraphError, match=re.escape(message)):
            verify(bad)


def test_verify_lists_all_problems_at_once():
    graph = random_graph(0, ("conv", "dense"))
    conv, dense = graph.layers
    bad_conv = replace(conv, requant=replace(conv.requant, lo=200))
    bad_dense = replace(dense, bias=dense.bias[:0])
    with pytest.raises(InvalidGraphError) as err:
        verify(replace(graph, layers=(bad_conv, bad_dense)))
    assert len(err.value.problems) == 2
    assert "conv0" in str(err.value) and "dense1" in str(err.value)


def test_half_even_rounding_sends_ties_to_the_even_neighbour():
    from hlsgen.reference.executor import requantize

    acc = np.array([[-7, -6, -5, -3, -2, -1, 0, 1, 2, 3, 5, 6, 7]], dtype=np.int64).T
    ones = np.ones(1, np.int64)
    half_even = ir.Requant(ones, ones, 0, -128, 127, ir.Rounding.HALF_EVEN)
    half_up = ir.Requant(ones, ones, 0, -128, 127)
    # acc / 2: ties at every odd acc
    assert requantize(acc, half_even, "t")[:, 0].tolist() == [-4, -3, -2, -2, -1, 0, 0, 0, 1,
                                                              2, 2, 3, 4]
    assert requantize(acc, half_up, "t")[:, 0].tolist() == [-3, -3, -2, -1, -1, 0, 0, 1, 1,
                                                            2, 3, 3, 4]
    # non-ties are rounded to nearest by both: acc / 4 with acc = 5 -> 1, 7 -> 2
    shift2 = np.full(1, 2, np.int64)
    rq = ir.Requant(ones, shift2, 0, -128, 127, ir.Rounding.HALF_EVEN)
    assert requantize(np.array([[5], [7], [6], [10], [-6]], np.int64), rq, "t")[:, 0].tolist() \
        == [1, 2, 2, 2, -2]
