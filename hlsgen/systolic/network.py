"""The plan of a whole integer network on one shared R x C array: a sequence of steps.

Every IR layer becomes one :class:`Step`, run one after the other on the same hardware
(``docs/systolic.md``, "Whole network"):

- ``Op.MAC``: Conv (grouped: block-diagonal) and Dense on the array, as
  :func:`~hlsgen.systolic.plan.plan_layer` tiles them; the step keeps that plan.
- ``Op.MAX``: MaxPool on the accumulator lanes: per output pixel the running maximum of the
  raw values its taps read (a padded tap reads ``qmin``, which never changes the maximum).
- ``Op.SCALE``: Add and AvgPool on the lanes: ``acc = bias + sum_kt raw * scale[kt]``, with
  the zero points folded into ``bias``; Add's two "taps" read its two operands (multipliers
  ``mult_a`` / ``mult_b``), AvgPool's taps its window (scale 1).  Add's requantization has
  multiplier 1, so its lane only shifts (``Vmode.SHIFT``); MaxPool's writes the raw maximum.

All steps share one issue loop (``for ct: for kt: for pixel``), the input-buffer / activation
read ports and the lanes' write path.  Activations live in a channel-banked memory: bank ``b``
holds channels ``b*C .. b*C+C-1`` of every pixel, one word per pixel, so a step's column tile
``ct`` writes bank ``ct`` and a read of one address returns every channel of a pixel.
Tensors get addresses by first fit over their live ranges (a residual operand stays where it
is until its Add has read it); the graph input lives in the input buffer, the final output in
the output buffer.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.systolic.depthwise import depthwise_tables, is_depthwise
from hlsgen.systolic.plan import ArrayShape, SystolicError, SystolicPlan, Tap, plan_layer
from hlsgen.systolic.shiftadd import step_positions
from hlsgen.systolic.weights import RING_WORDS, WEIGHT_SOURCES, ring_depth

__all__ = ["Op", "Vmode", "Step", "NetworkPlan", "plan_network", "beat_cycles",
           "memory_copies", "COPY_BITS", "PE_KINDS"]

PE_KINDS = ("dsp", "shiftadd")  # one int8 DSP multiply per PE / digit-serial shift-add PEs
COPY_BITS = 144 * 1024  # shift-add: bits a memory's copies may take (4 RAMB36)


class Op(enum.Enum):
    """What the lanes add up per item."""

    MAC = "mac"  # the array's column sums (Conv, Dense)
    DW = "dw"  # the array's column sums, every PE its own channel (depthwise Conv)
    MAX = "max"  # running maximum of raw values (MaxPool)
    SCALE = "scale"  # raw value * a per-channel, per-tap constant (Add, AvgPool)


class Vmode(enum.Enum):
    """How a lane turns its final sum into the 8-bit output."""

    MULT = "mult"  # v = acc * multiplier, then round, zero point, clamp
    SHIFT = "shift"  # v = acc (the IR's multiplier is 1), then round, zero point, clamp
    RAW = "raw"  # the sum itself (a maximum of 8-bit values)


@dataclass(frozen=True, eq=False)
class Step:
    """One layer on the shared hardware.  Lane tables are per column tile ``ct`` and lane
    ``c`` (output channel ``ct*C + c``; 0 / shift 1 past the layer's channels)."""

    name: str
    kind: ir.LayerKind
    op: Op
    vmode: Vmode
    input: ir.Tensor  # the tensor its read ports address (Add: operand a)
    output: ir.Tensor
    window: ir.Window
    n_ct: int
    n_kt: int
    pixels: int
    port_taps: tuple[tuple[Tap | None, ...], ...]  # per local k-tile, one entry per port
    plan: SystolicPlan | None  # Op.MAC: the layer's tiling, weights and lane tables
    lane_bias: tuple[tuple[int, ...], ...]
    lane_mult: tuple[tuple[int, ...], ...]
    lane_shift: tuple[tuple[int, ...], ...]
    lane_scale: tuple[tuple[tuple[int, ...], ...], ...]  # [kt][ct][c]: Op.SCALE only
    requant: ir.Requant | None  # None for MaxPool
    pad_value: int  # what a padded tap reads (Conv: the input zero point; MaxPool: qmin)
    acc_bound: int  # |every partial sum| <= this
    macs: int
    kt_base: int = 0  # global k-tile, column-tile and weight-tile indices of its first tile
    ct_base: int = 0
    tile_base: int = 0
    in_base: int = 0  # address of its input (the input buffer's 0 for the graph input)
    out_base: int = 0  # address of its output in the activation memory
    reads_input: bool = False
    to_output: bool = False
    input_b: ir.Tensor | None = None  # Add: operand b, read by the second tap
    weight_words: tuple = ()  # Op.DW: [row][tile] -> C weights (Op.MAC: plan.weight_words)

    @property
    def words(self) -> tuple:
        return self.plan.weight_words if self.plan is not None else self.weight_words

    @property
    def items(self) -> int:
        return self.n_ct * self.n_kt * self.pixels

    @property
    def half_even(self) -> bool:
        return self.requant is not None and self.requant.rounding is ir.Rounding.HALF_EVEN


@dataclass(frozen=True, eq=False)
class NetworkPlan:
    """Every step, the memories and the exact widths of the shared datapath."""

    name: str
    shape: ArrayShape
    graph_input: ir.Tensor
    graph_output: ir.Tensor
    steps: tuple[Step, ...]
    ports: int  # read ports of the front end
    in_copies: int  # input-buffer copies (dsp: ports of the steps reading the graph input)
    act_copies: int  # activation-memory copies (dsp: ports of the other steps)
    banks: int  # channel banks of the activation memory (and of a read word)
    bank_depth: tuple[int, ...]  # words per bank
    acc_width: int
    racc_width: int  # the accumulator bits a Vmode.MULT lane multiplies
    mult_width: int
    scale_width: int
    prod_width: int  # v, the value a lane rounds
    pe: str = "dsp"  # PE_KINDS
    step_terms: tuple[int, ...] = ()  # T per step: its Booth digit positions (dsp: all 1)
    step_positions: tuple[tuple[int, ...], ...] = ()  # shiftadd: Booth positions it runs
    step_reads: tuple[int, ...] = ()  # read ports each step uses
    step_beats: tuple[int, ...] = ()  # cycles per array beat (dsp: all 1; shiftadd: B_l)
    # shiftadd: runs of depthwise ports one read serves (the network's one layout), and the
    # steps that read that way (``step_reads`` = the runs); see depthwise.shared_groups
    share_groups: tuple[tuple[int, ...], ...] = ()
    step_shared: tuple[bool, ...] = ()
    lane_split: bool = False  # shiftadd: the lanes multiply over two cycles of a beat
    weight_source: str = "rom"  # WEIGHT_SOURCES: block-RAM ROMs, or streamed (shiftadd only)
    ring_depth: int = 0  # "stream": words of each row's ring buffer (tiles in flight at most)

    @property
    def layers(self) -> int:
        return len(self.steps)

    @property
    def kt_total(self) -> int:
        return sum(s.n_kt for s in self.steps)

    @property
    def ct_total(self) -> int:
        return sum(s.n_ct for s in self.steps)

    @property
    def tiles(self) -> int:
        """Weight tiles of every MAC step (each row's weight memory depth)."""
        return max(1, sum(s.n_ct * s.n_kt for s in self.steps if s.op in (Op.MAC, Op.DW)))

    @property
    def max_pixels(self) -> int:
        return max(s.pixels for s in self.steps)

    @property
    def macs(self) -> int:
        return sum(s.macs for s in self.steps if s.op in (Op.MAC, Op.DW))

    @property
    def has_depthwise(self) -> bool:
        return any(s.op is Op.DW for s in self.steps)


def plan_network(graph: ir.Graph, shape: ArrayShape, depthwise: bool = True,
                 pe: str = "dsp", copy_bits: int = COPY_BITS, weights: str = "rom",
                 ring_words: int = RING_WORDS, share_reads: bool = True,
                 split_lanes: bool = False) -> NetworkPlan:
    """Every layer of ``graph`` as a step on an array of ``shape``, memories allocated.
    ``depthwise``: run depthwise Convs channel-parallel (else block-diagonal, 1/groups);
    ``pe``: ``"dsp"`` (one multiply per PE) or ``"shiftadd"`` (one Booth digit per PE and cycle,
    ``B >= T`` cycles per beat, :mod:`hlsgen.systolic.shiftadd`); ``copy_bits``: shift-add
    only, the bits each memory's copies may take (:func:`memory_copies`); ``share_reads``:
    shift-add only, one read serves a run of depthwise ports where it can (fewer cycles, a
    few hundred LUTs more: :func:`_shared_reads`); ``split_lanes``: shift-add only, each lane
    multiplies in two cycles of a beat with half the adders (every step that multiplies then
    takes at least 2 cycles a beat); ``weights``: ``"rom"`` (block-RAM ROMs) or ``"stream"``
    (shift-add only: from the ``w_stream`` port into per-row ring buffers of ``ring_words``
    words, :mod:`hlsgen.systolic.weights`)."""
    if pe not in PE_KINDS:
        raise SystolicError(f"PE kind '{pe}' is unknown; use one of {', '.join(PE_KINDS)}")
    _check_weight_source(graph, pe, weights, ring_words)
    _check_graph(graph)
    steps = [_step(graph, layer, shape, depthwise) for layer in graph.layers]
    ports = max(len(s.port_taps[0]) for s in steps)
    steps = [_with_ports(s, ports) for s in steps]
    bases, depth = _allocate(graph, shape.cols)
    kt = ct = tile = 0
    placed = []
    for index, (layer, step) in enumerate(zip(graph.layers, steps)):
        last = index == len(steps) - 1
        a = layer.inputs[0]
        step = replace(step, kt_base=kt, ct_base=ct, tile_base=tile,
                        reads_input=a == graph.input, in_base=bases.get(a, 0),
                        to_output=last, out_base=0 if last else bases[layer.output])
        if isinstance(layer, ir.Add):  # operand b: the second tap's offset from operand a
            off = bases[layer.input_b] - bases[a]
            step = replace(step, port_taps=(step.port_taps[0], (Tap(0, 0, off),)
                                             + step.port_taps[1][1:]))
        placed.append(step)
        kt, ct = kt + step.n_kt, ct + step.n_ct
        tile += step.n_ct * step.n_kt if step.op in (Op.MAC, Op.DW) else 0
    reads = tuple(_used_ports(s) for s in placed)
    in_ports = [r for s, r in zip(placed, reads) if s.reads_input]
    act_ports = [r for s, r in zip(placed, reads) if not s.reads_input]
    positions = tuple(step_positions(s) if pe == "shiftadd" else () for s in placed)
    terms = tuple(max(1, len(k)) if pe == "shiftadd" else 1 for k in positions)
    cols = shape.cols
    banks = max(math.ceil(t.shape[2] / cols) for t in graph.tensors.values())
    in_copies, act_copies = max(in_ports), max(act_ports + [1])
    beats = (1,) * len(placed)
    groups, shared = (), (False,) * len(placed)
    if pe == "shiftadd":  # few copies of a big memory, its read ports shared over a beat
        h, w, c = graph.tensor(graph.input).shape
        in_copies = memory_copies(in_copies, h * w * 8 * c, copy_bits)
        act_bits = sum(depth[:banks]) * 8 * cols
        act_copies = memory_copies(act_copies, act_bits, copy_bits)
        if share_reads:
            groups, shared = _shared_reads(placed, ports, act_copies)
        reads = tuple(len(groups) if sh else r for sh, r in zip(shared, reads))
        beats = tuple(beat_cycles(t, r, in_copies if st.reads_input else act_copies)
                      for st, t, r in zip(placed, terms, reads))
        if split_lanes:  # the lanes' multiply takes a beat's first and last cycles
            beats = tuple(max(b, 2) if st.vmode is Vmode.MULT else b
                          for st, b in zip(placed, beats))
    acc = max(s.acc_bound for s in placed)
    racc = max([s.acc_bound for s in placed if s.vmode is Vmode.MULT] + [1])
    mult = max([int(m) for s in placed for row in s.lane_mult for m in row] + [1])
    scale = max([int(v) for s in placed for kt in s.lane_scale for row in kt for v in row]
                + [1])
    prod = max([racc * mult] + [s.acc_bound for s in placed if s.vmode is not Vmode.MULT])
    return NetworkPlan(
        name=graph.name, shape=shape, graph_input=graph.tensor(graph.input),
        graph_output=graph.tensor(graph.output), steps=tuple(placed), ports=ports,
        in_copies=in_copies, act_copies=act_copies, banks=banks,
        bank_depth=tuple(max(1, d) for d in (depth + [0] * banks)[:banks]),
        acc_width=bit_width(-acc, acc), racc_width=bit_width(-racc, racc),
        mult_width=max(mult.bit_length(), 1), scale_width=max(scale.bit_length(), 1),
        prod_width=max(bit_width(-prod, prod), 10), pe=pe,
        step_terms=terms, step_positions=positions, step_reads=reads, step_beats=beats,
        share_groups=groups, step_shared=shared, lane_split=pe == "shiftadd" and split_lanes,
        weight_source=weights,
        ring_depth=ring_depth(max(1, tile), ring_words) if weights == "stream" else 0)


def _shared_reads(steps: list[Step], ports: int, copies: int
                  ) -> tuple[tuple[tuple[int, ...], ...], tuple[bool, ...]]:
    """The network's one layout of shared depthwise reads (the first depthwise step's runs
    that merge any ports) and the depthwise steps of the activation memory it serves with
    fewer reads than their ports, when that is more reads than the memory has copies (with a
    copy per run every port reads its own copy anyway)."""
    from hlsgen.systolic.depthwise import groups_fit, shared_groups

    candidates = [s for s in steps if s.op is Op.DW and not s.reads_input]
    layout: tuple[tuple[int, ...], ...] = ()
    for step in candidates:
        groups = shared_groups(step, ports)
        if len(groups) < _used_ports(step):
            layout = groups
            break
    if not layout or len(layout) <= copies:
        return (), (False,) * len(steps)
    shared = tuple(s in candidates and len(layout) < _used_ports(s)
                   and groups_fit(s, layout, ports) for s in steps)
    if not any(shared):
        return (), (False,) * len(steps)
    used = max(_used_ports(s) for s, sh in zip(steps, shared) if sh)
    layout = tuple(g for g in (tuple(p for p in group if p < used) for group in layout) if g)
    return layout, shared


def memory_copies(ports: int, bits: int, copy_bits: int = COPY_BITS) -> int:
    """Copies of a memory of ``bits`` read by up to ``ports`` ports at once (shift-add engine):
    one per port while all of them fit ``copy_bits`` (small memories: LUT RAM or a few block
    RAMs), else as many as fit, at least one."""
    return max(1, min(ports, copy_bits // max(bits, 1)))


def beat_cycles(terms: int, reads: int, copies: int = 1) -> int:
    """Cycles per beat of a shift-add step with ``terms`` digit positions reading ``reads``
    ports of a memory kept in ``copies`` copies.  With a copy per port every port reads at the
    beat's last cycle, as the DSP engine does (``T`` cycles).  Else, in the beat after I2, copy
    ``k`` reads ports ``k + K, k + 2K, ...`` in cycles ``0, 1, ...`` (each held from the next
    cycle) and port ``k`` itself in the beat's last cycle but one, so the consumer takes it
    from the copy's read register (``docs/systolic-shiftadd.md``, "Memory copies and shared
    read ports")."""
    if reads <= copies:
        return terms
    return max(terms, -(-reads // copies) + 1)


# -- checks ----------------------------------------------------------------------------------
def _check_graph(graph: ir.Graph) -> None:
    if not graph.layers or graph.layers[-1].output != graph.output:
        raise SystolicError(f"graph '{graph.name}': its last layer must produce its output "
                            f"'{graph.output}' (the output buffer is written by the last step)")
    readers = [layer.name for layer in graph.layers if graph.input in layer.inputs]
    if readers != [graph.layers[0].name] or len(set(graph.layers[0].inputs)) != 1:
        raise SystolicError(f"graph '{graph.name}': the input '{graph.input}' is read by "
                            f"{readers}; the sequencer lets only the first layer read the "
                            "input buffer (keep the input out of residual branches)")
    for layer in graph.layers:
        if isinstance(layer, ir.Add) and (min(layer.mult_a.min(), layer.mult_b.min()) < 0
                                          or not np.all(layer.requant.multiplier == 1)):
            raise SystolicError(f"Add '{layer.name}': requantization multiplier is not 1 or an "
                                "operand multiplier is negative; the lanes scale the operands "
                                "with unsigned mult_a / mult_b and only shift the sum")


def _check_weight_source(graph: ir.Graph, pe: str, weights: str, ring_words: int) -> None:
    if weights not in WEIGHT_SOURCES:
        raise SystolicError(f"weight source '{weights}' is unknown; use one of "
                            f"{', '.join(WEIGHT_SOURCES)}")
    if weights != "stream":
        return
    if pe != "shiftadd":
        raise SystolicError("streamed weights need the shift-add engine (pe='shiftadd'); the "
                            "DSP baseline keeps its weights in ROMs")
    if ring_words < 1:
        raise SystolicError(f"ring buffer of {ring_words} words: it needs at least 1")
    if not any(isinstance(layer, (ir.Conv, ir.Dense)) for layer in graph.layers):
        raise SystolicError(f"graph '{graph.name}' has no Conv or Dense layer: there are no "
                            "weights to stream; use weights='rom'")


# -- steps -----------------------------------------------------------------------------------
def _step(graph: ir.Graph, layer: ir.Layer, shape: ArrayShape, depthwise: bool) -> Step:
    cols = shape.cols
    src, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    channels = out.shape[2]
    n_ct = math.ceil(channels / cols)

    def lanes(values, fill=0):
        flat = [int(v) for v in values] + [fill] * (n_ct * cols - channels)
        return tuple(tuple(flat[ct * cols:(ct + 1) * cols]) for ct in range(n_ct))

    if depthwise and is_depthwise(layer, src.shape[2]):
        t = depthwise_tables(layer, src, shape)
        win = t["window"]
        return Step(layer.name, layer.kind, Op.DW, Vmode.MULT, src, out, win, t["n_ct"],
                    t["n_kt"], win.ho * win.wo, t["port_taps"], None, lanes(t["bias"]),
                    lanes(t["mult"]), lanes(t["shift"], fill=1), (), layer.requant,
                    src.zero_point, t["acc_bound"], t["macs"], weight_words=t["weight_words"])
    if isinstance(layer, (ir.Conv, ir.Dense)):
        single = ir.Graph(name=layer.name, input=src.name, output=out.name,
                          tensors={src.name: src, out.name: out}, layers=(layer,),
                          input_permutation=np.arange(src.size), output_source=out.name)
        plan = plan_layer(single, shape)
        acc = (1 << (plan.acc_width - 1)) - 1
        return Step(layer.name, layer.kind, Op.MAC, Vmode.MULT, src, out, plan.window,
                    plan.n_ct, plan.n_kt, plan.pixels, plan.port_taps, plan,
                    plan.lane_bias, plan.lane_mult, plan.lane_shift, (), plan.requant,
                    plan.pad_value, acc, plan.macs)
    if isinstance(layer, ir.Add):
        window = ir.Window(*src.shape[:2], 1, 1)
        b = graph.tensor(layer.input_b)
        ma, mb = (np.asarray(m, np.int64) for m in (layer.mult_a, layer.mult_b))
        bias = -(src.zero_point * ma + b.zero_point * mb)
        acc = int((np.abs(ma) * _xmax(src) + np.abs(mb) * _xmax(b) + np.abs(bias)).max())
        shift = np.minimum(np.asarray(layer.requant.shift, np.int64), bit_width(-acc, acc))
        return Step(layer.name, layer.kind, Op.SCALE, Vmode.SHIFT, src, out, window, n_ct, 2,
                    window.ho * window.wo, ((Tap(0, 0, 0),), (Tap(0, 0, 0),)), None,
                    lanes(bias), lanes(layer.requant.multiplier), lanes(shift, fill=1),
                    (lanes(ma), lanes(mb)), layer.requant, 0, acc, 0, input_b=b)
    window = ir.window(layer, src.shape)
    taps = tuple((Tap(kh, kw, kh * window.w + kw),)
                 for kh in range(window.kh) for kw in range(window.kw))
    if isinstance(layer, ir.MaxPool):
        return Step(layer.name, layer.kind, Op.MAX, Vmode.RAW, src, out, window, n_ct,
                    window.taps, window.ho * window.wo, taps, None, lanes([0] * channels),
                    lanes([0] * channels), lanes([1] * channels, fill=1), (), None,
                    src.dtype.qmin, 255, 0)
    rq = layer.requant  # AvgPool: sum of (x - zp) over the window, then requantize
    bias = [-src.zero_point * window.taps] * channels
    acc = window.taps * _xmax(src) + abs(bias[0])
    mult = np.asarray(rq.multiplier, np.int64)
    prod = acc * int(mult.max())
    shift = np.minimum(np.asarray(rq.shift, np.int64), bit_width(-prod, prod))
    ones = lanes([1] * channels)
    return Step(layer.name, layer.kind, Op.SCALE, Vmode.MULT, src, out, window, n_ct,
                window.taps, window.ho * window.wo, taps, None, lanes(bias), lanes(mult),
                lanes(shift, fill=1), (ones,) * window.taps, rq, 0, acc, 0)


def _xmax(tensor: ir.Tensor) -> int:
    return max(abs(tensor.dtype.qmin), abs(tensor.dtype.qmax))


def _with_ports(step: Step, ports: int) -> Step:
    taps = tuple(t + (None,) * (ports - len(t)) for t in step.port_taps)
    return replace(step, port_taps=taps)


def _used_ports(step: Step) -> int:
    return max(p + 1 for kt in step.port_taps for p, t in enumerate(kt) if t is not None)


# -- memory ----------------------------------------------------------------------------------
def _allocate(graph: ir.Graph, cols: int) -> tuple[dict[str, int], list[int]]:
    """First-fit addresses for every tensor but the graph's input and output; words per bank.

    A tensor occupies banks ``0 .. ceil(C / cols) - 1`` at ``[base, base + H*W)`` from the
    step that writes it to the last step that reads it; two tensors may share addresses in
    a bank only if their live ranges do not overlap.
    """
    last_read: dict[str, int] = {}
    for index, layer in enumerate(graph.layers):
        for name in layer.inputs:
            last_read[name] = index
    placed: list[tuple[int, int, int, int]] = []  # base, end, born, dies
    bases: dict[str, int] = {}
    depth: list[int] = []
    for index, layer in enumerate(graph.layers[:-1]):
        tensor = graph.tensor(layer.output)
        if layer.output not in last_read:
            raise SystolicError(f"layer '{layer.name}': its output '{layer.output}' is never "
                                "read; remove dead layers before planning the array")
        h, w, c = tensor.shape
        size, banks, dies = h * w, math.ceil(c / cols), last_read[layer.output]
        base, clash = 0, True
        while clash:  # first fit: move past every live tensor it overlaps
            clash = False
            for o_base, o_end, born, o_dies in placed:
                if born <= dies and index <= o_dies and base < o_end and o_base < base + size:
                    base, clash = o_end, True
        placed.append((base, base + size, index, dies))
        bases[layer.output] = base
        depth += [0] * (banks - len(depth))
        for b in range(banks):
            depth[b] = max(depth[b], base + size)
    return bases, depth

