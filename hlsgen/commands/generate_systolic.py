"""``hlsgen generate --arch systolic``: the whole network on one array (DSP or shift-add PEs),
its shape given or chosen (``--array auto``), the project written.  The options were checked
by ``generate._check_systolic_options`` before any slow step."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from hlsgen.commands.generate import DEFAULT_ARRAY
from hlsgen.errors import InputError
from hlsgen.names import terminal

__all__ = ["run_systolic"]


def _auto_engine(args, graph):
    """``--array auto``: the fastest shift-add engine whose estimate fits ``--device``."""
    from hlsgen.commands.options import target_from_args
    from hlsgen.explore.devices import LUT_MODEL_MARGIN, budget_for
    from hlsgen.systolic.shapes import COPY_KBITS_CHOICES, best_shiftadd_engine

    dev, _, _ = target_from_args(args)
    budget = budget_for(dev, lut_margin=LUT_MODEL_MARGIN)
    kbits = getattr(args, "copy_kbits", None)
    share = getattr(args, "share_reads", None)
    split = getattr(args, "split_lanes", None)
    try:
        choice = best_shiftadd_engine(graph, budget, (kbits,) if kbits is not None
                                      else COPY_KBITS_CHOICES,
                                      (True, False) if share is None else (share,),
                                      (False, True) if split is None else (split,))
    except ValueError as exc:
        raise InputError(f"--array auto: {exc}") from None
    total = choice.cost.total
    shared = (", shared depthwise reads" if choice.share_reads else "") + (
        ", lanes multiplying in two cycles" if choice.split_lanes else "")
    print(f"--array auto: {choice.shape} with {choice.copy_bits // 1024} Kbit memory copies"
          f"{shared}, the fastest of {choice.candidates} shift-add engines whose estimate fits "
          f"{dev.name} ({budget.source}): about {total.luts:,.0f} of {budget.luts:,} LUTs, "
          f"{total.brams:g} of {budget.brams:g} RAMB36")
    return choice.shape, {"copy_bits": choice.copy_bits, "share_reads": choice.share_reads,
                          "split_lanes": choice.split_lanes}


def run_systolic(args, graph, x_ir, outdir: Path, core, start: float) -> int:
    """The systolic-array engine of the whole network (``--pe``: DSP or shift-add PEs):
    ``rtl/``, ``tb/``, README."""
    from hlsgen.emit.writer import write_tree
    from hlsgen.systolic import ArrayShape
    from hlsgen.systolic.nettiming import network_cycle_model
    from hlsgen.systolic.project import network_project_files

    pe = getattr(args, "pe", "dsp")
    kbits = getattr(args, "copy_kbits", None)
    options = {"copy_bits": kbits * 1024} if kbits is not None else {}
    for name in ("share_reads", "split_lanes"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    if args.array == "auto":
        shape, options = _auto_engine(args, graph)
    else:
        shape = ArrayShape.parse(args.array or DEFAULT_ARRAY[pe])
    if getattr(args, "weights", None) is not None:
        options["weights"] = args.weights
    plan, files = network_project_files(graph, shape, x_ir, core, pe=pe, **options)
    protect = tuple(p for p in (args.model, args.vectors) if p)
    written = write_tree(outdir, files, force=args.force, protect=protect)
    timing = network_cycle_model(plan)
    streamed = ", weights streamed" if plan.weight_source == "stream" else ""
    print(f"wrote {terminal(written, None)}: {len(files)} files, {len(graph.layers)} layers on "
          f"a {shape} systolic array ({pe} PEs{streamed}), latency {timing.latency:,} cycles "
          f"({time.perf_counter() - start:.1f} s)")
    print(f"next: cd {terminal(shlex.quote(str(outdir)), None)} && python tb/run_sim.py "
          "--sim verilator && make csim")
    return 0
