"""RITM's multi-point click sampling for one training sample (facts of isegm MultiPointSampler).

- The object: one object of the sample (its `target` when it survived the crop), or, with probability
  `merge_prob`, the union of 2…`max_merged` objects.
- Positive clicks: 1 + k of them with P(k) ∝ gamma^k (k < max_points), uniform on the object mask
  eroded 3 times by a 3×3 kernel (with probability 0.9, when more than 10 pixels remain); with merged
  objects every object gets one click first.
- Negative clicks: k with P(k) ∝ gamma^k (k ≤ max_points, so possibly none); each one is drawn from
  the background (p 0.1), the other objects (p 0.4; the background when there are none) or a border band
  around the object ceil(0.1·sqrt(area)) pixels wide (p 0.5).
- Points: core_model.points' rows (the tensor the predictor builds too) with N = max_points: (2·max_points)×3
  rows (row, col, click index 100 — RITM's index for sampled clicks); the first max_points rows positive,
  the rest negative, (-1, -1, -1) padding. Ignore pixels are never clicked.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core_model.points import PAD, NetClick, points_rows  # noqa: F401 - PAD: this module's API too

SAMPLED_CLICK_INDEX = 100


@dataclass
class SamplerSettings:
    max_points: int = 24
    gamma: float = 0.80
    merge_prob: float = 0.15
    max_merged: int = 2
    erode_prob: float = 0.9
    erode_iters: int = 3
    expand_ratio: float = 0.1
    neg_bg_prob: float = 0.1
    neg_other_prob: float = 0.4
    neg_border_prob: float = 0.5


def geometric_probs(n: int, gamma: float) -> np.ndarray:
    p = gamma ** np.arange(n, dtype=np.float64)
    return p / p.sum()


def erode_positive(mask: np.ndarray, s: SamplerSettings, rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= s.erode_prob:
        return mask
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=s.erode_iters) > 0
    return eroded if eroded.sum() > 10 else mask


def border_band(mask: np.ndarray, expand_ratio: float) -> np.ndarray:
    radius = int(np.ceil(expand_ratio * np.sqrt(mask.sum())))
    if radius <= 0:
        return np.zeros_like(mask)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=radius) > 0
    return grown & ~mask


def choose_objects(labels: np.ndarray, target: int | None, s: SamplerSettings, rng: np.random.Generator) -> list[int]:
    ids = [int(i) for i in np.unique(labels) if i > 0]
    if not ids:
        return []
    if len(ids) > 1 and rng.random() < s.merge_prob:
        k = int(rng.integers(2, min(len(ids), s.max_merged) + 1))
        return [int(i) for i in rng.choice(ids, size=k, replace=False)]
    if target is not None and target in ids:
        return [target]
    return [int(rng.choice(ids))]


def _pick(mask_pixels: np.ndarray, rng: np.random.Generator, positive: bool = True) -> NetClick | None:
    if len(mask_pixels) == 0:
        return None
    r, c = mask_pixels[int(rng.integers(0, len(mask_pixels)))]
    return NetClick(float(r), float(c), positive, SAMPLED_CLICK_INDEX)


def sample_clicks(labels: np.ndarray, target: int | None, rng: np.random.Generator,
                  s: SamplerSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(gt, points): gt H×W float32 with 1 object, 0 background, -1 ignore; points (2·max_points)×3."""
    s = s or SamplerSettings()
    valid = labels >= 0
    chosen = choose_objects(labels, target, s, rng)
    obj = np.isin(labels, chosen) if chosen else np.zeros(labels.shape, dtype=bool)
    gt = obj.astype(np.float32)
    gt[~valid] = -1.0

    positives: list[NetClick] = []
    if chosen:
        per_object = [np.argwhere(erode_positive(labels == i, s, rng)) for i in chosen]
        n_pos = 1 + int(rng.choice(s.max_points, p=geometric_probs(s.max_points, s.gamma)))
        if len(chosen) == 1:
            for _ in range(n_pos):
                p = _pick(per_object[0], rng)
                if p is not None:
                    positives.append(p)
        else:
            positives = [p for p in (_pick(px, rng) for px in per_object) if p is not None]
            n_extra = int(rng.choice(s.max_points + 1, p=geometric_probs(s.max_points + 1, s.gamma)))
            for _ in range(n_extra):
                p = _pick(per_object[int(rng.integers(0, len(per_object)))], rng)
                if p is not None:
                    positives.append(p)
        positives = positives[:s.max_points]

    background = valid & ~obj
    others = valid & (labels > 0) & ~obj
    if not others.any():
        others = background
    border = border_band(obj, s.expand_ratio) & valid if chosen else background
    regions = [np.argwhere(background), np.argwhere(others), np.argwhere(border)]
    region_probs = np.array([s.neg_bg_prob, s.neg_other_prob, s.neg_border_prob], dtype=np.float64)
    region_probs /= region_probs.sum()
    negatives: list[NetClick] = []
    n_neg = int(rng.choice(s.max_points + 1, p=geometric_probs(s.max_points + 1, s.gamma)))
    for _ in range(n_neg):
        p = _pick(regions[int(rng.choice(3, p=region_probs))], rng, positive=False)
        if p is not None:
            negatives.append(p)
    return gt, points_rows(positives + negatives, s.max_points)
