"""Verilog-2005 for a design: one file per IR layer (the layer module and its datapath
module, or one datapath module per pipeline stage for large layers), the ``<name>_top``
wrapper, primitives (every module named after the core, :class:`hlsgen.emit.common.CoreName`).

:func:`emit_rtl` returns ``{path relative to the project: text}`` for ``rtl/``; it renders the
:class:`hlsgen.hw.plan.HardwarePlan` (the same plan the cost model times and sizes), so every
width, pipeline register, line-buffer row count and FIFO depth comes from one place.  Shift-add
graphs and requantizations become straight-line ``assign`` statements of exact widths, with a
register stage every N adder levels; no ``*`` appears on data anywhere.  This module prepares
names and operand lists; the HDL text lives in ``templates/rtl`` (hand-written primitives in
``templates/rtl/primitives``, renamed by :mod:`hlsgen.emit.primitives`).
:func:`testbench_files` returns the cocotb testbench and runner every generated project
carries in ``tb/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import hlsgen
from hlsgen.design import DatapathKind
from hlsgen.hw.module import Front, ModulePlan
from hlsgen.hw.netlist import Node, Op
from hlsgen.hw.plan import HardwarePlan, plan_hardware
from hlsgen.decompose.graph import bit_width
from hlsgen.hw.target import Target
from hlsgen.emit.common import CoreName, identifier, template_env, templates_dir
from hlsgen.emit.cost_file import cost_json, module_name
from hlsgen.emit.primitives import PRIMITIVES, primitive_files
from hlsgen.emit.rtl_channels import channels_context
from hlsgen.emit.rtl_front import PRIMITIVE, clog2, front_params
from hlsgen.emit.rtl_multiplexed import multiplexed_context
from hlsgen.emit.rtl_serial import serial_context

__all__ = ["emit_rtl", "render_rtl", "testbench_files", "module_name", "PRIMITIVES"]

_TESTBENCH = ("test_hlsgen_top.py", "run_sim.py")
# A layer with more adders than this gets one datapath module per pipeline stage: the
# WebAssembly yosys (4 GB) lost ABC on a 33 K-adder layer (resnet8_int8 exact, conv10) as one
# module and maps a 17 K-adder one; below it one module keeps cross-stage optimisation.
STAGE_MODULES_ABOVE = 12_000


def emit_rtl(design, options=None, core: CoreName | None = None) -> dict[str, str]:
    """``rtl/`` files of a :class:`hlsgen.design.Design` (options: ``Target`` or None; core:
    the name every module starts with, default ``hlsgen``)."""
    return render_rtl(plan_hardware(design, options), part=(options or Target()).part,
                      core=core)


def render_rtl(plan: HardwarePlan, split_above: int | None = None,
               part: str | None = None, core: CoreName | None = None) -> dict[str, str]:
    """``rtl/`` files of a hardware plan; layers with more than ``split_above`` adders
    (default :data:`STAGE_MODULES_ABOVE`) get one datapath module per pipeline stage.  Every
    file holds one module named like the file (a layer's file: also its datapath modules)."""
    split_above = STAGE_MODULES_ABOVE if split_above is None else split_above
    core = core or CoreName()
    env = template_env("rtl")
    env.filters["lit"] = verilog_literal
    files: dict[str, str] = {}
    version = hlsgen.__version__
    modules = [_folded_module_context(plan, m, core) if m.kind is not DatapathKind.PARALLEL
               else _module_context(plan, m, split_above, core) for m in plan.modules]
    for context in modules:
        template = ("layer_multiplexed.v.j2" if context.get("multiplexed") else
                    "layer_channels.v.j2" if context.get("channels_serial") else
                    "layer_serial.v.j2" if context.get("digit") else "layer.v.j2")
        text = env.get_template(template).render(version=version, **context)
        files[f"rtl/{context['ident']}.v"] = text
    files[f"rtl/{core.top}.v"] = env.get_template("top.v.j2").render(
        version=version, **_top_context(plan, modules, core))
    files.update(primitive_files(core))
    datapath = {c["ident"]: [part.ident for part in c["parts"]] for c in modules}
    files["rtl/hlsgen_cost.json"] = cost_json(plan, datapath, part, core)
    return files


def testbench_files() -> dict[str, str]:
    """``tb/test_hlsgen_top.py`` (cocotb testbench) and ``tb/run_sim.py`` (its runner)."""
    root = _testbench_dir()
    return {f"tb/{name}": (root / name).read_text() for name in _TESTBENCH}


def _testbench_dir():
    package = templates_dir().parent
    for candidate in (package / "testbench", package / "hlsgen" / "testbench"):
        if (candidate / _TESTBENCH[0]).is_file():
            return candidate
    raise FileNotFoundError(f"hlsgen testbench sources not found beside {package}")


def verilog_literal(value: int, width: int) -> str:
    """``value`` modulo ``2**width`` as a signed sized literal: exact under wrap-around."""
    value = int(value) % (1 << width)
    return f"$signed({width}'h{value:x})"


# -- one layer module ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Term:
    src: str
    shift: int
    negate: bool
    node: int  # the netlist node ``src`` holds (or a register copy of)


@dataclass(frozen=True)
class _Wire:
    """A datapath value as the template declares it (``kind`` = :class:`Op` value)."""

    kind: str
    name: str
    width: int
    terms: tuple[_Term, ...] = ()
    const: int = 0
    hi_bit: int = 0  # INPUT: field bits in the stage-0 bus; CLAMP (right shift): source bits
    lo_bit: int = 0
    signed: bool = True
    lshift: int = 0  # CLAMP: left shift of the source (when the net shift is negative)
    qwidth: int = 0  # CLAMP: working width of the shifted value
    lo: int | None = None  # CLAMP: bound to test (None: the range already respects it)
    hi: int | None = None
    clamp_lo: int = 0
    clamp_hi: int = 0
    even_parity: int | None = None  # CLAMP: ties to even (zero point parity), None: half up
    tie_msb: int | None = None  # CLAMP, ties to even: top source bit a tie needs zero (None:
    # nothing is shifted out, every value is a tie)
    node: int = 0  # the netlist node

    @property
    def msb(self) -> int:
        return self.width - 1

    @property
    def qmsb(self) -> int:
        return self.qwidth - 1


@dataclass(frozen=True)
class _Reg:
    name: str
    width: int
    src: str
    stage: int
    node: int  # the netlist node it holds a copy of

    @property
    def msb(self) -> int:
        return self.width - 1


def _module_context(plan: HardwarePlan, m: ModulePlan, split_above: int,
                    core: CoreName, dp=None, bus_bits: int | None = None) -> dict:
    """A parallel layer (or, with ``dp`` and ``bus_bits``, the lane of a channel-serial one)."""
    dp = dp or m.datapath
    per_stage = plan.per_stage(m)
    stages = plan.stages(m)
    copies = dp.register_stages(per_stage)
    home = [dp.home_stage(n, per_stage) for n in range(len(dp.nodes))]

    def ref(n: int, stage: int) -> str:
        return f"n{n}" if stage == home[n] else f"n{n}_s{stage}"

    wires: list[_Wire] = []
    regs: list[_Reg] = []
    for n, node in enumerate(dp.nodes):
        if not dp.live[n] or node.op is Op.CONST:
            continue
        wires.append(_wire(n, dp, lambda k: ref(k, home[n])))
        width = _storage_width(node)
        for s in copies[n]:
            regs.append(_Reg(f"n{n}_s{s}", width, ref(n, s - 1), s, n))
    outputs = []
    out_refs = set()  # values the layer's output bus reads
    for n in dp.outputs:
        node = dp.nodes[n]
        if node.op is Op.CONST:
            outputs.append(f"8'h{node.const % 256:02x}")
        else:
            out_refs.add(ref(n, stages))
            outputs.append(f"{ref(n, stages)}[7:0]")
    ins = m.inputs
    ident = module_name(m, core)
    adders = sum(w.kind == "add" for w in wires)
    parts = _datapath_modules(ident, wires, regs, out_refs, home, bus_bits or m.bus_bits,
                              split=stages > 1 and adders > split_above)
    return dict(
        ident=ident, name=m.name, source=m.layer.source, kind=m.layer.kind.value,
        front=m.front.value, primitive=PRIMITIVE[m.front],
        front_module=core.primitive(PRIMITIVE[m.front].base), skid=core.primitive("skid"),
        params=front_params(plan, m),
        stages=stages,
        valid_shift="v0" if stages == 1 else f"{{v[{stages - 1}:1], v0}}",
        in_msbs=[8 * t.shape[2] - 1 for t in ins], out_bits=8 * m.output.shape[2],
        out_msb=8 * m.output.shape[2] - 1, bus_msb=m.bus_bits - 1, parts=parts,
        outputs=list(reversed(outputs)), levels=dp.levels, per_stage=per_stage,
        in_shapes=[t.shape for t in ins], out_shape=m.output.shape)


def _folded_module_context(plan: HardwarePlan, m: ModulePlan, core: CoreName) -> dict:
    """A serial or multiplexed layer: its kind's context plus names and front end."""
    if m.front in (Front.PAIR, Front.SUM):
        return channels_context(m, lambda **kw: _module_context(plan, m, STAGE_MODULES_ABOVE,
                                                                core, **kw))
    if m.kind is DatapathKind.MULTIPLEXED:
        context = multiplexed_context(plan, m, _wire, verilog_literal)
    else:
        context = serial_context(plan, m, _wire, PRIMITIVE[m.front], front_params(plan, m))
    return dict(context, ident=module_name(m, core), primitive=PRIMITIVE[m.front],
                params=front_params(plan, m), parts=[],
                front_module=core.primitive(PRIMITIVE[m.front].base),
                skid=core.primitive("skid_ram"))  # a wide, slow output: its slice in LUTRAM


@dataclass(frozen=True)
class _Port:
    name: str
    width: int
    signed: bool
    register: bool = False  # an output driven by one of the module's registers
    order: tuple[int, ...] = ()  # input ports: d0 first, then register copies by node, stage

    @property
    def msb(self) -> int:
        return self.width - 1


@dataclass(frozen=True)
class _StageModule:
    """A layer's datapath, or (large layers) the adder levels of one pipeline stage and the
    registers that carry their results (every delayed copy of them).  Synthesis tools map
    each module on its own -- ABC's memory grows with the module -- and a register stays
    beside the logic that drives it, so its constant bits are still pruned."""

    ident: str
    stage: int | None  # None: the whole datapath
    wires: tuple[_Wire, ...]
    regs: tuple[_Reg, ...]
    inputs: tuple[_Port, ...]
    outputs: tuple[_Port, ...]

    @property
    def out_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.outputs)


