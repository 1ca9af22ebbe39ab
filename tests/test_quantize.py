"""Post-training quantization arithmetic: multipliers, activation and weight parameters,
clamp bounds, and the determinism of calibration and of the data-free ranges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx_builders import GraphBuilder

from hlsgen.errors import DataError, QuantizationError
from hlsgen.frontend import import_model
from hlsgen.frontend.lowered import QParams
from hlsgen.ir import DType
from hlsgen.frontend.quantize import (MULTIPLIER_BITS, activation_qparams, clamp_bounds,
                                      fixed_point, quantize_weights)


@given(st.floats(min_value=1e-9, max_value=1e3), st.integers(min_value=12, max_value=31))
def test_fixed_point_has_the_promised_precision(real, bits):
    (mult,), (shift,) = fixed_point(np.array([real]), bits)
    assert 1 << (bits - 1) <= mult < 1 << bits and shift >= 1
    # round to nearest: within half a unit of the last place
    assert abs(int(mult) - real * 2.0 ** int(shift)) <= 0.5 + 1e-9 * real * 2.0 ** int(shift)


def test_fixed_point_edges():
    mult, shift = fixed_point(np.array([0.0, 1.0, 2.0 ** -30]), 16)
    assert (mult[0], shift[0]) == (0, 1)
    assert mult[1] * 2.0 ** -shift[1] == 1.0 and mult[2] * 2.0 ** -shift[2] == 2.0 ** -30
    with pytest.raises(QuantizationError, match="too large"):
        fixed_point(np.array([2.0 ** 23]), 24)  # would need multiplier 2**23 << 1
    with pytest.raises(QuantizationError, match="not a non-negative"):
        fixed_point(np.array([-1.0]), 24)


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4),
       st.sampled_from([DType.INT8, DType.UINT8]))
def test_activation_qparams_cover_the_range_and_zero(a, b, dtype):
    lo, hi = min(a, b), max(a, b)
    qp = activation_qparams(lo, hi, dtype)
    assert qp.scale > 0 and dtype.qmin <= qp.zero_point <= dtype.qmax
    # zero is exactly q == zero_point; the range ends quantize inside the type (+- rounding)
    for value in (min(lo, 0.0), max(hi, 0.0)):
        q = np.round(value / qp.scale) + qp.zero_point
        assert dtype.qmin - 1 <= q <= dtype.qmax + 1


def test_relu_output_gets_zero_point_at_the_bottom():
    qp = activation_qparams(0.0, 10.2)
    assert qp.zero_point == -128 and np.isclose(qp.scale, 10.2 / 255)


def test_quantize_weights_per_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 2)) * np.array([1, 10, 0.01, 0])[:, None, None, None]
    q, scale = quantize_weights(w)
    assert q.dtype == np.int64 and q.shape == w.shape
    assert [int(np.abs(q[c]).max()) for c in range(4)] == [127, 127, 127, 0]
    assert np.all(np.abs(q * scale[:, None, None, None] - w) <= scale[:, None, None, None] / 2)


def test_clamp_bounds():
    out = QParams(scale=0.05, zero_point=-100, dtype=DType.INT8)
    assert clamp_bounds((-np.inf, np.inf), out) == (-128, 127)
    assert clamp_bounds((0.0, np.inf), out) == (-100, 127)
    assert clamp_bounds((0.0, 6.0), out) == (-100, 20)  # 6 / 0.05 = 120 steps above zero
    with pytest.raises(QuantizationError, match="empty"):
        clamp_bounds((20.0, 30.0), out)


def small_float_model():
    rng = np.random.default_rng(1)
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6])
    y = b.op("Relu", [b.op("Conv", [x, b.const(rng.normal(size=(3, 2, 3, 3)))],
                           pads=[1, 1, 1, 1])])
    y = b.op("Flatten", [b.op("GlobalAveragePool", [y])])
    return b.build(b.op("Gemm", [y, b.const(rng.normal(size=(3, 4)))]))


def test_requantization_multipliers_match_the_scales():
    model = small_float_model()
    x = np.random.default_rng(2).uniform(0, 1, size=(20, 2, 6, 6)).astype(np.float32)
    graph = import_model(model, calibration=x)
    conv, pool, dense = graph.layers
    t = graph.tensors
    for layer, real in [(pool, t[pool.input].scale / (t[pool.output].scale * 36))]:
        got = layer.requant.multiplier * 2.0 ** -layer.requant.shift
        np.testing.assert_allclose(got, real, rtol=2.0 ** -(MULTIPLIER_BITS - 1))
    assert np.all(conv.requant.multiplier < 1 << MULTIPLIER_BITS)
    assert np.all(conv.requant.multiplier >= 1 << (MULTIPLIER_BITS - 1))
    assert conv.requant.lo == t[conv.output].zero_point == -128  # ReLU
    assert np.abs(conv.weight).max() == 127 and conv.bias.dtype == np.int64


def test_calibration_and_data_free_are_deterministic():
    model = small_float_model()
    x = np.random.default_rng(3).uniform(0, 1, size=(10, 2, 6, 6)).astype(np.float32)
    for kwargs in (dict(calibration=x), dict(data_free_input_range=(0.0, 1.0))):
        a, b = import_model(model, **kwargs), import_model(model, **kwargs)
        assert a.tensors == b.tensors
        for la, lb in zip(a.layers, b.layers):
            assert np.array_equal(la.requant.multiplier, lb.requant.multiplier)
    assert any("data-free" in note for note in b.notes)


def test_calibration_needs_fitting_samples():
    with pytest.raises(QuantizationError, match="no samples"):
        import_model(small_float_model(), calibration=np.zeros((0, 2, 6, 6), np.float32))
    with pytest.raises(DataError, match="does not fit model input 'x'"):
        import_model(small_float_model(), calibration=np.zeros((3, 2, 6, 5), np.float32))
