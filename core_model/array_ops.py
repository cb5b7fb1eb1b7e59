"""The few array operations of the predictor's transforms, for torch tensors and numpy arrays alike.

The predictor runs on torch tensors with the torch engine and on numpy arrays with the ONNX Runtime engine
(core_model.predictor); its transforms (zoom-in, longest-side limit, sigmoid, flip) call these functions,
which do torch's operation on a tensor and the same arithmetic in numpy on an array.  torch is imported
only when a tensor is passed (a numpy-only process never imports it).

Bilinear resizing with align_corners=True follows torch's CPU kernel: per axis a float32 scale
(in − 1) / (out − 1), source index scale · i, the lower neighbour truncated and clamped, the weight the
remainder; rows are interpolated from the two column-interpolated neighbours.  It agrees with torch to a
few float32 ulps (the order of torch's fused multiply-adds is not reproduced bit for bit).
"""
from __future__ import annotations

import numpy as np


def is_numpy(x) -> bool:
    return isinstance(x, np.ndarray)


def _axis(n_in: int, n_out: int):
    scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
    src = np.arange(n_out, dtype=np.float32) * scale
    lo = np.minimum(src.astype(np.int64), n_in - 1)
    w1 = np.clip(src - lo.astype(np.float32), 0, 1).astype(np.float32)
    hi = lo + (lo < n_in - 1)
    return lo, hi, (np.float32(1) - w1), w1


def resize(x, size: tuple[int, int]):
    """B×C×H×W → B×C×size bilinear, align_corners=True."""
    if not is_numpy(x):
        import torch.nn.functional as F
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)
    h, w = int(size[0]), int(size[1])
    r0, r1, hr0, hr1 = _axis(x.shape[2], h)
    c0, c1, wc0, wc1 = _axis(x.shape[3], w)
    top, bottom = x[:, :, r0, :], x[:, :, r1, :]
    top = top[..., c0] * wc0 + top[..., c1] * wc1
    bottom = bottom[..., c0] * wc0 + bottom[..., c1] * wc1
    return (top * hr0[:, None] + bottom * hr1[:, None]).astype(np.float32, copy=False)


def flip_width(x):
    """Mirror along the last axis (a contiguous copy)."""
    if not is_numpy(x):
        import torch
        return torch.flip(x, dims=[3])
    return np.ascontiguousarray(x[..., ::-1])


def concat_batch(a, b):
    if not is_numpy(a):
        import torch
        return torch.cat([a, b], dim=0)
    return np.concatenate([a, b], axis=0)


def sigmoid(x):
    if not is_numpy(x):
        import torch
        return torch.sigmoid(x)
    return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32, copy=False)


def zeros(shape, like):
    """Zeros of `shape` with the type (and device) of `like`."""
    if not is_numpy(like):
        import torch
        return torch.zeros(shape, device=like.device, dtype=like.dtype)
    return np.zeros(shape, dtype=like.dtype)


def to_numpy(x) -> np.ndarray:
    """A numpy view or copy of `x` (from the CPU for a tensor)."""
    return x if is_numpy(x) else x.cpu().numpy()


def all_finite(x) -> bool:
    if not is_numpy(x):
        import torch
        return bool(torch.isfinite(x).all())
    return bool(np.isfinite(x).all())
