"""One call from a checkpoint file to a ready interactive predictor (the fast inference copy of the model)."""
from __future__ import annotations

from .checkpoint import load_model
from .inference_speedups import optimize_for_inference
from .predictor import InteractivePredictor, PredictorSettings, recommended_settings


def load_predictor(checkpoint, device="cpu", settings: PredictorSettings | None = None,
                   **overrides) -> InteractivePredictor:
    """Load `checkpoint` safely (CheckpointError: one sentence naming the file) and wrap its inference copy
    (BatchNorm folded, channels_last, no aux head) in an InteractivePredictor with `settings`, or else with
    the checkpoint's recommended settings changed by `overrides` (e.g. threshold=0.5)."""
    if settings is not None and overrides:
        raise TypeError("pass either settings or overrides, not both")
    model = optimize_for_inference(load_model(checkpoint, device=device))
    return InteractivePredictor(model, device=device, settings=settings or recommended_settings(model, **overrides))
