"""RITM's click maps (DistMaps) in numpy, for the ONNX Runtime engine: the arithmetic of
core_model.click_maps (the torch reference) step for step in float32.

`points` is B×2N×3 float32 (row, col, click index; first N positive, last N negative; rows with
max(row, col) < 0 are padding); the result is B×2×rows×cols float32: disks (1 inside the radius) or
tanh(2·distance / radius).
"""
from __future__ import annotations

import numpy as np

_FAR = np.float32(1e6)  # squared "distance" given to padding clicks (as RITM does)


def click_maps_array(points: np.ndarray, rows: int, cols: int, norm_radius: float, use_disks: bool,
                     spatial_scale: float = 1.0) -> np.ndarray:
    batch, n_points = points.shape[0], points.shape[1] // 2
    if n_points == 0:
        dist2 = np.full((batch, 2, rows, cols), _FAR, dtype=np.float32)
    else:
        pts = points.reshape(-1, points.shape[2])[:, :2].astype(np.float32)
        invalid = pts.max(axis=1) < 0
        centre = pts * np.float32(spatial_scale)
        d_row = np.arange(rows, dtype=np.float32)[None, :] - centre[:, :1]
        d_col = np.arange(cols, dtype=np.float32)[None, :] - centre[:, 1:2]
        if not use_disks:
            radius = np.float32(norm_radius * spatial_scale)
            d_row = d_row / radius
            d_col = d_col / radius
        dist2 = (d_row * d_row)[:, :, None] + (d_col * d_col)[:, None, :]
        dist2[invalid] = _FAR
        dist2 = dist2.reshape(batch, 2, n_points, rows, cols).min(axis=2)
    if use_disks:
        return (dist2 <= np.float32((norm_radius * spatial_scale) ** 2)).astype(np.float32)
    return np.tanh(np.sqrt(dist2) * np.float32(2)).astype(np.float32, copy=False)
