"""RITM's training losses on logits; labels are 1 object, 0 background, -1 ignore.

- Normalized focal loss (alpha 0.5, gamma 2): the focal weights (1 − p_t)^gamma of each image are
  rescaled so that they sum to the number of valid pixels (the rescaling factor carries no gradient),
  then the weighted −log p_t is averaged over valid pixels of each image and over the batch.
- Sigmoid binary cross-entropy (for the auxiliary output), averaged over all pixels, ignore pixels
  contributing zero.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -1


class NormalizedFocalLoss(nn.Module):
    def __init__(self, alpha: float = 0.5, gamma: float = 2.0, eps: float = 1e-12):
        super().__init__()
        self.alpha, self.gamma, self.eps = alpha, gamma, eps

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        label = label.view_as(logits)
        valid = (label != IGNORE).to(logits.dtype)
        positive = label > 0.5
        prob = torch.sigmoid(logits)
        alpha = torch.where(positive, self.alpha * valid, (1.0 - self.alpha) * valid)
        pt = torch.where(valid > 0, 1.0 - torch.abs(label - prob), torch.ones_like(prob))
        beta = (1.0 - pt) ** self.gamma
        valid_sum = valid.sum(dim=(-1, -2), keepdim=True)
        mult = (valid_sum / (beta.sum(dim=(-1, -2), keepdim=True) + self.eps)).detach()
        beta = beta * mult
        loss = -alpha * beta * torch.log(torch.clamp(pt + self.eps, max=1.0))
        loss = loss * valid
        per_image = loss.flatten(1).sum(1) / (valid.flatten(1).sum(1) + self.eps)
        return per_image.mean()


class SigmoidBCELoss(nn.Module):
    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        label = label.view_as(logits)
        valid = (label != IGNORE).to(logits.dtype)
        target = torch.where(valid > 0, label, torch.zeros_like(label))
        loss = torch.relu(logits) - logits * target + F.softplus(-torch.abs(logits))
        return (loss * valid).flatten(1).mean(1).mean()


class ITERMLoss(nn.Module):
    """focal(main) + aux_weight · BCE(aux), RITM's itermask weights (1.0 and 0.4)."""

    def __init__(self, aux_weight: float = 0.4):
        super().__init__()
        self.focal = NormalizedFocalLoss()
        self.bce = SigmoidBCELoss()
        self.aux_weight = aux_weight

    def forward(self, outputs: dict, gt: torch.Tensor) -> tuple[torch.Tensor, dict]:
        main = self.focal(outputs["instances"], gt)
        total = main
        parts = {"focal": float(main.detach())}
        if "instances_aux" in outputs and self.aux_weight > 0:
            aux = self.bce(outputs["instances_aux"], gt)
            total = total + self.aux_weight * aux
            parts["aux_bce"] = float(aux.detach())
        parts["loss"] = float(total.detach())
        return total, parts