def _datapath_modules(ident: str, wires: list[_Wire], regs: list[_Reg], out_refs: set[str],
                      home: list[int], bus_bits: int, split: bool) -> list[_StageModule]:
    """The layer's wires and registers as one datapath module (``<ident>_dp``) or, with
    ``split``, one per stage (``<ident>_dp<S>``; a wire sits in its home stage, a register
    copy of node K with node K).  ``out_refs``: the values the layer's output bus reads."""
    def part(node: int) -> int | None:
        return home[node] if split else None

    reg_of = {r.name: r for r in regs}
    by_stage: dict[int | None, list[_Wire]] = {}
    for w in wires:
        by_stage.setdefault(part(w.node), []).append(w)
    regs_of: dict[int | None, list[_Reg]] = {}
    for r in regs:
        regs_of.setdefault(part(r.node), []).append(r)
    # Values read outside their module: wire operands (register copies, across stages) and
    # the layer's outputs.
    read_outside = {t.src for w in wires for t in w.terms if part(t.node) != part(w.node)}
    read_outside |= out_refs
    modules = []
    for stage in sorted(by_stage, key=lambda k: k or 0):
        group, own_regs = by_stage[stage], regs_of.get(stage, [])
        defined = {w.name for w in group} | {r.name for r in own_regs}
        inputs: dict[str, _Port] = {}
        for w in group:
            if w.kind == "input":
                inputs["d0"] = _Port("d0", bus_bits, False, order=(-1,))
            for t in w.terms:
                if t.src not in defined:
                    reg = reg_of[t.src]  # values cross modules only through registers
                    inputs[t.src] = _Port(t.src, reg.width, True, order=(reg.node, reg.stage))
        outs = [_Port(w.name, w.width, w.kind != "clamp") for w in group
                if w.name in read_outside]
        outs += [_Port(r.name, r.width, True, True) for r in own_regs if r.name in read_outside]
        name = f"{ident}_dp" if stage is None else f"{ident}_dp{stage}"
        modules.append(_StageModule(name, stage, tuple(group), tuple(own_regs),
                                    tuple(sorted(inputs.values(), key=lambda p: p.order)),
                                    tuple(outs)))
    return modules


