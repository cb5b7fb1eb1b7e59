"""Makes the real predictor from a checkpoint: the only place the plugin imports core_model's model code
(and torch, where it is installed), and only when the first prediction is needed (no Qt here; runs on
worker threads). The engine: PyTorch when QGIS's Python has it (needed for the refinement modes and an
NVIDIA GPU), else ONNX Runtime (digitising needs nothing more)."""
from __future__ import annotations

import os

from core_model.brs_modes import BRS_MODES
from core_model.openmp import passive_openmp

from .errors import AvalancheError

ENGINE_MISSING = ("Neither ONNX Runtime nor PyTorch is installed in QGIS's Python, so the model cannot run: "
                  "install the digitising packages with the dock's 'Python packages…' button (or see "
                  "docs/install.md for the manual commands).")
ENGINE_MISSING_CLI = ("Neither ONNX Runtime nor PyTorch is installed in this Python, so the model cannot run: "
                      "install onnxruntime (see docs/install.md for the commands).")


class PredictorUnavailable(AvalancheError):
    """The predictor cannot be made (no torch, no checkpoint); the message is one sentence."""


def keep_freed_buffers() -> bool:
    """For a process that only runs the predictor (the session process, never QGIS itself): let glibc keep
    freed activation buffers for the next click instead of page-faulting them in again (12-20 % less CPU
    time per click on Linux; core_model.inference_speedups.tune_glibc_allocator).  False where it does not
    apply (no torch, not glibc)."""
    try:
        from core_model.inference_speedups import tune_glibc_allocator
    except ImportError:   # no torch: make_predictor says so in one sentence
        return False
    return tune_glibc_allocator()


def refinement_problem(brs_mode: str, python: str = "QGIS's Python", choose: str = "choose Refinement 'NoBRS'"):
    """Why ``brs_mode`` cannot run here, in one sentence (None when it can): the refiners' L-BFGS-B is
    SciPy's (core_model.brs_objective), and SciPy is not among the packages the plugin installs."""
    if brs_mode == "NoBRS":
        return None
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return (f"The refinement mode '{brs_mode}' needs SciPy, which {python} does not have: {choose}, or install "
                f"scipy for {python}.")
    return None


def make_predictor(checkpoint: str, device: str, threshold: float, brs_mode: str = "NoBRS", *,
                   settings: dict | None = None, overrides: dict | None = None, command_line: bool = False,
                   engine: str = "auto"):
    """The real predictor (runs on the worker thread; imports torch only now); `brs_mode` is the
    refinement mode (core_model.brs: NoBRS, f-BRS-A/B/C, RGB-BRS, DistMap-BRS). ``command_line``: the
    sentences speak of this Python and of ``--brs`` instead of QGIS's Python and the dock. ``settings``: the
    chosen model's predictor settings (PredictorSettings fields: zoom_in, zoom_target_size, max_longest_side…),
    a complete preset that replaces the checkpoint's recommendation (fields it leaves out are RITM's);
    ``overrides``: single settings on top of the preset, or of the checkpoint's recommendation. ``engine``:
    auto (PyTorch where installed, else ONNX Runtime), onnxruntime or torch."""
    if brs_mode not in BRS_MODES:
        raise PredictorUnavailable(f"Unknown refinement mode '{brs_mode}': choose one of {', '.join(BRS_MODES)}.")
    problem = (refinement_problem(brs_mode, python="this Python", choose="use --brs NoBRS") if command_line
               else refinement_problem(brs_mode))
    if problem:
        raise PredictorUnavailable(problem)
    passive_openmp()   # QGIS's GUI thread shares the CPU with inference; only before torch loads
    engine = engine_for(brs_mode, device, command_line, engine)
    from core_model.load_predictor import load_predictor

    from .devices import device_problem

    problem = device_problem(device)
    if problem:
        raise PredictorUnavailable(problem)

    if not checkpoint:
        raise PredictorUnavailable("No model checkpoint is chosen: pick a RITM .pth file (the Checkpoint "
                                   "field of the dock, or the algorithm's Checkpoint parameter).")
    if not os.path.isfile(checkpoint):
        raise PredictorUnavailable(f"The model checkpoint '{checkpoint}' does not exist: pick an existing "
                                   "RITM .pth file (see the README for where to download one).")
    # CheckpointError: one sentence naming the file
    overrides = {k: v for k, v in (overrides or {}).items() if k not in ("threshold", "brs_mode")}
    if settings is not None:   # a preset is complete: what it leaves out is RITM's default (core_model.models.presets)
        from core_model.predictor import PredictorSettings
        chosen = {k: v for k, v in settings.items() if k not in ("threshold", "brs_mode")}
        return load_predictor(checkpoint, device=device, engine=engine, settings=PredictorSettings(
            **{**chosen, **overrides}, threshold=threshold, brs_mode=brs_mode))
    return load_predictor(checkpoint, device=device, engine=engine, threshold=threshold, brs_mode=brs_mode,
                          **overrides)


def engine_for(brs_mode: str, device: str, command_line: bool = False, wanted: str = "auto") -> str:
    """``wanted`` ('auto': 'torch' where QGIS's Python has it, else 'onnxruntime'); PredictorUnavailable (one
    sentence) when what was asked for needs PyTorch (a refinement mode, a GPU) or the engine is missing."""
    python = "this Python" if command_line else "QGIS's Python"
    if wanted not in ("auto", "torch", "onnxruntime"):
        raise PredictorUnavailable(f"Unknown engine '{wanted}': choose auto, onnxruntime or torch.")
    if wanted == "onnxruntime":
        if brs_mode != "NoBRS" or device != "cpu":
            what = f"The refinement mode '{brs_mode}'" if brs_mode != "NoBRS" else f"The device '{device}'"
            raise PredictorUnavailable(f"{what} needs the PyTorch engine: choose the engine PyTorch (or Automatic), "
                                       "or NoBRS on the CPU with ONNX Runtime.")
        return _onnxruntime_or_say(command_line)
    try:
        import torch  # noqa: F401
        return "torch"
    except ImportError:
        if wanted == "torch":
            raise PredictorUnavailable(f"The PyTorch engine was chosen but {python} has no PyTorch: choose the "
                                       "engine Automatic or ONNX Runtime, or install PyTorch.") from None
    except Exception as exc:  # e.g. a DLL that fails to load on Windows
        raise PredictorUnavailable(f"PyTorch is installed but cannot be imported ({type(exc).__name__}: {exc}); "
                                   f"reinstall it for {python}.") from exc
    second_step = ("install it as the second step of the dock's 'Python packages…'" if not command_line
                   else "install torch (docs/install.md)")
    if brs_mode != "NoBRS":
        choose = "use --brs NoBRS" if command_line else "choose Refinement 'NoBRS'"
        raise PredictorUnavailable(f"The refinement mode '{brs_mode}' needs PyTorch, which {python} does not have: "
                                   f"{choose}, or {second_step}.")
    if device != "cpu":
        raise PredictorUnavailable(f"The device '{device}' needs PyTorch, which {python} does not have: choose "
                                   f"CPU (ONNX Runtime), or {second_step}.")
    return _onnxruntime_or_say(command_line)


def _onnxruntime_or_say(command_line: bool) -> str:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise PredictorUnavailable(ENGINE_MISSING_CLI if command_line else ENGINE_MISSING) from exc
    return "onnxruntime"
