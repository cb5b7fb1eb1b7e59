"""Validation during training: simulated interactive sessions on the held-out images.

Each image is scaled so its longer side is `size` and padded to size × size (padding ignored). For up to
`max_clicks` clicks the RITM click simulator (core_model.clicks.next_click) adds a click in the larger
error region, the network predicts with its previous probabilities as the mask channel, and the IoU at
threshold 0.49 is recorded. IoU, NoC@X (the first click reaching X IoU, max_clicks when never reached)
and the points tensor are core_model's (core_model.noc, core_model.points), the definitions evaluation
uses. Images are batched; no zoom-in or flip, so it is a cheaper proxy of core_model.evaluate.
"""
from __future__ import annotations

import numpy as np
import torch

from core_model.noc import NOC_THRESHOLDS, iou, mean_iou_at, noc
from core_model.points import net_clicks, points_tensor

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
            points = points_tensor([net_clicks(cl) for cl in clicks], device=device)
            out = model(torch.cat((images, prev), dim=1), points)
            prev = torch.sigmoid(out["instances"])
            probs = prev[:, 0].cpu().numpy()
            for b, gt in enumerate(gts):
                preds[b] = probs[b] > THRESHOLD
                all_ious[start + b, k] = iou(gt, preds[b])
    model.train(was_training)
    return all_ious


def summarize(ious: np.ndarray, max_clicks: int) -> dict:
    if len(ious) == 0:
        return {}
    (noc85, noc90), _ = noc(list(ious), NOC_THRESHOLDS, max_clicks)
    out = {"val_noc85": noc85, "val_noc90": noc90}
    for k in range(1, min(5, max_clicks) + 1):
        out[f"val_miou@{k}"] = mean_iou_at(list(ious), k)
    out["val_images"] = len(ious)
    return out
