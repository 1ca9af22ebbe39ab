"""Emitters: thin renderers of the hardware plan (:mod:`hlsgen.hw`) -> the files of a project.

- :mod:`hlsgen.emit.common`: the core's name (``--name``), identifiers, template loading;
  :mod:`hlsgen.emit.keywords` the reserved words a name must not be.
- :mod:`hlsgen.emit.rtl`: Verilog (``rtl/``) of the plan, and the cocotb testbench (``tb/``).
- :mod:`hlsgen.emit.primitives`: the hand-written Verilog primitives, renamed to the core's.
- :mod:`hlsgen.emit.dataflow`: the HLS top's processes and streams, read from the plan.
- :mod:`hlsgen.emit.hls`: Vitis HLS C++ (``hls/``) of the plan, its C testbench and scripts.
- :mod:`hlsgen.emit.project`: the whole project (vectors, reference ONNX, Makefile, README,
  Vivado scripts) as ``{relative path: text or bytes}``.
- :mod:`hlsgen.emit.writer`: the one place that writes a project to disk, atomically.

Emitters are pure: they return file contents and never touch the disk.  Import the module you
need; this package imports nothing on its own, so the emitters can import each other freely.
"""
