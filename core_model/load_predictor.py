"""One call from a checkpoint file to a ready interactive predictor (the fast inference copy of the model).

Every front end makes its predictor here: the plugin, its command line, and core_model's own commands.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the call, not by importing this module (see core_model/__init__)
    from .predictor import InteractivePredictor, PredictorSettings


def load_predictor(checkpoint, device="cpu", settings: PredictorSettings | None = None, *,
                   reference: bool = False, fuse: bool = True, **overrides) -> InteractivePredictor:
    """Load `checkpoint` safely (CheckpointError: one sentence naming the file) and wrap its inference copy
    (BatchNorm folded, channels_last, no aux head) in an InteractivePredictor with `settings`, or else with
    the checkpoint's recommended settings changed by `overrides` (e.g. threshold=0.5).

    `reference=True` gives RITM's plain pipeline instead: the model as loaded, no caches, auxiliary output
    computed (for benchmarks and parity checks; same settings rule).  `fuse=False` leaves the inference copy's
    activations unfused (core_model.fused_convs; for benchmarks)."""
    if settings is not None and overrides:
        raise TypeError("pass either settings or overrides, not both")
    from .checkpoint import load_model
    from .inference_speedups import optimize_for_inference
    from .predictor import InteractivePredictor, recommended_settings
    model = load_model(checkpoint, device=device)
    if not reference:
        model = optimize_for_inference(model, fuse=fuse)
    return InteractivePredictor(model, device=device, settings=settings or recommended_settings(model, **overrides),
                                cache=not reference)
