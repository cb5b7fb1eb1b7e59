"""RITM's inference-time transforms: zoom-in on the object, longest-side limit, sigmoid and horizontal flip.

Each transform is a `Transform` (RITM's interface): it maps the network input and the clicks forward
(`transform`) and the prediction back (`inv_transform`), and has `reset`, `get_state` and `set_state` so
that an undo restores it exactly.
The network input is split into the RGB part, which only changes when the crop changes, and the
previous-prediction channel, which changes with every click: the RGB crop is cached under a key so
that it is not recomputed while the zoom-in region stays the same (the result is bit-identical, since
bilinear resampling treats every channel on its own).
The arrays are torch tensors (torch engine) or numpy arrays (ONNX Runtime engine): the operations go
through core_model.array_ops, which does torch's own operation on a tensor.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Hashable

import numpy as np
from . import array_ops as ops
from .points import NetClick

ClickLists = list  # list[list[NetClick]], one list per batch element
Array = Any  # a torch tensor (torch engine) or a numpy array (ONNX Runtime engine); see core_model.array_ops


@dataclass(frozen=True)
class NetInput:
    """The network input: `rgb` B×3×H×W in [0, 1], `prev` B×1×H×W previous probabilities; `key`
    names the content of `rgb` (equal keys ⇒ equal tensors) so crops can be cached."""
    rgb: Array
    prev: Array
    key: Hashable

    @property
    def height(self) -> int:
        return int(self.rgb.shape[2])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[3])


class Transform(ABC):
    """RITM's transform interface.  `image_changed` tells whether the last `transform` changed the RGB
    input; `clear_cache` drops what was cached for the previous image.  A transform without state keeps
    the defaults of reset / get_state / set_state."""
    image_changed = False

    @abstractmethod
    def transform(self, inp: NetInput, clicks_lists: ClickLists) -> tuple[NetInput, ClickLists]:
        """The network input and the clicks, mapped forward."""

    @abstractmethod
    def inv_transform(self, prob: Array) -> Array:
        """The prediction, mapped back."""

    def reset(self) -> None:
        pass

    def get_state(self) -> Any:
        return None

    def set_state(self, state: Any) -> None:
        pass

    def clear_cache(self) -> None:
        pass


# --- boxes: (rmin, rmax, cmin, cmax), inclusive, as in RITM --------------------------------------------

def bbox_of_mask(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def expand_bbox(bbox, ratio: float, min_size: float | None = None) -> tuple[int, int, int, int]:
    rmin, rmax, cmin, cmax = bbox
    rc = 0.5 * (rmin + rmax)
    cc = 0.5 * (cmin + cmax)
    h = ratio * (rmax - rmin + 1)
    w = ratio * (cmax - cmin + 1)
    if min_size is not None:
        h = max(h, min_size)
        w = max(w, min_size)
    # Python's round (half to even), as RITM.
    return int(round(rc - 0.5 * h)), int(round(rc + 0.5 * h)), int(round(cc - 0.5 * w)), int(round(cc + 0.5 * w))


def clamp_bbox(bbox, rmin: int, rmax: int, cmin: int, cmax: int) -> tuple[int, int, int, int]:
    return max(rmin, bbox[0]), min(rmax, bbox[1]), max(cmin, bbox[2]), min(cmax, bbox[3])


def _segment_iou(a0, a1, b0, b1) -> float:
    inter = max(0, min(a1, b1) - max(a0, b0) + 1)
    union = max(1e-6, max(a1, b1) - min(a0, b0) + 1)
    return inter / union


def bbox_iou(b1, b2) -> float:
    """RITM's box IoU: product of the row and column segment IoUs."""
    return _segment_iou(b1[0], b1[1], b2[0], b2[1]) * _segment_iou(b1[2], b1[3], b2[2], b2[3])


def object_roi(pred_mask: np.ndarray, clicks: list[NetClick], expansion_ratio: float,
               min_crop_size: float) -> tuple[int, int, int, int]:
    """Box around the predicted object and the positive clicks, expanded and clamped to the image."""
    mask = pred_mask.copy()
    for c in clicks:
        if c.is_positive:
            mask[int(c.row), int(c.col)] = True
    box = expand_bbox(bbox_of_mask(mask), expansion_ratio, min_crop_size)
    h, w = mask.shape
    return clamp_bbox(box, 0, h - 1, 0, w - 1)


