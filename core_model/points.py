"""The clicks as the network takes them: the points tensor (the one definition, used by the predictor and by
training's click sampler and validation).

Per image, 2N rows of (row, col, click index): the first N rows are the positive clicks in their order,
the last N the negative ones, each half padded with (-1, -1, -1) (RITM's layout; the click maps treat a
row whose row and col are both negative as padding).  Coordinates are computed in double precision and
rounded once to float32, as RITM's torch.tensor does.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import numpy as np

PAD = (-1.0, -1.0, -1.0)


class NetClick(NamedTuple):
    """A click as the network sees it: float (row, col) in the current input, its sign and index."""
    row: float
    col: float
    is_positive: bool
    index: int


def net_clicks(clicks: Iterable, index_offset: int = 0) -> list[NetClick]:
    """Clicks (anything with row, col, is_positive, e.g. core_model.clicks.Click) numbered in their order
    from `index_offset` (RITM's click_indx_offset)."""
    return [NetClick(float(c.row), float(c.col), bool(c.is_positive), index_offset + i) for i, c in enumerate(clicks)]


def points_rows(clicks: Sequence[NetClick], n_points: int) -> np.ndarray:
    """2·n_points × 3 float32 rows of one image's clicks (see the module doc); ValueError when more than
    n_points clicks of one sign are given."""
    pos = [(c.row, c.col, c.index) for c in clicks if c.is_positive]
    neg = [(c.row, c.col, c.index) for c in clicks if not c.is_positive]
    if len(pos) > n_points or len(neg) > n_points:
        raise ValueError(f"{len(pos)} positive and {len(neg)} negative clicks do not fit {n_points} rows per sign.")
    rows = pos + [PAD] * (n_points - len(pos)) + neg + [PAD] * (n_points - len(neg))
    return np.asarray(rows, dtype=np.float64).reshape(2 * n_points, 3).astype(np.float32)


def points_tensor(clicks_lists: Sequence[Sequence[NetClick]], net_clicks_limit: int | None = None,
                  device="cpu", n_points: int | None = None):
    """B×2N×3 float32 for a batch of click lists.  N is `n_points`, or else the largest number of clicks of
    one sign in the batch (at least 1), capped by `net_clicks_limit`, which also keeps only each list's
    first `net_clicks_limit` clicks (RITM's net_clicks_limit)."""
    import torch
    return torch.from_numpy(points_array(clicks_lists, net_clicks_limit, n_points)).to(device)


def points_array(clicks_lists: Sequence[Sequence[NetClick]], net_clicks_limit: int | None = None,
                 n_points: int | None = None) -> np.ndarray:
    """points_tensor's B×2N×3 float32 as a numpy array (no torch)."""
    if n_points is None:
        counts = [sum(c.is_positive for c in cl) for cl in clicks_lists]
        counts += [len(cl) - p for cl, p in zip(clicks_lists, counts)]
        n_points = max(counts)
        if net_clicks_limit is not None:
            n_points = min(net_clicks_limit, n_points)
        n_points = max(1, n_points)
    return np.stack([points_rows(list(cl)[:net_clicks_limit], n_points) for cl in clicks_lists])
