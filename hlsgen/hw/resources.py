"""The resource model: LUT/FF/DSP/BRAM of a hardware plan, predicted from structure (no
synthesis tool inside, fast enough for the genetic search).

Each module costs its datapath (counted by its datapath kind, :data:`hlsgen.hw.plan.KINDS`),
its front end (line buffer, FIFOs, counters: this module) and its output skid buffer; the top
adds forks, the TLAST counter and the input pacer.  Coefficients are calibrated against yosys
``synth_xilinx`` (YoWASP 0.70, 7-series, hierarchy kept); ``benchmarks/calibration.py`` measures
the ratios listed in docs/hardware.md.  Latency and interval come from the exact schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.design import DatapathKind
from hlsgen.hw.module import Front, ModulePlan, fixed_bank
from hlsgen.hw.plan import KINDS, HardwarePlan, plan_hardware
from hlsgen.hw.target import Target

__all__ = ["LayerCost", "CostReport", "estimate_design", "estimate_plan", "module_parts",
           "LUT_COEFFS"]

# LUTs per counted unit of the front ends (datapath coefficients live with each kind).
LUT_COEFFS = {
    "mux": 1.0,  # per LUT6 of the line buffer's row/bank/pad selection
    "lutram": 1.0,  # per LUT of distributed RAM
    "control": 1.0,  # counters and handshakes (per-front constants below)
}
_CONTROL_LUTS = {Front.PIXEL: 50, Front.WINDOW: 90, Front.FETCH: 110, Front.VECTOR: 10, Front.SUM: 10,
                 Front.PAIR: 60}
_PORT_LUTS = 17  # address adder and bank select of one line-buffer read port


@dataclass(frozen=True)
class LayerCost:
    """Predicted resources of one layer's module (front end, datapath, output slice)."""

    name: str  # IR layer name
    front: str
    luts: int
    ffs: int
    dsps: int
    brams: float  # RAMB36 equivalents
    stages: int
    latency_cycles: int  # first input beat to last output beat of this layer (frame 0)


@dataclass(frozen=True)
class CostReport:
    layers: tuple[LayerCost, ...]
    luts: int
    ffs: int
    dsps: int
    brams: float
    latency_cycles: int
    interval_cycles: int

    def layer(self, name: str) -> LayerCost:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


def estimate_design(design, target: Target | None = None) -> CostReport:
    """LUT/FF/DSP/BRAM and exact latency/interval of the Verilog for ``design``."""
    return estimate_plan(plan_hardware(design, target))


def estimate_plan(plan: HardwarePlan) -> CostReport:
    layers = []
    for m in plan.modules:
        luts, ffs, brams = _module_resources(plan, m)
        layers.append(LayerCost(m.name, m.front.value, luts, ffs, 0, brams, plan.stages(m),
                                plan.schedule.layer_latency[m.name]))
    luts = sum(x.luts for x in layers)
    ffs = sum(x.ffs for x in layers)
    for tensor in [plan.graph.input] + [m.layer.output for m in plan.modules]:
        readers = len(plan.consumers(tensor))
        if readers > 1:  # a fork: one 'taken' flag per reader
            luts += 2 * readers + 2
            ffs += readers
    luts += 8 + (24 if plan.schedule.paced else 0)  # TLAST counter, input pacer
    ffs += bit_width(0, _out_beats(plan)) + (2 * 16 if plan.schedule.paced else 0)
    return CostReport(tuple(layers), luts, ffs, 0, sum(x.brams for x in layers),
                      plan.schedule.latency_cycles, plan.schedule.interval_cycles)


def _out_beats(plan: HardwarePlan) -> int:
    h, w, _ = plan.graph.tensor(plan.graph.output).shape
    return h * w


def _module_resources(plan: HardwarePlan, m: ModulePlan) -> tuple[int, int, float]:
    parts = module_parts(plan, m).values()
    return (int(round(sum(p[0] for p in parts))), int(round(sum(p[1] for p in parts))),
            sum(p[2] for p in parts))


def module_parts(plan: HardwarePlan, m: ModulePlan) -> dict[str, tuple[float, float, float]]:
    """Where module ``m``'s resources go: {part: (LUTs, FFs, BRAM36)} -- the front end (its
    window register apart), the datapath (by part where its kind says,
    ``resource_parts``), its memories and the output skid buffer."""
    kind = KINDS[m.kind]
    split = getattr(kind, "resource_parts", None)
    if split is not None and isinstance(m.layer, (ir.Conv, ir.Dense)):
        parts = {k: (luts, ffs, 0.0) for k, (luts, ffs) in split(m, plan.per_stage(m)).items()}
    else:
        luts, ffs = kind.resources(m, plan.per_stage(m))
        parts = {"datapath": (luts, ffs, 0.0)}
    mem_luts = mem_brams = 0.0
    for depth, width, ports in getattr(kind, "memories", lambda m: [])(m):
        luts, brams = _memory(depth, width, ports)
        mem_luts += LUT_COEFFS["lutram"] * luts
        mem_brams += brams
    if mem_luts or mem_brams:
        parts["memories"] = (mem_luts, 0.0, mem_brams)
    front_luts, front_ffs, brams = _front_resources(plan, m)
    window = m.bus_bits if m.front is Front.FETCH else 0  # `win`, the fetched window
    parts["front"] = (front_luts, front_ffs - window, brams)
    if window:
        parts["front window"] = (0.0, window, 0.0)
    out_bits = 8 * m.output.shape[2]
    if m.kind is DatapathKind.PARALLEL:
        parts["skid"] = (out_bits + 4, 2 * out_bits + 2, 0.0)  # select; two registers
    else:  # hlsgen_skid_ram: two entries of distributed RAM, pointers and a count
        parts["skid"] = (LUT_COEFFS["lutram"] * _memory(2, out_bits)[0] + 6, 4, 0.0)
    return parts


