"""Which engine runs the network: torch (the reference; CUDA, refinement modes, training) or ONNX Runtime
(CPU, no torch needed).  'auto' takes torch when it can be imported and ONNX Runtime otherwise."""
from __future__ import annotations

from .errors import EngineError

TORCH, ONNXRUNTIME, AUTO = "torch", "onnxruntime", "auto"
ENGINES = (TORCH, ONNXRUNTIME)
# Experimental, only when asked for: ONNX Runtime with an int8 copy of the network (core_model.onnx_int8).
ONNXRUNTIME_INT8 = "onnxruntime-int8"


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def choose_engine(requested: str | None = None) -> str:
    """The engine to use for `requested` ('torch', 'onnxruntime', or None / 'auto')."""
    if requested in (None, AUTO):
        return TORCH if torch_available() else ONNXRUNTIME
    if requested not in (*ENGINES, ONNXRUNTIME_INT8):
        raise EngineError(f"Unknown engine {requested!r}; choose one of {', '.join((AUTO, *ENGINES))}.")
    if requested == TORCH and not torch_available():
        raise EngineError("The PyTorch engine was asked for but torch is not installed; install torch or use "
                          "the ONNX Runtime engine.")
    return requested