def roi_contains_positive_clicks(roi, clicks: list[NetClick]) -> bool:
    """RITM's check_object_roi (note the half-open upper bound)."""
    for c in clicks:
        if c.is_positive:
            if c.row < roi[0] or c.row >= roi[1] or c.col < roi[2] or c.col >= roi[3]:
                return False
    return True


def roi_output_size(roi, target_size) -> tuple[int, int]:
    """The network input size of a crop: its longest side `target_size`, or exactly (height, width) when
    `target_size` is a pair (RITM's fixed-size evaluation modes)."""
    if isinstance(target_size, (tuple, list)):
        return int(target_size[0]), int(target_size[1])
    h = roi[1] - roi[0] + 1
    w = roi[3] - roi[2] + 1
    scale = target_size / max(h, w)
    return int(round(h * scale)), int(round(w * scale))


def crop_resize(t: Array, roi, size: tuple[int, int]) -> Array:
    rmin, rmax, cmin, cmax = roi
    return ops.resize(t[:, :, rmin:rmax + 1, cmin:cmax + 1], size)


# --- transforms -----------------------------------------------------------------------------------------

class ZoomIn(Transform):
    """Crop the image around the current object and resize the crop so its longest side is `target_size`."""

    def __init__(self, target_size: int = 400, skip_clicks: int = 1, expansion_ratio: float = 1.4,
                 min_crop_size: int = 200, recompute_thresh_iou: float = 0.5, prob_thresh: float = 0.5,
                 cache: bool = True):
        self.target_size = target_size
        self.skip_clicks = skip_clicks
        self.expansion_ratio = expansion_ratio
        self.min_crop_size = min_crop_size
        self.recompute_thresh_iou = recompute_thresh_iou
        self.prob_thresh = prob_thresh
        self.cache = cache
        # Interactions that precede the clicks (1 when an existing outline is being corrected).
        self.extra_interactions = 0
        self._rgb_cache: tuple[Hashable, Array] | None = None
        self.reset()

    def reset(self) -> None:
        self.object_roi = None
        self.prev_probs: Array | None = None
        self.roi_size: tuple[int, int] | None = None
        self.input_shape: tuple[int, int] | None = None
        self.image_changed = False

    def get_state(self):
        return self.object_roi, self.prev_probs, self.roi_size, self.input_shape, self.image_changed

    def set_state(self, state) -> None:
        self.object_roi, self.prev_probs, self.roi_size, self.input_shape, self.image_changed = state

    def clear_cache(self) -> None:
        self._rgb_cache = None

    def transform(self, inp: NetInput, clicks_lists: ClickLists):
        assert inp.rgb.shape[0] == 1 and len(clicks_lists) == 1
        self.image_changed = False
        clicks = clicks_lists[0]
        if len(clicks) + self.extra_interactions <= self.skip_clicks:
            return inp, clicks_lists
        self.input_shape = (inp.height, inp.width)

        current = None
        if self.prev_probs is not None:
            pred_mask = ops.to_numpy(self.prev_probs > self.prob_thresh)[0, 0]
            if pred_mask.any():
                current = object_roi(pred_mask, clicks, self.expansion_ratio, self.min_crop_size)
        if current is None:
            if self.skip_clicks >= 0:
                # Nothing predicted yet: the whole input goes on. RITM keeps its old region here and pastes
                # the whole-image prediction into it on the way back; forgetting the region keeps it in place.
                self.object_roi = None
                return inp, clicks_lists
            current = (0, inp.height - 1, 0, inp.width - 1)

        if (self.object_roi is None or not roi_contains_positive_clicks(self.object_roi, clicks)
                or bbox_iou(current, self.object_roi) < self.recompute_thresh_iou):
            self.object_roi = current
            self.image_changed = True
        return self._crop(inp), [self._map_clicks(clicks)]

    def _crop(self, inp: NetInput) -> NetInput:
        roi = self.object_roi
        size = roi_output_size(roi, self.target_size)
        self.roi_size = size
        key = ("roi", inp.key, roi, size)
        if self.cache and self._rgb_cache is not None and self._rgb_cache[0] == key:
            rgb = self._rgb_cache[1]
        else:
            rgb = crop_resize(inp.rgb, roi, size)
            if self.cache:
                self._rgb_cache = (key, rgb)
        return NetInput(rgb, crop_resize(inp.prev, roi, size), key)

    def _map_clicks(self, clicks: list[NetClick]) -> list[NetClick]:
        rmin, rmax, cmin, cmax = self.object_roi
        h, w = self.roi_size
        return [c._replace(row=h * (c.row - rmin) / (rmax - rmin + 1), col=w * (c.col - cmin) / (cmax - cmin + 1))
                for c in clicks]

    def inv_transform(self, prob: Array) -> Array:
        if self.object_roi is None:
            self.prev_probs = prob
            return prob
        assert prob.shape[0] == 1
        rmin, rmax, cmin, cmax = self.object_roi
        prob = self._to_roi_size(prob)
        if self.prev_probs is not None:
            full = ops.zeros(self.prev_probs.shape, like=prob)
            full[:, :, rmin:rmax + 1, cmin:cmax + 1] = prob
        else:
            full = prob
        self.prev_probs = full
        return full

    def _to_roi_size(self, prob: Array) -> Array:
        rmin, rmax, cmin, cmax = self.object_roi
        return ops.resize(prob, (rmax - rmin + 1, cmax - cmin + 1))

    def check_possible_recalculation(self) -> bool:
        """RITM: with skip_clicks <= 0, redo the first prediction zoomed in when the object is small."""
        if self.prev_probs is None or self.object_roi is not None or self.skip_clicks > 0:
            return False
        pred_mask = ops.to_numpy(self.prev_probs > self.prob_thresh)[0, 0]
        if pred_mask.any():
            roi = object_roi(pred_mask, [], self.expansion_ratio, self.min_crop_size)
            h, w = self.input_shape
            if bbox_iou(roi, (0, h - 1, 0, w - 1)) < 0.5:
                return True
        return False


