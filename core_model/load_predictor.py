"""One call from a checkpoint file to a ready interactive predictor, on either engine (core_model.engines).

Every front end makes its predictor here: the plugin, its command line, and core_model's own commands.
With torch the predictor runs the fast inference copy of the model; with ONNX Runtime the checkpoint is
read without torch and its network runs from the shipped graph (core_model.onnx_network).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the call, not by importing this module (see core_model/__init__)
    from .predictor import InteractivePredictor, PredictorSettings


def load_predictor(checkpoint, device="cpu", settings: PredictorSettings | None = None, *,
                   reference: bool = False, fuse: bool = True, engine: str | None = None,
                   threads: int | None = None, int8_calibration=None, **overrides) -> InteractivePredictor:
    """Load `checkpoint` safely (CheckpointError: one sentence naming the file) and wrap its network in an
    InteractivePredictor with `settings`, or else with the checkpoint's recommended settings changed by
    `overrides` (e.g. threshold=0.5).

    `engine` is 'torch', 'onnxruntime' or None / 'auto' (torch when it can be imported).  With torch the
    network is the inference copy (BatchNorm folded, channels_last, no aux head); `reference=True` gives
    RITM's plain pipeline instead: the model as loaded, no caches, auxiliary output computed (for
    benchmarks and parity checks; same settings rule); `fuse=False` leaves the inference copy's activations
    unfused (core_model.fused_convs; for benchmarks).  With ONNX Runtime (CPU only) `reference=True` turns
    the predictor's caches off; `threads` sets its intra-op threads (torch's are set with
    torch.set_num_threads).  `engine='onnxruntime-int8'` (experimental) runs an int8 copy of the network,
    calibrated on the dataset folder `int8_calibration` (core_model.onnx_int8; needs the onnx package)."""
    if settings is not None and overrides:
        raise TypeError("pass either settings or overrides, not both")
    from .engines import ONNXRUNTIME, ONNXRUNTIME_INT8, choose_engine
    engine = choose_engine(engine)
    if engine in (ONNXRUNTIME, ONNXRUNTIME_INT8):
        calibration = int8_calibration if engine == ONNXRUNTIME_INT8 else None
        return _onnxruntime_predictor(checkpoint, device, settings, reference, threads, calibration, overrides)
    from .checkpoint import load_model
    from .inference_speedups import optimize_for_inference
    from .predictor import InteractivePredictor, recommended_settings
    model = load_model(checkpoint, device=device)
    if not reference:
        model = optimize_for_inference(model, fuse=fuse)
    return InteractivePredictor(model, device=device, settings=settings or recommended_settings(model, **overrides),
                                cache=not reference)


def _onnxruntime_predictor(checkpoint, device, settings, reference, threads, int8_calibration, overrides):
    from .errors import EngineError
    from .onnx_network import load_onnx_network
    from .predictor import InteractivePredictor, recommended_settings
    if str(device) != "cpu":
        raise EngineError(f"The ONNX Runtime engine runs on the CPU here, not on {device}; use the PyTorch "
                          "engine for a GPU.")
    if int8_calibration is not None:
        from .onnx_int8 import int8_network
        network = int8_network(checkpoint, int8_calibration, threads)
    else:
        network = load_onnx_network(checkpoint, threads=threads)
    settings = settings or recommended_settings(network, **overrides)
    return InteractivePredictor(network, settings=settings, cache=not reference)
