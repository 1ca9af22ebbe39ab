"""The whole-network engine with term-serial shift-add PEs (``pe="shiftadd"``, issue 13).

The terms are every int8 weight's canonical signed digits; a step runs one beat every ``T``
cycles.  The numpy emulation is the DSP engine's (the same integer network); random small
networks simulate in Verilator with 0 mismatches at exactly the cycle model's latency and
interval, with a depthwise layer, an Add, pooling, and steps of T = 1 and T = 4; the Verilog of
the PEs and lanes has no ``*`` and yosys maps no DSP48E1.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input
from test_systolic import simulate_exactly
from hlsgen import ir
from hlsgen.reference import execute
from hlsgen.systolic import ArrayShape, SystolicError, emit_network, module_names
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import COPY_BITS, Op, beat_cycles, memory_copies, plan_network
from hlsgen.systolic.project import write_network_project
from hlsgen.systolic.shiftadd import (MAX_TERMS, booth_digits, step_positions, step_terms,
                                      term_code)

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
MIDDLE = ("conv", "dwconv", "maxpool", "add", "avgpool")


def _network(seed: int, middle: tuple[str, ...], last: str):
    return random_graph(seed, ("conv", *middle, last), signed=None, rounding="mixed",
                        max_channels=6, max_hw=5)


def _with_weights(graph: ir.Graph, name: str, change) -> ir.Graph:
    layers = tuple(dataclasses.replace(layer, weight=change(layer.weight.copy()))
                   if layer.name == name else layer for layer in graph.layers)
    return dataclasses.replace(graph, layers=layers)


def _one_position(w: np.ndarray) -> np.ndarray:
    """Every weight clipped to -2 .. 1: one Booth digit, at position 0 (T = 1)."""
    return np.clip(w, -2, 1).astype(w.dtype)


def _positions_3_and_1(w: np.ndarray) -> np.ndarray:
    """Weights +-64 +-4 or +-64: Booth digits at positions 3 and 1 only (T = 2, position 2
    not run)."""
    return (64 * np.where(w < 0, -1, 1) + 4 * (np.arange(w.size).reshape(w.shape) % 3 - 1)
            ).astype(w.dtype)


def _four_digits(w: np.ndarray) -> np.ndarray:
    w.flat[0] = 85  # 0b1010101: four non-zero Booth digits, so T = 4
    return w


# -- the terms -------------------------------------------------------------------------------
def test_booth_digits_of_every_int8_weight():
    """Exact sum, digits -2..2, and every partial sum taken from the most significant position
    within [-128, 128] (a PE never exceeds the product bound)."""
    most = 0
    for w in range(-128, 128):
        digits = booth_digits(w)
        assert len(digits) == MAX_TERMS and all(-2 <= d <= 2 for d in digits)
        assert sum(d * 4 ** k for k, d in enumerate(digits)) == w
        partial = 0
        for k in reversed(range(MAX_TERMS)):
            partial += digits[k] * 4 ** k
            most = max(most, abs(partial))
    assert most == 128
    assert [booth_digits(w) for w in (0, 1, -1, -2, 2, 85, -128, 127)] == [
        (0, 0, 0, 0), (1, 0, 0, 0), (-1, 0, 0, 0), (-2, 0, 0, 0), (-2, 1, 0, 0), (1, 1, 1, 1),
        (0, 0, 0, -2), (-1, 0, 0, 2)]


def test_terms_per_step_and_beats():
    graph = _with_weights(_with_weights(_network(4, ("dwconv", "maxpool"), "dense"), "conv0",
                                        _four_digits), "dw1", _one_position)
    graph = _with_weights(graph, "dense3", _positions_3_and_1)
    plan = plan_network(graph, ArrayShape(3, 2), pe="shiftadd", copy_bits=0)
    terms = dict(zip((s.name for s in plan.steps), plan.step_terms))
    assert terms["conv0"] == 4 and terms["dw1"] == 1 and terms["maxpool2"] == 1
    assert [step_positions(s) for s in plan.steps] == [(3, 2, 1, 0), (0,), (), (3, 1)]
    assert terms["dense3"] == 2
    assert plan.step_terms == tuple(step_terms(s) for s in plan.steps)
    dsp = plan_network(graph, ArrayShape(3, 2))
    assert dsp.step_terms == dsp.step_beats == (1,) * len(plan.steps)
    # one copy of each memory: a step reading p > 1 ports takes at least p + 1 cycles a beat
    assert plan.in_copies == plan.act_copies == 1 and dsp.act_copies == 3
    beats = dict(zip((s.name for s in plan.steps), plan.step_beats))
    reads = dict(zip((s.name for s in plan.steps), plan.step_reads))
    assert reads["dw1"] == 3 and beats["dw1"] == 4  # T = 1, 3 ports: 3 reads + 1
    assert reads["conv0"] == 1 and beats["conv0"] == 4 and beats["maxpool2"] == 1
    assert plan.step_beats == tuple(beat_cycles(t, r) for t, r in zip(plan.step_terms,
                                                                      plan.step_reads))
    # small memories keep a copy per port (the default budget): the DSP engine's reads
    roomy = plan_network(graph, ArrayShape(3, 2), pe="shiftadd")
    assert (roomy.in_copies, roomy.act_copies) == (dsp.in_copies, dsp.act_copies)
    assert roomy.step_beats == roomy.step_terms
    assert [beat_cycles(t, r) for t, r in ((4, 1), (1, 1), (4, 2), (1, 9), (4, 9), (6, 3))] \
        == [4, 1, 4, 10, 10, 6]
    assert [beat_cycles(t, r, k) for t, r, k in ((1, 9, 9), (1, 9, 2), (4, 9, 3), (1, 32, 4))] \
        == [1, 6, 4, 9]
    assert [memory_copies(9, bits, 1000) for bits in (100, 200, 999, 1000, 5000)] \
        == [9, 5, 1, 1, 1]
    assert memory_copies(32, 49 * 10 * 8) == 32 and 32 * 49 * 10 * 8 <= COPY_BITS


def test_term_codes_are_the_booth_digits():
    """term_code(w, t) = digit 3 - t as {valid, negative, shift}: the codes sum to w for all
    256 weights, one per non-zero digit, none past the 4 positions."""
    for w in range(-128, 128):
        total, terms = 0, 0
        for t in range(MAX_TERMS + 2):
            code = term_code(w, t)
            if code:
                k = MAX_TERMS - 1 - t
                assert code & 0b10000 and booth_digits(w)[k] != 0
                assert (code & 0b111) in (2 * k, 2 * k + 1)
                total += (-1 if code & 0b1000 else 1) << (code & 0b111)
                terms += 1
        assert total == w and terms == sum(1 for d in booth_digits(w) if d)
    # 85 = 0b1010101 = 64 + 16 + 4 + 1: digit 0 is +4^3 (code 1_0_110), digit 1 +4^2 (1_0_100)
    assert [term_code(85, t) for t in range(4)] == [0x16, 0x14, 0x12, 0x10]
    assert term_code(-128, 0) == 0x1F  # -2 * 4^3 = -2^7


def test_cycle_model_is_the_dsp_model_with_t_cycles_per_beat():
    graph = _network(5, ("dwconv", "add", "maxpool"), "dense")
    shape = ArrayShape(3, 2)
    dsp = plan_network(graph, shape)
    sa = plan_network(graph, shape, pe="shiftadd", copy_bits=0)
    t_dsp, t_sa = network_cycle_model(dsp), network_cycle_model(sa)
    p = graph.tensor(graph.input).shape[0] * graph.tensor(graph.input).shape[1]
    spans = [s.items + shape.rows + 9 for s in sa.steps]
    assert t_dsp.latency == p + 2 + sum(spans)
    assert t_sa.latency == p + 2 + sum(b * n for b, n in zip(sa.step_beats, spans))
    assert sa.step_reads[0] == 1  # a conv first layer on a 1-channel input: one port
    assert t_sa.first_interval == p + sa.step_beats[0] * (2 + sa.steps[0].items) + 1
    assert t_sa.interval == max(t_sa.first_interval, t_sa.latency + 1 - p)
    assert max(sa.step_terms) > 1 and t_sa.latency > t_dsp.latency
    one = _with_weights(graph, "conv0", _one_position)
    for layer in graph.layers:
        if hasattr(layer, "weight"):
            one = _with_weights(one, layer.name, _one_position)
    flat = plan_network(one, shape, pe="shiftadd", copy_bits=0)
    assert flat.step_terms == (1,) * len(flat.steps)
    # T = 1: a one-port step's beat is one cycle, as on the DSP engine; a multi-port one's not
    assert flat.step_beats == tuple(1 if r == 1 else r + 1 for r in flat.step_reads)
    assert any(r > 1 for r in flat.step_reads)
    spans = [s.items + shape.rows + 9 for s in flat.steps]
    assert network_cycle_model(flat).latency == p + 2 + sum(
        b * n for b, n in zip(flat.step_beats, spans))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.sampled_from(MIDDLE), max_size=3),
       st.sampled_from(("conv", "dense", "avgpool", "maxpool", "add")),
       st.integers(1, 5), st.integers(1, 5))
def test_emulation_of_the_shiftadd_plan_equals_the_reference(seed, middle, last, rows, cols):
    graph = _network(seed, tuple(middle), last)
    plan = plan_network(graph, ArrayShape(rows, cols), pe="shiftadd")
    x = random_input(graph, 2, seed)
    assert np.array_equal(emulate_network(plan, x), execute(graph, x))


def test_refuses_an_unknown_pe():
    with pytest.raises(SystolicError, match="unknown"):
        plan_network(_network(1, (), "dense"), ArrayShape(2, 2), pe="lut")


# -- the Verilog -----------------------------------------------------------------------------
def _code_without_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"@\(\*\)", "", text)  # always @(*): a sensitivity list
    return re.sub(r"\(\*[^()]*\*\)", "", text)  # synthesis attributes: (* rom_style = ... *)


def test_no_multiply_operator_in_the_shiftadd_verilog():
    graph = _network(8, ("dwconv", "add", "avgpool"), "dense")
    plan = plan_network(graph, ArrayShape(3, 2), pe="shiftadd")
    files = emit_network(plan)
    names = module_names()
    for module in ("array", "accum", "top"):
        code = _code_without_comments(files[f"rtl/{names[module]}.v"])
        assert "*" not in code, module
    dsp = emit_network(plan_network(graph, ArrayShape(3, 2)))
    assert "*" in _code_without_comments(dsp[f"rtl/{names['array']}.v"])  # the check bites


def test_yosys_maps_no_dsp(tmp_path):
    """conv -> depthwise -> maxpool -> dense on 3x2: 0 DSP48E1 in the whole design (the PEs
    and the lanes' 23-bit requantization multipliers are shift-add), term ROMs in block RAM."""
    graph = _network(8, ("dwconv", "maxpool"), "dense")
    shape = ArrayShape(3, 2)
    plan = plan_network(graph, shape, pe="shiftadd")
    assert plan.mult_width > 17 and max(plan.step_terms) > 1
    report = yosys_report(plan, tmp_path)
    assert report.total.dsps == 0
    assert report.modules[module_names()["array"]].brams >= shape.rows / 2


def yosys_report(plan, where: Path):
    """yosys on the plan's Verilog, written to ``where/rtl``."""
    from hlsgen.verify.estimate import run_yosys

    (where / "rtl").mkdir()
    for rel, text in emit_network(plan).items():
        (where / rel).write_text(text)
    return run_yosys(where / "rtl")


# -- simulation ------------------------------------------------------------------------------
def _simulate_exactly(where: Path, graph, shape: ArrayShape, frames: int = 3, seed: int = 0,
                      copy_bits: int = 0):
    """Simulate the shift-add project (``copy_bits = 0``: one copy of every memory, every
    multi-port step shares its read port)."""
    write = functools.partial(write_network_project, pe="shiftadd", copy_bits=copy_bits)
    return simulate_exactly(where, graph, shape, write, network_cycle_model, frames, seed)


def test_every_operation_with_one_and_four_terms_simulates_exactly(tmp_path):
    """Conv with T = 4, depthwise with T = 1 (one digit position), MaxPool, a residual Add (its
    branch conv: random T), AvgPool and Dense with T = 2 (positions 3 and 1: position 2
    not run) on 3x2 (3 frames, random gaps / back-pressure)."""
    graph = _network(21, ("dwconv", "maxpool", "add", "avgpool"), "dense")
    graph = _with_weights(_with_weights(graph, "conv0", _four_digits), "dw1", _one_position)
    graph = _with_weights(graph, graph.layers[-1].name, _positions_3_and_1)
    plan, result = _simulate_exactly(tmp_path / "ops", graph, ArrayShape(3, 2))
    terms = dict(zip((s.name for s in plan.steps), plan.step_terms))
    ops = {s.op for s in plan.steps}
    assert terms["conv0"] == 4 and terms["dw1"] == 1
    assert step_positions(plan.steps[-1]) == (3, 1) and plan.step_terms[-1] == 2
    assert {Op.MAC, Op.DW, Op.MAX, Op.SCALE} <= ops
    assert result.latency_cycles > network_cycle_model(plan_network(graph,
                                                                     ArrayShape(3, 2))).latency


def test_depthwise_first_layer_releases_the_input_after_its_last_port(tmp_path):
    """A depthwise first layer on a 1x4 input, T = 4, 3 ports (4 cycles a beat): port 2's
    address is 2 beats late and every port reads in the beat after I2, so the last read is 3
    beats after the last item leaves I1, while the next frame loads a word per cycle; the
    buffer is released only then (the cycle model's first interval includes the 3 beats)."""
    from hlsgen.systolic.nettiming import release_delay

    graph = _network(3672, ("conv",), "conv")
    plan, _ = _simulate_exactly(tmp_path / "dwfirst", graph, ArrayShape(3, 2))
    assert plan.steps[0].op is Op.DW and plan.graph_input.shape[:2] == (1, 4)
    assert release_delay(plan) == 3 and plan.step_terms[0] == 4 and plan.step_beats[0] == 4
    assert network_cycle_model(plan).first_interval == 4 + 4 * (6 + 2 + 3) + 1


def test_one_term_everywhere_on_one_row_simulates_exactly(tmp_path):
    """Every weight in -2 .. 1 (one digit position: T = 1 on every step) on a 1-row array: one-port steps take
    one cycle a beat, as on the DSP engine, multi-port ones (the depthwise) reads + 1."""
    graph = _network(4, ("dwconv", "add"), "dense")
    for layer in graph.layers:
        if hasattr(layer, "weight"):
            graph = _with_weights(graph, layer.name, _one_position)
    shape = ArrayShape(1, 3)
    plan, result = _simulate_exactly(tmp_path / "t1", graph, shape, frames=2)
    assert plan.step_terms == (1,) * len(plan.steps)
    assert plan.step_beats == tuple(beat_cycles(1, r) for r in plan.step_reads)
    assert result.latency_cycles == network_cycle_model(plan).latency


def test_two_copies_serve_three_ports_exactly(tmp_path):
    """Input buffer and activation memory in 2 copies, T = 1 (one digit position): a step reading
    2 ports reads them directly (1 cycle a beat), one reading 3 shares: copy 0 serves port 2
    in cycle 0 and port 0 in cycle 1, copy 1 port 1 in cycle 1 (3 cycles a beat)."""
    graph = _network(7, ("conv", "dwconv", "add"), "dense")
    for layer in graph.layers:
        if hasattr(layer, "weight"):
            graph = _with_weights(graph, layer.name, _one_position)
    shape = ArrayShape(3, 3)
    plan, result = _simulate_exactly(tmp_path / "k2", graph, shape, copy_bits=1_500)
    assert (plan.in_copies, plan.act_copies, plan.ports) == (2, 2, 3)
    assert plan.step_reads[:3] == (2, 3, 3) and plan.step_beats[:3] == (1, 3, 3)
    assert plan.step_beats == tuple(beat_cycles(1, r, 2) for r in plan.step_reads)


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.lists(st.sampled_from(MIDDLE), min_size=1, max_size=3),
       st.sampled_from(("conv", "dense", "avgpool")), st.integers(2, 4), st.integers(2, 4),
       st.sampled_from((0, 1_500, 4_000, COPY_BITS)))