class LimitLongestSide(ZoomIn):
    """Downscale the whole input when its longest side exceeds `max_size`."""

    def __init__(self, max_size: int = 800, cache: bool = True):
        super().__init__(target_size=max_size, skip_clicks=0, cache=cache)

    def transform(self, inp: NetInput, clicks_lists: ClickLists):
        assert inp.rgb.shape[0] == 1 and len(clicks_lists) == 1
        self.image_changed = False
        if max(inp.height, inp.width) <= self.target_size:
            # RITM keeps a stale region here; forgetting it keeps small inputs unscaled on the way back.
            self.object_roi = None
            return inp, clicks_lists
        roi = (0, inp.height - 1, 0, inp.width - 1)
        self.image_changed = self.object_roi != roi
        self.object_roi = roi
        self.input_shape = (inp.height, inp.width)
        return self._crop(inp), [self._map_clicks(clicks_lists[0])]

    def inv_transform(self, prob: Array) -> Array:
        # The region is always the whole input, so the result is the resized prediction. (RITM pastes it
        # into a map shaped like the previous one, which fails when zoom-in changed the input size since.)
        if self.object_roi is not None:
            prob = self._to_roi_size(prob)
        self.prev_probs = prob
        return prob

    def check_possible_recalculation(self) -> bool:
        return False


class Sigmoid(Transform):
    """Logits → probabilities on the way back (placed between the flip and the geometric transforms)."""

    def transform(self, inp: NetInput, clicks_lists: ClickLists):
        return inp, clicks_lists

    def inv_transform(self, prob: Array) -> Array:
        return ops.sigmoid(prob)


class HorizontalFlip(Transform):
    """Batch the input with its mirror image; average the two predictions on the way back."""

    def __init__(self, cache: bool = True):
        self.cache = cache
        self._rgb_cache: tuple[Hashable, Array] | None = None

    def clear_cache(self) -> None:
        self._rgb_cache = None

    def transform(self, inp: NetInput, clicks_lists: ClickLists):
        key = ("flip", inp.key)
        if self.cache and self._rgb_cache is not None and self._rgb_cache[0] == key:
            rgb = self._rgb_cache[1]
        else:
            rgb = ops.concat_batch(inp.rgb, ops.flip_width(inp.rgb))
            if self.cache:
                self._rgb_cache = (key, rgb)
        prev = ops.concat_batch(inp.prev, ops.flip_width(inp.prev))
        w = inp.width
        flipped = [[c._replace(col=w - c.col - 1) for c in clicks] for clicks in clicks_lists]
        return NetInput(rgb, prev, key), clicks_lists + flipped

    def inv_transform(self, prob: Array) -> Array:
        n = prob.shape[0] // 2
        return 0.5 * (prob[:n] + ops.flip_width(prob[n:]))