# Memories deeper than this go to block RAM (yosys ``synth_xilinx`` maps a 225 x 96-bit line
# buffer bank to RAMB18s; up to 64 words it uses distributed RAM).
LUTRAM_MAX_DEPTH = 64


def _memory(depth: int, width: int, read_ports: int = 1) -> tuple[int, float]:
    """(LUTs, RAMB36 equivalents) of a memory with one write and ``read_ports`` read ports.

    Distributed RAM (7-series SLICEM): RAM32M = 32 x 6 bits, RAM64M = 64 x 3, one copy per
    read port.  Deeper: RAMB18 (512 x 36, simple dual port; a true-dual-port RAMB18 serves two
    read ports while the write uses port A's cycle), half a RAMB36 each.
    """
    if depth <= 32:
        return read_ports * 4 * -(-width // 6), 0.0
    if depth <= LUTRAM_MAX_DEPTH:
        return read_ports * 4 * -(-width // 3), 0.0
    ramb18 = -(-read_ports // 2) * -(-width // 36) * -(-depth // 512)
    return 0, ramb18 / 2


def _mux_luts(inputs: int) -> int:
    """LUT6s per bit of an ``inputs``:1 multiplexer (MUXF7/F8 combine four-input slices)."""
    return 0 if inputs <= 1 else -(-inputs // 4)


def _front_resources(plan: HardwarePlan, m: ModulePlan) -> tuple[float, float, float]:
    """(LUTs, FFs, BRAM36) of the front end, from the primitive's structure."""
    h, w, c = m.inputs[0].shape
    pw = 8 * c
    control = LUT_COEFFS["control"] * _CONTROL_LUTS[m.front]
    if m.front is Front.PIXEL:
        counter = bit_width(0, max(h, w, m.window.sh, m.window.sw) + 1)
        return control, pw + 1 + 6 * counter, 0.0
    if m.front is Front.VECTOR:
        return control, m.in_beats * pw + 1 + bit_width(0, m.in_beats), 0.0
    if m.front is Front.SUM:
        bits = c * m.sum_bits  # an adder and a clear-on-last-beat select per accumulator bit
        return control + 2 * bits, 2 * bits + 1 + bit_width(0, m.in_beats), 0.0
    if m.front is Front.PAIR:
        da, db = plan.schedule.fifo_depths[m.name]
        wa, wb = 8 * m.inputs[0].shape[2], 8 * m.inputs[1].shape[2]
        (la, ba), (lb, bb) = _memory(da, wa), _memory(db, wb)
        counters = 3 * (bit_width(0, da) + bit_width(0, db))
        return control + LUT_COEFFS["lutram"] * (la + lb), wa + wb + 1 + counters, ba + bb
    s = m.window
    rows = plan.schedule.rows[m.name]
    taps = s.kh * s.kw
    if m.front is Front.FETCH:  # one memory, one read port, a tap per cycle into `win`
        mem_luts, mem_brams = _memory(rows * w, pw)
        counters = 9 * 8 + 3 * bit_width(0, rows + h + s.kh + s.sh) + 3 * bit_width(0, rows * w)
        luts = control + LUT_COEFFS["lutram"] * mem_luts + pw + 3 * bit_width(0, rows * w)
        # `win` and the memory's read register `q` (yosys, VWW dw13: 10,306 FFs for a
        # 9 x 1,024-bit window and one 1,024-bit q)
        return luts, taps * pw + pw + counters + 4, mem_brams
    depth = rows * -(-w // s.kw)  # words per bank: every row slot
    bank_luts, bank_brams = _memory(depth, pw, read_ports=s.kh)  # a read port per row
    ram = LUT_COEFFS["lutram"] * s.kw * bank_luts
    select = 1 if fixed_bank(s) is not None else _mux_luts(s.kw + 1)  # banks + padding
    mux = LUT_COEFFS["mux"] * taps * pw * select
    ports = _PORT_LUTS * taps  # read address of every (row, bank) port
    counters = 6 * 8 + 3 * bit_width(0, rows + h + s.kh + s.sh)
    ffs = 2 * taps * pw + taps * bit_width(0, s.kw) + counters + s.kh + 4
    return control + ram + mux + ports, ffs, s.kw * bank_brams
