"""hlsgen: pre-trained CNN (ONNX) -> multiplier-less FPGA accelerator (HLS C++ and Verilog)."""

__version__ = "0.1.0"
