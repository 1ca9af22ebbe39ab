"""Emitters: a :class:`hlsgen.design.Design` -> the files of a project directory.

- :mod:`hlsgen.emit.common`: names, exact widths and per-layer plans every emitter reads.
- :mod:`hlsgen.emit.hls`: Vitis HLS C++ (``hls/``), its C testbench and Vitis scripts.
- :mod:`hlsgen.emit.rtl`: Verilog (``rtl/``) and the cocotb testbench (``tb/``).
- :mod:`hlsgen.emit.project`: the whole project (vectors, reference ONNX, Makefile, README,
  Vivado scripts) as ``{relative path: text or bytes}``.
- :mod:`hlsgen.emit.writer`: the one place that writes a project to disk, atomically.

Emitters are pure: they return file contents and never touch the disk.  Import the module you
need; this package imports nothing on its own, so the emitters can import each other freely.
"""