def _storage_width(node: Node) -> int:
    return 8 if node.op is Op.CLAMP else node.width


def _wire(n: int, dp, ref) -> _Wire:
    node = dp.nodes[n]
    name = f"n{n}"
    if node.op is Op.INPUT:
        return _Wire("input", name, node.width, node=n, hi_bit=node.bit + node.bits - 1,
                     lo_bit=node.bit, signed=node.signed)
    terms = tuple(_Term(ref(op.node), op.shift, op.negate, op.node) for op in node.operands)
    if node.op is Op.ADD:
        return _Wire("add", name, node.width, terms=terms, const=node.const, node=n)
    if node.op is Op.MAX:
        return _Wire("max", name, node.width, terms=terms, node=n)
    # CLAMP: q = (src << op.shift) >>> shift, then clamp to the bounds, keep 8 bits
    src = dp.nodes[node.operands[0].node]
    width = src.width
    lo, hi = node.bounds
    q_lo, q_hi = dp.clamp_input_range(n)
    if node.shift >= 0:
        cut = min(node.shift, width - 1)  # shifting out every bit but the sign is the same
        msb, lsb, lshift, qbits = width - 1, cut, 0, width - cut
    else:
        msb, lsb, lshift, qbits = width - 1, 0, -node.shift, width - node.shift
    # Ties to even: a tie is a value whose shifted-out bits are all zero -- all of the
    # source's bits when the shift is at least its width (then only 0 is a tie), none when
    # nothing is shifted out (every value is a tie).
    even = node.even_parity
    tie_msb = min(node.shift, width) - 1 if node.shift > 0 else None
    qwidth = max(qbits + (even is not None), bit_width(min(lo, q_lo), max(hi, q_hi)), 9)
    return _Wire("clamp", name, 8, node=n, terms=terms[:1], hi_bit=msb, lo_bit=lsb,
                 lshift=lshift, qwidth=qwidth, lo=lo if q_lo < lo else None,
                 hi=hi if q_hi > hi else None,
                 clamp_lo=lo, clamp_hi=hi, even_parity=even, tie_msb=tie_msb)


