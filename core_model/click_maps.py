"""Click encoding: RITM's DistMaps (disks or tanh-normalised distance maps) for positive/negative clicks.

`points` is B×2N×3 float: rows of (row, col, click index); the first N rows are positive clicks, the last N
negative; rows with max(row, col) < 0 are padding.  The result is B×2×H×W: channel 0 positive, 1 negative.
"""
from __future__ import annotations

import torch
from torch import nn

_FAR = 1e6  # squared "distance" given to padding clicks (as RITM does)


def click_maps(points: torch.Tensor, rows: int, cols: int, norm_radius: float,
               use_disks: bool, spatial_scale: float = 1.0) -> torch.Tensor:
    """Encode clicks as B×2×rows×cols maps, numerically identical to RITM's DistMaps (GPU/torch path)."""
    batch = points.shape[0]
    n_points = points.shape[1] // 2
    pts = points.reshape(-1, points.shape[2])[:, :2].to(torch.float32)
    invalid = pts.max(dim=1).values < 0
    centre = pts * spatial_scale
    row_axis = torch.arange(rows, dtype=torch.float32, device=points.device)
    col_axis = torch.arange(cols, dtype=torch.float32, device=points.device)
    d_row = row_axis[None, :] - centre[:, :1]          # P×rows
    d_col = col_axis[None, :] - centre[:, 1:2]         # P×cols
    if not use_disks:
        d_row = d_row / (norm_radius * spatial_scale)
        d_col = d_col / (norm_radius * spatial_scale)
    dist2 = d_row.mul_(d_row)[:, :, None] + d_col.mul_(d_col)[:, None, :]   # P×rows×cols
    dist2[invalid] = _FAR
    dist2 = dist2.view(batch, 2, n_points, rows, cols).amin(dim=2) if n_points > 0 else \
        torch.full((batch, 2, rows, cols), _FAR, device=points.device)
    if use_disks:
        return (dist2 <= (norm_radius * spatial_scale) ** 2).to(torch.float32)
    return torch.tanh(torch.sqrt(dist2) * 2)


class ClickMaps(nn.Module):
    """Module wrapper (no parameters, so nothing appears in the state dict — like RITM's `dist_maps`)."""

    def __init__(self, norm_radius: float, use_disks: bool = False, spatial_scale: float = 1.0):
        super().__init__()
        self.norm_radius = norm_radius
        self.use_disks = use_disks
        self.spatial_scale = spatial_scale

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return click_maps(points, image.shape[2], image.shape[3], self.norm_radius, self.use_disks,
                          self.spatial_scale)
