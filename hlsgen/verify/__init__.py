"""Verification against real tools: RTL simulation (cocotb + Verilator / Icarus) and yosys
resource estimates.  See :mod:`hlsgen.verify.sim` and :mod:`hlsgen.verify.estimate`."""
