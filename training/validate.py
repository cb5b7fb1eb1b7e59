"""Validation during training: simulated interactive sessions on the held-out images.

Each image is scaled so its longer side is `size` and padded to size × size (padding ignored). For up to
`max_clicks` clicks the RITM click simulator (core_model.clicks.next_click) adds a click in the larger
error region, the network predicts with its previous probabilities as the mask channel, and the IoU at
threshold 0.49 is recorded. NoC@X = the first click reaching X IoU (max_clicks when never reached).
Images are batched; no zoom-in or flip, so it is a cheaper proxy of core_model.evaluate.
"""
from __future__ import annotations

import numpy as np
import torch

from .augment import fit_long_side, pad_to
from .datasets import Sample

THRESHOLD = 0.49


def prepare(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(image size×size×3 uint8, gt int8 1/0/-1) or None when the sample has no object."""
    target = sample.target if sample.target is not None else (sample.object_ids() or [None])[0]
    if target is None or not (sample.labels == target).any():
        return None
    s = pad_to(fit_long_side(sample, size), size, size, label_fill=-1)
    gt = np.where(s.labels == target, 1, np.where(s.labels < 0, -1, 0)).astype(np.int8)
    return s.image, gt


def points_tensor(clicks: list[list]) -> torch.Tensor:
    """B×2N×3 (row, col, click index) from per-image click lists; first N positive, last N negative."""
    n = max(1, max(max(sum(c.is_positive for c in cl), sum(not c.is_positive for c in cl)) for cl in clicks))
    pts = torch.full((len(clicks), 2 * n, 3), -1.0)
    for b, cl in enumerate(clicks):
        npos = nneg = 0
        for k, c in enumerate(cl):
            if c.is_positive:
                pts[b, npos] = torch.tensor([c.row, c.col, k], dtype=torch.float32)
                npos += 1
            else:
                pts[b, n + nneg] = torch.tensor([c.row, c.col, k], dtype=torch.float32)
                nneg += 1
    return pts


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    valid = gt >= 0
    obj = gt == 1
    union = np.logical_and(np.logical_or(pred, obj), valid).sum()
    inter = np.logical_and(np.logical_and(pred, obj), valid).sum()
    return float(inter / union) if union > 0 else 1.0


def noc(ious: np.ndarray, threshold: float, max_clicks: int) -> float:
    hit = np.flatnonzero(ious >= threshold)
    return float(hit[0] + 1) if hit.size else float(max_clicks)


@torch.no_grad()
def run_sessions(model, items: list[tuple[np.ndarray, np.ndarray]], max_clicks: int = 20,
                 batch_size: int = 8, device="cpu") -> np.ndarray:
    """IoU after each click: len(items) × max_clicks."""
    from core_model.clicks import next_click

    was_training = model.training
    model.eval()
    all_ious = np.zeros((len(items), max_clicks), dtype=np.float64)
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        images = torch.from_numpy(np.stack([im for im, _ in chunk])).permute(0, 3, 1, 2).float().div(255).to(device)
        gts = [gt for _, gt in chunk]
        prev = torch.zeros_like(images[:, :1])
        preds = [np.zeros(gt.shape, dtype=bool) for gt in gts]
        clicks: list[list] = [[] for _ in chunk]
        for k in range(max_clicks):
            for b, gt in enumerate(gts):
                clicks[b].append(next_click(gt, preds[b], clicked=clicks[b]))
            out = model(torch.cat((images, prev), dim=1), points_tensor(clicks).to(device))
            prev = torch.sigmoid(out["instances"])
            probs = prev[:, 0].cpu().numpy()
            for b, gt in enumerate(gts):
                preds[b] = probs[b] > THRESHOLD
                all_ious[start + b, k] = iou(preds[b], gt)
    model.train(was_training)
    return all_ious


def summarize(ious: np.ndarray, max_clicks: int) -> dict:
    if len(ious) == 0:
        return {}
    out = {"val_noc85": float(np.mean([noc(r, 0.85, max_clicks) for r in ious])),
           "val_noc90": float(np.mean([noc(r, 0.90, max_clicks) for r in ious]))}
    for k in range(1, min(5, max_clicks) + 1):
        out[f"val_miou@{k}"] = float(ious[:, k - 1].mean())
    out["val_images"] = len(ious)
    return out
