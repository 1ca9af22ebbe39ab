"""The exact integer reference: a numpy executor of the IR and its integer-only ONNX twin.

Public API::

    execute(graph, x_ir, return_all=False)  # int64 [N, H, W, C] (or dict of every tensor)
    export_onnx(graph) -> onnx.ModelProto   # int64-only ONNX, input/output [N, H*W*C]
    run_onnx(model, x_ir) -> np.ndarray     # onnxruntime on it, int64 [N, H, W, C]
    quantize_input(graph, x_source) -> x_ir # source layout and dtype -> IR input, int64

``hlsgen.reference.source.run_source`` runs the *source* ONNX model for comparison.
Both execute() and the exported ONNX follow the semantics in the :mod:`hlsgen.ir` docstring
bit for bit; tests hold them to ``np.array_equal``.
"""

from hlsgen.reference.executor import execute, quantize_input
from hlsgen.reference.export import export_onnx, run_onnx

__all__ = ["execute", "export_onnx", "run_onnx", "quantize_input"]
