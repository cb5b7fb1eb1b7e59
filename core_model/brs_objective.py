"""What back-propagating refinement minimises at a click, and the minimiser (RITM's brs_functors/brs_losses).

The objective takes the auxiliary parameters as one flat float64 vector (scipy's convention) and returns
the loss and its gradient: how far the clicked pixels are from the labels the user gave them (mean squared
error of the probabilities over 3 × 3 squares around the positive and the negative clicks) plus an L2
penalty on the parameters.  As in RITM, the gradient is reported as zero — which ends L-BFGS-B — once
every clicked pixel is on the right side of the threshold, or once the mask stops changing (IoU with the
previous evaluation's mask above 0.99).  The best prediction seen during the search is what the click
gets.  Minimised with scipy's L-BFGS-B and RITM's settings (LBFGS_PARAMS).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

# RITM's get_predictor defaults: maxiter is 2 · maxfun.
LBFGS_PARAMS = dict(m=20, factr=0, pgtol=1e-8, maxfun=20, maxiter=40)
REG_WEIGHT = 1e-3          # weight of the L2 penalty on the parameters
REG_BIAS_WEIGHT = 10.0     # f-BRS: extra weight of the bias in the penalty
MIN_IOU_DIFF = 0.01        # stop when the mask changes less than this (1 - IoU)
LOSS_EPS = 1e-5


def click_masks(clicks_lists: Sequence[Sequence], shape: tuple[int, int], device,
                radius: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """B×1×H×W float32 maps of the (2·radius + 1)² squares around the positive and the negative clicks of
    each click list (rows and columns rounded half to even, numpy slicing — RITM's _get_clicks_maps_nd)."""
    pos = np.zeros((len(clicks_lists), 1) + tuple(shape), dtype=np.float32)
    neg = np.zeros_like(pos)
    for i, clicks in enumerate(clicks_lists):
        for c in clicks:
            y, x = int(round(c.row)), int(round(c.col))
            target = pos if c.is_positive else neg
            target[i, 0, y - radius:y + radius + 1, x - radius:x + radius + 1] = 1.0
    return torch.from_numpy(pos).to(device), torch.from_numpy(neg).to(device)


def mask_loss(result: torch.Tensor, pos_mask: torch.Tensor, neg_mask: torch.Tensor):
    """RITM's BRSMaskLoss: (loss, largest error at a positive pixel, largest at a negative one)."""
    pos_diff = (1 - result) * pos_mask
    neg_diff = result * neg_mask
    loss = (torch.sum(pos_diff ** 2) / (torch.sum(pos_mask) + LOSS_EPS)
            + torch.sum(neg_diff ** 2) / (torch.sum(neg_mask) + LOSS_EPS))
    with torch.no_grad():
        return loss, float(pos_diff.abs().max()), float(neg_diff.abs().max())


def batch_iou(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """IoU of two boolean B×… masks per batch element, for elements whose union is not empty."""
    dims = tuple(range(1, a.dim()))
    union = torch.mean((a | b).float(), dim=dims).cpu().numpy()
    inter = torch.mean((a & b).float(), dim=dims).cpu().numpy()
    keep = union > 0
    return inter[keep] / union[keep]


class ClickObjective:
    """f(x) and ∇f(x) for scipy, over the parameters that `unpack` turns into the arguments of `logits_of`
    (which returns the network's B×1×H×W logits at the click masks' size)."""

    def __init__(self, logits_of: Callable[..., torch.Tensor], unpack: Callable, pos_mask: torch.Tensor,
                 neg_mask: torch.Tensor, threshold: float, device):
        self.logits_of = logits_of
        self.unpack = unpack
        self.pos_mask, self.neg_mask = pos_mask, neg_mask
        self.threshold = threshold
        self.device = device
        self.best_logits: torch.Tensor | None = None
        self.best_loss = None
        self.evaluations = 0
        self._last_mask: torch.Tensor | None = None

    def __call__(self, x: np.ndarray):
        self.evaluations += 1
        params = torch.from_numpy(x).float().to(self.device).requires_grad_(True)
        with torch.enable_grad():
            args, reg_loss = self.unpack(params)
            logits = self.logits_of(*args)
            result = torch.sigmoid(logits)
            loss, max_pos, max_neg = mask_loss(result, self.pos_mask, self.neg_mask)
            loss = loss + reg_loss
        f_val = loss.detach().cpu().numpy()
        if self.best_logits is None or f_val < self.best_loss:
            self.best_logits, self.best_loss = logits.detach(), f_val
        if max_pos < 1 - self.threshold and max_neg < self.threshold:
            return f_val, np.zeros_like(x)
        current = (result > self.threshold).detach()
        if self._last_mask is not None and MIN_IOU_DIFF > 0:
            ious = batch_iou(current, self._last_mask)
            if len(ious) and ious.mean() > 1 - MIN_IOU_DIFF:
                return f_val, np.zeros_like(x)
        self._last_mask = current
        loss.backward()
        return f_val, params.grad.cpu().numpy().ravel().astype(np.float64)


def minimize(objective: ClickObjective, x0: np.ndarray) -> np.ndarray:
    """Run scipy's L-BFGS-B from x0 with RITM's settings; returns the final parameters (float64)."""
    from scipy.optimize import fmin_l_bfgs_b
    x, _, _ = fmin_l_bfgs_b(func=objective, x0=x0, **LBFGS_PARAMS)
    return x


def scale_bias_unpack(n_batch: int, flip: bool) -> Callable:
    """f-BRS: x = [scale offsets, biases] → (1 + scale, bias) of B×C×1×1 (repeated for the mirrored half of
    a flip batch) and the penalty REG_WEIGHT · (|s|² + REG_BIAS_WEIGHT · |b|²)."""
    def unpack(params: torch.Tensor):
        scale, bias = torch.chunk(params, 2, dim=0)
        reg = REG_WEIGHT * (torch.sum(scale ** 2) + REG_BIAS_WEIGHT * torch.sum(bias ** 2))
        scale, bias = (1 + scale).view(n_batch, -1, 1, 1), bias.view(n_batch, -1, 1, 1)
        if flip:
            scale, bias = scale.repeat(2, 1, 1, 1), bias.repeat(2, 1, 1, 1)
        return (scale, bias), reg
    return unpack


def input_bias_unpack(shape: tuple[int, ...], flip: bool) -> Callable:
    """RGB-/DistMap-BRS: x → the input bias of `shape` (B×C×H×W), batched with its mirror image for a flip
    batch, and the penalty REG_WEIGHT · |bias|² (over the whole batch, as RITM)."""
    def unpack(params: torch.Tensor):
        bias = params.view(shape)
        if flip:
            bias = torch.cat([bias, torch.flip(bias, dims=[3])], dim=0)
        return (bias,), REG_WEIGHT * torch.sum(bias ** 2)
    return unpack