def test_random_networks_simulate_exactly(tmp_path, seed, middle, last, rows, cols, copy_bits):
    """Random networks, memories in one copy, in a copy per port, or in between (copy k
    serving ports k, k + K, ...)."""
    graph = _network(seed, tuple(middle), last)
    _simulate_exactly(tmp_path / f"net{seed}", graph, ArrayShape(rows, cols), seed=seed,
                      copy_bits=copy_bits)


# -- the command line ------------------------------------------------------------------------
def test_generate_writes_the_shiftadd_project(tmp_path, capsys):
    from hlsgen.cli import main
    from hlsgen.commands.generate import DEFAULT_ARRAY
    from hlsgen.frontend import import_model

    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    out = tmp_path / "kws_sa"
    assert main(["generate", str(model), "-o", str(out), "--arch", "systolic", "--pe",
                 "shiftadd", "--count", "2"]) == 0
    cost = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())
    shape = ArrayShape.parse(DEFAULT_ARRAY["shiftadd"])
    plan = plan_network(import_model(model), shape, pe="shiftadd")
    assert (cost["array"], cost["latency_cycles"]) == (str(shape),
                                                       network_cycle_model(plan).latency)
    assert cost["pe"] == "shiftadd"
    assert "*" not in _code_without_comments((out / "rtl" / "hlsgen_sa_array.v").read_text())
    # --copy-kbits: the copies the plan keeps, and so the cycles (kws: its first layer reads
    # 32 taps of the input buffer, which keeps a copy per port by default)
    lean = tmp_path / "kws_sa_copies"
    assert main(["generate", str(model), "-o", str(lean), "--arch", "systolic", "--pe",
                 "shiftadd", "--count", "2", "--copy-kbits", "0"]) == 0
    lean_plan = plan_network(import_model(model), shape, pe="shiftadd", copy_bits=0)
    assert lean_plan.in_copies == 1 < plan.in_copies
    cost = json.loads((lean / "rtl" / "hlsgen_cost.json").read_text())
    assert cost["latency_cycles"] == network_cycle_model(lean_plan).latency > \
        network_cycle_model(plan).latency
    for bad, message in ((["--arch", "systolic", "--pe", "dsp8"], "--pe 'dsp8' is unknown"),
                         (["--pe", "shiftadd"], "applies to --arch systolic only"),
                         (["--arch", "systolic", "--pe", "shiftadd", "--array", "4by4"],
                          "is not ROWSxCOLS"),
                         (["--arch", "systolic", "--copy-kbits", "64"],
                          "--copy-kbits applies to --arch systolic --pe shiftadd only"),
                         (["--arch", "systolic", "--pe", "shiftadd", "--copy-kbits", "-1"],
                          "--copy-kbits -1 is out of range")):
        capsys.readouterr()
        assert main(["generate", str(model), "-o", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