# -- the top -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Link:
    """Where a module input (or the top output) reads from: a producer's stream or a fork port."""

    data: str
    valid: str
    ready: str


def _tensor_bases(tensors) -> dict[str, str]:
    """tensor -> ``t_<identifier>``, unique (case-insensitively) even where two model names
    map to one identifier ('a.b' and 'a_b')."""
    bases: dict[str, str] = {}
    used: set[str] = set()
    for tensor in tensors:
        base = wanted = f"t_{identifier(tensor)}"
        k = 2
        while base.lower() in used:
            base, k = f"{wanted}_{k}", k + 1
        used.add(base.lower())
        bases[tensor] = base
    return bases


def _top_context(plan: HardwarePlan, modules: list[dict], core: CoreName) -> dict:
    graph = plan.graph
    producers = {graph.input: "in"} | {m.layer.output: f"m{m.index}" for m in plan.modules}
    streams = []  # one per tensor: producer-side wires
    forks = []
    links: dict[tuple[str, str], _Link] = {}  # (tensor, consumer) -> link
    bases = _tensor_bases(producers)
    for tensor, prefix in producers.items():
        t = graph.tensor(tensor)
        bits = 8 * t.shape[2]
        base = bases[tensor]
        streams.append(dict(name=base, msb=bits - 1, tensor=tensor))
        readers = plan.consumers(tensor)
        if len(readers) == 1:
            links[(tensor, readers[0])] = _Link(f"{base}_data", f"{base}_valid",
                                                f"{base}_ready")
            continue
        ports = []
        for k, reader in enumerate(readers):
            links[(tensor, reader)] = _Link(f"{base}_data", f"{base}_fv[{k}]",
                                            f"{base}_fr[{k}]")
            ports.append(reader or "top output")
        forks.append(dict(name=f"fork_{base[2:]}", base=base, bits=bits,
                          count=len(readers), msb=len(readers) - 1, readers=ports))
    instances = []
    for m, context in zip(plan.modules, modules):
        ins = [links[(t, m.name)] for t in m.layer.inputs]
        out = bases[m.layer.output]
        instances.append(dict(module=context["ident"], name=m.name, ins=ins, out=out))
    out_link = links[(graph.output, "")]
    h, w, c = graph.tensor(graph.output).shape
    hi, wi, ci = graph.tensor(graph.input).shape
    pace = None
    if plan.schedule.paced:
        beat_bits = clog2(hi * wi)
        since_bits = bit_width(0, plan.schedule.interval_cycles)
        pace = dict(beat_bits=beat_bits, beat_msb=beat_bits - 1, last_beat=hi * wi - 1,
                    since_bits=since_bits, since_msb=since_bits - 1)
    return dict(top=core.top, fork_module=core.primitive("fork"), graph=graph.name,
                streams=streams, forks=forks, pace=pace,
                in_beats=hi * wi,
                instances=instances, input=bases[graph.input], in_msb=8 * ci - 1,
                in_keep_msb=ci - 1, out_msb=8 * c - 1, out_keep_msb=c - 1, out_bytes=c,
                output=out_link, out_beats=h * w, last_beat=h * w - 1,
                count_bits=clog2(h * w + 1), count_msb=clog2(h * w + 1) - 1,
                in_shape=(hi, wi, ci), out_shape=(h, w, c),
                latency=plan.schedule.latency_cycles, interval=plan.schedule.interval_cycles)
