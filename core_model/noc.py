"""RITM's NoC protocol: IoU with ignored pixels left out, number of clicks to reach an IoU, over-budget counts."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .clicks import IGNORE_LABEL

DEFAULT_MAX_CLICKS = 20
NOC_THRESHOLDS = (0.85, 0.90)


def iou(gt: np.ndarray, pred: np.ndarray, ignore_label: int = IGNORE_LABEL) -> float:
    """IoU of `pred` (bool) with the object (gt == 1), pixels labelled `ignore_label` excluded.
    An empty object predicted as empty counts as 1.0 (RITM divides 0 by 0 there)."""
    gt = np.asarray(gt)
    pred = np.asarray(pred, dtype=bool)
    valid = gt != ignore_label
    obj = gt == 1
    inter = np.count_nonzero(pred & obj & valid)
    union = np.count_nonzero((pred | obj) & valid)
    return 1.0 if union == 0 else inter / union


def clicks_to_reach(ious: Sequence[float], thr: float, max_clicks: int = DEFAULT_MAX_CLICKS) -> int:
    """Number of clicks after which the IoU first reaches `thr`; `max_clicks` if it never does."""
    hits = np.asarray(ious, dtype=np.float64) >= thr
    return int(np.argmax(hits)) + 1 if hits.any() else max_clicks


def noc(all_ious: Sequence[Sequence[float]], thresholds: Sequence[float] = NOC_THRESHOLDS,
        max_clicks: int = DEFAULT_MAX_CLICKS) -> tuple[list[float], list[int]]:
    """Mean NoC per threshold and, per threshold, how many objects used the whole click budget
    (NoC == max_clicks, as RITM counts them)."""
    nocs, over = [], []
    for thr in thresholds:
        n = np.array([clicks_to_reach(x, thr, max_clicks) for x in all_ious], dtype=np.int64)
        nocs.append(float(n.mean()) if n.size else float("nan"))
        over.append(int((n == max_clicks).sum()))
    return nocs, over


def mean_iou_at(all_ious: Sequence[Sequence[float]], k: int) -> float:
    """Mean IoU after click k (1-based) over objects; a session that stopped earlier (target reached)
    keeps its last IoU."""
    vals = [x[k - 1] if len(x) >= k else x[-1] for x in all_ious if len(x)]
    return float(np.mean(vals)) if vals else float("nan")
