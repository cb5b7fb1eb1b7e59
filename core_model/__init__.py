"""RITM-style interactive segmentation model and predictor (torch + numpy + opencv only; no Qt, no QGIS).

The public API is importable from here; each name is loaded on first use (module ``__getattr__``), so
``import core_model`` itself imports neither torch nor OpenCV — the QGIS plugin imports it where users
may lack torch.  Names that need torch (the model, checkpoints, the predictor) import it when touched.

Packages and modules: the model (model, hrnet, ocr, click_maps, inference_speedups), checkpoints
(checkpoint, default_model), inference (predictor, transforms, points, load_predictor), the ONNX Runtime
engine, which needs no torch (engines, checkpoint_arrays, onnx_variants, onnx_network, click_maps_numpy,
predictor_onnxruntime; docs/onnx_engine.md), clicks and RITM's
NoC protocol (clicks, noc), data (datasets: the folder layouts; raster_rgb: raster windows → model RGB),
the model catalogue and manager (``core_model.models``, ``python -m core_model.models``; pure, no torch at
import) and the command lines in ``core_model.cli`` (``python -m core_model.predict | evaluate | benchmark``).
"""
from __future__ import annotations

import importlib

# Functions named like their modules are bound here (importing the module later would otherwise shadow
# them); both modules need numpy only.
from .load_predictor import load_predictor
from .noc import noc

_EXPORTS = {
    # model and checkpoints
    "build_model": "model", "HRNetModel": "model",
    "load_model": "checkpoint", "save_checkpoint": "checkpoint", "CheckpointError": "errors",
    "CoreModelError": "errors", "EngineError": "errors",
    # the ONNX Runtime engine (no torch): the network of a checkpoint, the engine choice
    "load_onnx_network": "onnx_network", "choose_engine": "engines",
    "optimize_for_inference": "inference_speedups",
    "DEFAULT_CHECKPOINT": "default_model", "default_checkpoint": "default_model",
    # the predictor
    "InteractivePredictor": "predictor", "PredictorSettings": "predictor", "recommended_settings": "predictor",
    "NetClick": "points", "points_tensor": "points",
    # clicks and the NoC protocol
    "Click": "clicks", "Clicker": "clicks", "ClickSimulator": "clicks", "next_click": "clicks",
    "iou": "noc", "clicks_to_reach": "noc", "mean_iou_at": "noc", "evaluate_sample": "noc",
    # data
    "EvalDataset": "datasets", "DatasetError": "datasets",
}

__all__ = sorted([*_EXPORTS, "load_predictor", "noc"])


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core_model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
