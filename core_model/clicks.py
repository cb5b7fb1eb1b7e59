"""Clicks, the click list a user builds, and RITM's click simulator.

Coordinates are (row, col) in image pixels, RITM's convention. The simulator puts the next click at the
interior point of the larger error region (false negatives vs false positives) that lies farthest from
that region's boundary, exactly as RITM's evaluation does, so simulated sessions match RITM's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

IGNORE_LABEL = -1


@dataclass(frozen=True)
class Click:
    row: int
    col: int
    is_positive: bool


class Clicker:
    """Owns the ordered list of clicks of one object; `index_offset` numbers the first click (RITM's
    click_indx_offset: 1 when an existing outline stands in for a first interaction; see
    core_model.points.net_clicks)."""

    def __init__(self, index_offset: int = 0):
        self.index_offset = index_offset
        self._clicks: list[Click] = []

    def add(self, click: Click) -> None:
        self._clicks.append(click)

    def pop(self) -> Click:
        return self._clicks.pop()

    def reset(self) -> None:
        self._clicks.clear()

    @property
    def clicks(self) -> list[Click]:
        return list(self._clicks)

    def __len__(self) -> int:
        return len(self._clicks)


def _object_and_valid(gt: np.ndarray, ignore: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    gt = np.asarray(gt)
    if gt.dtype == bool:
        obj = gt
        valid = np.ones(gt.shape, dtype=bool)
    else:
        obj = gt == 1
        valid = gt != IGNORE_LABEL
    if ignore is not None:
        valid = np.logical_and(valid, np.logical_not(np.asarray(ignore, dtype=bool)))
    return obj, valid


def _inner_distance(region: np.ndarray) -> np.ndarray:
    """Distance of each region pixel to the nearest non-region pixel; the image border counts as
    outside (one pixel of zero padding, as RITM does)."""
    import cv2  # here, so that importing the click types needs numpy only
    padded = np.pad(region.astype(np.uint8), 1, mode="constant")
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 0)
    return dist[1:-1, 1:-1]


def next_click(gt: np.ndarray, pred: np.ndarray, ignore: np.ndarray | None = None,
               clicked: Iterable[Click | Sequence[int]] = ()) -> Click:
    """RITM's simulated user: the next click for prediction `pred` (bool H×W) against `gt`.

    `gt` is bool, or int with 1 = object and -1 = ignore; `ignore` adds more ignored pixels. Pixels
    already clicked (`clicked`, Clicks or (row, col)) are never chosen again.
    """
    obj, valid = _object_and_valid(gt, ignore)
    pred = np.asarray(pred, dtype=bool)
    if pred.shape != obj.shape:
        raise ValueError(f"The prediction is {pred.shape[1]}×{pred.shape[0]} pixels but the ground truth "
                         f"is {obj.shape[1]}×{obj.shape[0]}; pass masks of the same size.")
    fn = obj & ~pred & valid
    fp = ~obj & pred & valid
    fn_dist = _inner_distance(fn)
    fp_dist = _inner_distance(fp)
    not_clicked = np.ones(obj.shape, dtype=np.float32)
    for c in clicked:
        r, cc = (c.row, c.col) if isinstance(c, Click) else (c[0], c[1])
        not_clicked[int(r), int(cc)] = 0
    fn_dist = fn_dist * not_clicked
    fp_dist = fp_dist * not_clicked
    fn_max = fn_dist.max()
    fp_max = fp_dist.max()
    positive = bool(fn_max > fp_max)
    dist, best = (fn_dist, fn_max) if positive else (fp_dist, fp_max)
    rows, cols = np.where(dist == best)
    return Click(int(rows[0]), int(cols[0]), positive)


class ClickSimulator:
    """A simulated user for one ground-truth mask; remembers its clicks so none is repeated."""

    def __init__(self, gt: np.ndarray, ignore: np.ndarray | None = None):
        self.gt = np.asarray(gt)
        self.ignore = ignore
        self.clicks: list[Click] = []

    def next(self, pred: np.ndarray) -> Click:
        click = next_click(self.gt, pred, self.ignore, self.clicks)
        self.clicks.append(click)
        return click
