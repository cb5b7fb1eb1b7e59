"""RITM's iterative training with mask guidance (ITER-M), the part before the gradient step.

For a batch of images with sampled clicks, a random number 0…max_next_clicks of extra clicks is
simulated without gradients (network in eval mode): predict, put one click per image into the centre of
the larger error region of the prediction, feed the prediction back as the mask channel. Before the
training forward pass the previous mask of each image is dropped (zeroed) with probability
`prev_mask_drop_prob` when at least one extra click was simulated. New clicks overwrite the last point
slots (positive slot max_points − k, negative slot 2·max_points − k for the k-th extra click), as RITM does.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

PRED_THRESHOLD = 0.49


def error_click(prob: np.ndarray, gt: np.ndarray, rng: np.random.Generator,
                threshold: float = PRED_THRESHOLD) -> tuple[int, int, bool] | None:
    """(row, col, is_positive) inside the larger error region (false negatives vs false positives),
    drawn at random among the pixels farther than half the largest error distance from its boundary;
    None when the prediction has no error. gt: 1 object, 0 background, -1 ignore."""
    valid = gt >= 0
    obj = gt > 0.5
    fn = (obj & (prob < threshold) & valid).astype(np.uint8)
    fp = (~obj & (prob > threshold) & valid).astype(np.uint8)
    fn_dt = cv2.distanceTransform(np.pad(fn, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    fp_dt = cv2.distanceTransform(np.pad(fp, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    fn_max, fp_max = float(fn_dt.max()), float(fp_dt.max())
    if fn_max <= 0 and fp_max <= 0:
        return None
    positive = fn_max > fp_max
    dt = fn_dt if positive else fp_dt
    candidates = np.argwhere(dt > max(fn_max, fp_max) / 2.0)
    if len(candidates) == 0:
        return None
    r, c = candidates[int(rng.integers(0, len(candidates)))]
    return int(r), int(c), bool(positive)


def add_error_clicks(probs: torch.Tensor, gt: torch.Tensor, points: torch.Tensor, click_index: int,
                     rng: np.random.Generator) -> torch.Tensor:
    """A copy of `points` with the k-th (click_index ≥ 1) simulated click of every image written in."""
    assert click_index > 0
    probs_np = probs.detach().cpu().numpy()[:, 0]
    gt_np = gt.detach().cpu().numpy()[:, 0]
    n = points.shape[1] // 2
    points = points.clone()
    for b in range(probs_np.shape[0]):
        click = error_click(probs_np[b], gt_np[b], rng)
        if click is None:
            continue
        r, c, positive = click
        slot = (n - click_index) if positive else (2 * n - click_index)
        points[b, slot] = torch.tensor([float(r), float(c), float(click_index)], dtype=points.dtype)
    return points


def simulate_clicks(model, images: torch.Tensor, gt: torch.Tensor, points: torch.Tensor,
                    rng: np.random.Generator, max_next_clicks: int = 3,
                    prev_mask_drop_prob: float = 0.2) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(net_input B×4×H×W, points, number of simulated clicks) for the training forward pass."""
    prev = torch.zeros_like(images[:, :1])
    num = int(rng.integers(0, max_next_clicks + 1))
    if num > 0:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for k in range(1, num + 1):
                prev = torch.sigmoid(model(torch.cat((images, prev), dim=1), points)["instances"])
                points = add_error_clicks(prev, gt, points, k, rng)
        model.train(was_training)
        if prev_mask_drop_prob > 0:
            drop = torch.from_numpy(rng.random(images.shape[0]) < prev_mask_drop_prob)
            prev[drop] = 0.0
    return torch.cat((images, prev), dim=1), points, num
