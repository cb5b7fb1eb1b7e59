"""Interactive predictor: RITM's inference pipeline (NoBRS, zoom-in, flip averaging, previous mask fed back).

With `brs_mode` other than NoBRS, the network call of a click is replaced by RITM's back-propagating
refinement (core_model.brs).  Per click: the clicks and the input (RGB + previous probabilities) pass the transforms (zoom-in, optional
longest-side limit, flip), the network runs once on the batch (image and its mirror), and the logits come
back through the inverse transforms (flip average → sigmoid → paste of the zoomed crop).  Work that depends
only on the image (tensor, crops, flipped copies, the network's image stem) is cached and reused while
the zoom-in region stays the same, which leaves the output bit-identical to the uncached pipeline.

Two engines run the network: torch (core_model.predictor_torch: the reference, CPU or CUDA, refinement
modes) and ONNX Runtime (core_model.predictor_onnxruntime: numpy arrays, no torch).  The model passed in
chooses: a torch HRNetModel, or an OnnxRuntimeNetwork (core_model.onnx_network).  Everything else — the
transforms, the clicks, the undo history — is the same code for both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import array_ops as ops
from .brs_modes import NO_BRS, brs_net_clicks_limit
from .clicks import Click, Clicker
from .points import net_clicks, points_tensor  # noqa: F401 - points_tensor: importable from here too
from .transforms import HorizontalFlip, LimitLongestSide, NetInput, Sigmoid, Transform, ZoomIn
from .undo_history import UndoHistory


@dataclass
class PredictorSettings:
    zoom_in: bool = True
    zoom_target_size: int = 400
    zoom_skip_clicks: int = 1
    zoom_expansion_ratio: float = 1.4
    zoom_min_crop_size: int = 200
    zoom_recompute_thresh_iou: float = 0.5
    zoom_prob_thresh: float = 0.5
    flip: bool = True
    max_longest_side: int | None = None
    threshold: float = 0.49
    net_clicks_limit: int | None = None     # None: RITM's for the mode (8 for f-BRS, 5 for RGB/DistMap-BRS)
    brs_mode: str = NO_BRS                  # see core_model.brs.BRS_MODES


def recommended_settings(model, **overrides) -> PredictorSettings:
    """RITM's defaults, then the settings the model's checkpoint recommends (`predictor_hints`), then
    `overrides` (e.g. threshold=0.5)."""
    values = dict(getattr(model, "predictor_hints", None) or {})
    values.update(overrides)
    return PredictorSettings(**values)


def image_to_tensor(image: np.ndarray, device):
    """H×W×3 uint8 → 1×3×H×W float32 torch tensor in [0, 1] (torchvision's ToTensor arithmetic)."""
    from .predictor_torch import image_to_tensor as to_tensor
    return to_tensor(image, device)


def _engine(model, device, cache: bool):
    if getattr(model, "engine_kind", None) == "onnxruntime":
        from .predictor_onnxruntime import OnnxRuntimeEngine
        return OnnxRuntimeEngine(model, cache)
    from .predictor_torch import TorchEngine
    return TorchEngine(model, device, cache)


def _as_rgb(image: Any) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"The image has shape {image.shape}; pass an H×W×3 RGB array (uint8).")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("The image is empty; pass an H×W×3 RGB array with at least one pixel.")
    if image.dtype != np.uint8:
        raise ValueError(f"The image has pixel type {image.dtype}; convert it to 8-bit (uint8) RGB first.")
    return image[:, :, :3]


class _ImageKey:
    """Identity of one set_image call (crops and features are cached under it)."""
    __slots__ = ()


