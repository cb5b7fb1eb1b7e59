"""RITM's NoC protocol: IoU with ignored pixels left out, number of clicks to reach an IoU, over-budget counts,
and one simulated session of a predictor on one image (RITM's evaluate_sample)."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .clicks import IGNORE_LABEL, ClickSimulator

DEFAULT_MAX_CLICKS = 20
NOC_THRESHOLDS = (0.85, 0.90)
IOU_CURVE_CLICKS = 5
TARGET_IOU = 0.90


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


def evaluate_sample(predictor, image, gt, max_clicks: int = 20, target_iou: float = TARGET_IOU,
                    min_clicks: int = IOU_CURVE_CLICKS, on_click=None):
    """RITM's evaluate_sample: returns (ious per click, clicks, seconds spent in the predictor).
    `on_click(clicks, mask, iou)`, when given, sees the session after each click (for pictures)."""
    simulator = ClickSimulator(gt)
    predictor.set_image(image)
    pred = np.zeros(gt.shape, dtype=bool)
    ious, spent = [], 0.0
    for k in range(max_clicks):
        click = simulator.next(pred)
        start = time.perf_counter()
        predictor.add_click(click.row, click.col, click.is_positive)
        spent += time.perf_counter() - start
        pred = predictor.mask
        ious.append(iou(gt, pred))
        if on_click is not None:
            on_click(list(simulator.clicks), pred, ious[-1])
        if ious[-1] >= target_iou and k + 1 >= min_clicks:
            break
    return np.array(ious, dtype=np.float64), simulator.clicks, spent
