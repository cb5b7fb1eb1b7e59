"""Interactive predictor: RITM's inference pipeline (NoBRS, zoom-in, flip averaging, previous mask fed back).

With `brs_mode` other than NoBRS, the network call of a click is replaced by RITM's back-propagating
refinement (core_model.brs).  Per click: the clicks and the input (RGB + previous probabilities) pass the transforms (zoom-in, optional
longest-side limit, flip), the network runs once on the batch (image and its mirror), and the logits come
back through the inverse transforms (flip average → sigmoid → paste of the zoomed crop).  Work that depends
only on the image (tensor, crops, flipped copies, the network's image stem) is cached and reused while
the zoom-in region stays the same, which leaves the output bit-identical to the uncached pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .brs import NO_BRS, brs_net_clicks_limit, make_refiner
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


def image_to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float32 in [0, 1] (torchvision's ToTensor arithmetic)."""
    t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(torch.float32).div(255)
    return t.unsqueeze(0).to(device)


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
    computed) — used for benchmarks."""

    def __init__(self, model, device="cpu", settings: PredictorSettings | None = None, *, cache: bool = True):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
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
        self._refiner = make_refiner(s.brs_mode, self.model, s.flip, s)
        self._net_clicks_limit = s.net_clicks_limit if s.net_clicks_limit is not None \
            else brs_net_clicks_limit(s.brs_mode)
        self._uses_prev_mask = bool(getattr(model, "with_prev_mask", False))
        self._split_forward = cache and hasattr(model, "image_features") and hasattr(model, "forward_from_features")
        self._features: tuple[Any, Any] | None = None
        self._image: torch.Tensor | None = None
        self._key = None
        self._initial: torch.Tensor | None = None
        self._clicker = Clicker()
        self._history = UndoHistory()  # bounded: see core_model.undo_history
        self._prev: torch.Tensor | None = None
        self._probs: torch.Tensor | None = None

    # --- image and object -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Set the H×W×3 uint8 RGB image; clears the clicks and any initial mask."""
        rgb = _as_rgb(image)
        self._image = image_to_tensor(rgb, self.device)
        self._key = _ImageKey()
        self._features = None
        for t in self._transforms:
            t.clear_cache()
        self._initial = None
        self.reset()
        if self.cache:
            self._prepare_first_click()

    def _prepare_first_click(self) -> None:
        """Image-only work of the first click (flipped copy, the network's image stem), done here once:
        the transforms are run forward without clicks, which is what the first click sees, then reset."""
        with torch.inference_mode():
            inp = NetInput(self._image, self._prev, self._key)
            clicks_lists = [[]]
            for t in self._transforms:
                inp, clicks_lists = t.transform(inp, clicks_lists)
            if self._split_forward:
                self._features = (inp.key, self.model.image_features(inp.rgb))
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
        self._initial = torch.from_numpy(np.ascontiguousarray(m))[None, None].to(self.device)
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
            self._prev = torch.zeros_like(self._image[:, :1])

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
            if not bool(torch.isfinite(self._probs).all()):
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
            return self._probs[0, 0].cpu().numpy().copy()
        if self._initial is not None:
            return self._initial[0, 0].cpu().numpy().copy()
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

    @torch.inference_mode()
    def _predict(self) -> None:
        clicks = net_clicks(self._clicker.clicks, self._clicker.index_offset)
        inp = NetInput(self._image, self._prev, self._key)
        clicks_lists = [clicks]
        for t in self._transforms:
            inp, clicks_lists = t.transform(inp, clicks_lists)
        points = points_tensor(clicks_lists, self._net_clicks_limit, self.device)
        if self._refiner is None:
            logits = self._network(inp, points)
        else:
            changed = any(t.image_changed for t in self._transforms)
            logits = self._refiner.refine(inp, clicks_lists, changed, points, self._net_clicks_limit)
        prob = logits
        for t in reversed(self._transforms):
            prob = t.inv_transform(prob)
        if self._zoom is not None and self._zoom.check_possible_recalculation():
            return self._predict()
        self._prev = prob
        self._probs = prob

    def _network(self, inp: NetInput, points: torch.Tensor) -> torch.Tensor:
        prev = inp.prev if self._uses_prev_mask else None
        if self._split_forward:
            if self._features is None or self._features[0] != inp.key:
                self._features = (inp.key, self.model.image_features(inp.rgb))
            out = self.model.forward_from_features(self._features[1], prev, points, with_aux=False)
        else:
            x = inp.rgb if prev is None else torch.cat([inp.rgb, prev], dim=1)
            out = self.model(x, points)
        logits = out["instances"]
        if logits.shape[2:] != inp.rgb.shape[2:]:
            logits = torch.nn.functional.interpolate(logits, size=inp.rgb.shape[2:], mode="bilinear",
                                                     align_corners=True)
        return logits