class InteractivePredictor:
    """RITM's interactive predictor.  Without `settings` it uses the ones the model's checkpoint recommends
    (RITM's defaults for official checkpoints; see recommended_settings).  `cache=False` gives the plain
    reference pipeline (every crop and the network's image stem recomputed for each click, auxiliary output
    computed) — used for benchmarks.  `model` is a torch HRNetModel (torch engine, on `device`) or an
    OnnxRuntimeNetwork (ONNX Runtime engine, CPU)."""

    def __init__(self, model, device="cpu", settings: PredictorSettings | None = None, *, cache: bool = True):
        self.engine = _engine(model, device, cache)
        self.device = self.engine.device
        self.model = self.engine.model
        self.settings = settings or recommended_settings(model)
        self.cache = cache
        s = self.settings
        self._zoom = None
        self._transforms: list[Transform] = []
        if s.zoom_in:
            self._zoom = ZoomIn(s.zoom_target_size, s.zoom_skip_clicks, s.zoom_expansion_ratio,
                                s.zoom_min_crop_size, s.zoom_recompute_thresh_iou, s.zoom_prob_thresh, cache=cache)
            self._transforms.append(self._zoom)
        if s.max_longest_side is not None:
            self._transforms.append(LimitLongestSide(s.max_longest_side, cache=cache))
        self._transforms.append(Sigmoid())
        if s.flip:
            self._transforms.append(HorizontalFlip(cache=cache))
        self._refiner = self.engine.make_refiner(s.brs_mode, s.flip, s)
        self._net_clicks_limit = s.net_clicks_limit if s.net_clicks_limit is not None \
            else brs_net_clicks_limit(s.brs_mode)
        self._image = None    # 1×3×H×W in [0, 1]: a torch tensor or a numpy array (the engine's arrays)
        self._key = None
        self._initial = None
        self._clicker = Clicker()
        self._history = UndoHistory(numpy_arrays=self.engine.name == "onnxruntime")  # bounded: see undo_history
        self._prev = None
        self._probs = None

    # --- image and object -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Set the H×W×3 uint8 RGB image; clears the clicks and any initial mask."""
        rgb = _as_rgb(image)
        self._image = self.engine.image_array(rgb)
        self._key = _ImageKey()
        self.engine.forget_image()
        for t in self._transforms:
            t.clear_cache()
        self._initial = None
        self.reset()
        if self.cache:
            self._prepare_first_click()

    def _prepare_first_click(self) -> None:
        """Image-only work of the first click (flipped copy, the network's image stem), done here once:
        the transforms are run forward without clicks, which is what the first click sees, then reset."""
        with self.engine.inference():
            inp = NetInput(self._image, self._prev, self._key)
            clicks_lists = [[]]
            for t in self._transforms:
                inp, clicks_lists = t.transform(inp, clicks_lists)
            self.engine.prepare(inp)
        for t in self._transforms:
            t.reset()

    def set_initial_mask(self, mask: np.ndarray) -> None:
        """Start from an existing outline (H×W, bool or probabilities in [0, 1]); clears the clicks.  The mask
        is the previous prediction for the first click, which then zooms in like a later click."""
        self._require_image()
        mask = np.asarray(mask)
        h, w = self.image_shape
        if mask.shape != (h, w):
            raise ValueError(f"The initial mask is {mask.shape[1] if mask.ndim > 1 else '?'}×{mask.shape[0]} "
                             f"pixels but the image is {w}×{h}; pass a mask of the image's size.")
        m = np.clip(mask.astype(np.float32), 0.0, 1.0)
        self._initial = self.engine.mask_array(m)
        self.reset()

    def reset(self) -> None:
        """Clear the clicks (keeps the image and the initial mask)."""
        has_initial = self._initial is not None
        self._clicker = Clicker(index_offset=1 if has_initial else 0)
        for t in self._transforms:
            t.reset()
        if self._zoom is not None:
            self._zoom.extra_interactions = 1 if has_initial else 0
            self._zoom.prev_probs = self._initial
        self._history.clear()
        self._probs = None
        if self._refiner is not None:
            self._refiner.reset()
        if self._image is None:
            self._prev = None
        elif has_initial:
            self._prev = self._initial
        else:
            self._prev = ops.zeros(self._image[:, :1].shape, like=self._image)

    # --- clicks -----------------------------------------------------------------------------------
    def add_click(self, row: int, col: int, is_positive: bool) -> np.ndarray:
        """Add a click at pixel (row, col); returns the H×W float32 probability map."""
        self._require_image()
        h, w = self.image_shape
        try:
            r, c = int(row), int(col)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"The click position ({row!r}, {col!r}) is not a pixel; pass integer row and column.") \
                from None
        if not (0 <= r < h and 0 <= c < w):
            raise ValueError(f"The click at row {r}, column {c} is outside the {w}×{h} image; "
                             f"click inside it (rows 0–{h - 1}, columns 0–{w - 1}).")
        self._history.push(self._save_state())
        self._clicker.add(Click(r, c, bool(is_positive)))
        try:
            self._predict()
            if not ops.all_finite(self._probs):
                raise ValueError("The model gave no valid prediction for this click (its output is NaN or "
                                 "infinite); its checkpoint is unusable for this image.")
        except BaseException:
            self._clicker.pop()
            self._restore_state(self._history.pop())
            raise
        return self.probabilities

    def undo(self) -> np.ndarray | None:
        """Remove the last click and restore the state before it exactly (no network call while that state
        is in the bounded undo history; beyond it, the remaining clicks are replayed, with the same result).
        Returns the probabilities after the undo: those of the previous click, the initial mask, or None."""
        if not len(self._clicker):
            return self.probabilities
        state = self._history.pop()
        if state is None:
            self._replay(self._clicker.clicks[:-1])
            return self.probabilities
        self._clicker.pop()
        self._restore_state(state)
        return self.probabilities

    def _replay(self, clicks: list[Click]) -> None:
        self.reset()
        for click in clicks:
            self.add_click(click.row, click.col, click.is_positive)

    # --- results ----------------------------------------------------------------------------------
    @property
    def probabilities(self) -> np.ndarray | None:
        if self._probs is not None:
            return ops.to_numpy(self._probs[0, 0]).copy()
        if self._initial is not None:
            return ops.to_numpy(self._initial[0, 0]).copy()
        return None

    @property
    def mask(self) -> np.ndarray | None:
        p = self.probabilities
        return None if p is None else p > self.settings.threshold

    @property
    def clicks(self) -> list[Click]:
        return self._clicker.clicks

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self._image is None else (int(self._image.shape[2]), int(self._image.shape[3]))

    # --- internals --------------------------------------------------------------------------------
    def _require_image(self) -> None:
        if self._image is None:
            raise ValueError("No image is set: call set_image(image) before adding clicks or masks.")

    def _save_state(self) -> tuple:
        refiner = None if self._refiner is None else self._refiner.get_state()
        return [t.get_state() for t in self._transforms], self._prev, self._probs, refiner

    def _restore_state(self, state: tuple) -> None:
        states, self._prev, self._probs, refiner = state
        if self._refiner is not None:
            self._refiner.set_state(refiner)
        for t, st in zip(self._transforms, states):
            t.set_state(st)

    def _predict(self) -> None:
        with self.engine.inference():
            self._predict_now()

    def _predict_now(self) -> None:
        clicks = net_clicks(self._clicker.clicks, self._clicker.index_offset)
        inp = NetInput(self._image, self._prev, self._key)
        clicks_lists = [clicks]
        for t in self._transforms:
            inp, clicks_lists = t.transform(inp, clicks_lists)
        points = self.engine.points(clicks_lists, self._net_clicks_limit)
        if self._refiner is None:
            logits = self.engine.network(inp, points)
        else:
            changed = any(t.image_changed for t in self._transforms)
            logits = self._refiner.refine(inp, clicks_lists, changed, points, self._net_clicks_limit)
        prob = logits
        for t in reversed(self._transforms):
            prob = t.inv_transform(prob)
        if self._zoom is not None and self._zoom.check_possible_recalculation():
            return self._predict_now()
        self._prev = prob
        self._probs = prob
