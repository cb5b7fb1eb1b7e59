"""The depth buffer of a terrain grid seen by a camera, rasterised as a triangulated surface.

Every grid cell between four neighbouring grid points is split into two triangles; each triangle is
drawn into the photo with perspective-correct depth (1/depth interpolated linearly in the image) at
the centres of the pixels it covers, and every pixel keeps the least depth.  So a pixel holds the
depth of the terrain surface really under its centre, whatever the angle the surface is seen at: a
far point is compared with the nearest surface along its own line of sight, not with a splat that
may overhang a ridge's silhouette.  Triangles that cover more than ``MAX_TRIANGLE_PX`` pixels in
either direction (ground near the camera) are left to the caller (terrain_projection.py resamples
that ground finer).  Vectorised: triangles are grouped by the size of their pixel bounding box, and
the minimum per pixel is taken by sorting (no per-pixel loop).
"""
from __future__ import annotations

import numpy as np

MAX_TRIANGLE_PX = 24  # largest pixel bounding box side drawn here
BATCH_PIXELS = 4_000_000  # candidate pixel samples per vectorised batch


def rasterise_surface(col, row, depth, image_size) -> np.ndarray:
    """Flat H×W buffer (inf where no triangle covers a pixel centre) of the grid surface whose
    vertices are projected to ``col``, ``row`` (grid-shaped, pixel units, (0, 0) the top-left corner
    of the photo) at ``depth``; vertices with a non-finite or non-positive depth drop their triangles."""
    w, h = image_size
    col, row, depth = (np.asarray(a, dtype=np.float64) for a in (col, row, depth))
    ok = np.isfinite(col) & np.isfinite(row) & np.isfinite(depth) & (depth > 0)
    zbuf = np.full(w * h, np.inf)
    if col.ndim != 2 or min(col.shape) < 2:
        return zbuf
    rows, cols = col.shape
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([b, d, c])])
    flat_ok = ok.ravel()
    tri = tri[flat_ok[tri].all(axis=1)]
    x, y, inv = col.ravel()[tri], row.ravel()[tri], 1.0 / depth.ravel()[tri]
    c0 = np.ceil(x.min(axis=1) - 0.5).astype(np.int64)
    c1 = np.floor(x.max(axis=1) - 0.5).astype(np.int64)
    r0 = np.ceil(y.min(axis=1) - 0.5).astype(np.int64)
    r1 = np.floor(y.max(axis=1) - 0.5).astype(np.int64)
    c0, r0 = np.maximum(c0, 0), np.maximum(r0, 0)
    c1, r1 = np.minimum(c1, w - 1), np.minimum(r1, h - 1)
    nc, nr = c1 - c0 + 1, r1 - r0 + 1
    drawn = (nc >= 1) & (nr >= 1) & (nc <= MAX_TRIANGLE_PX) & (nr <= MAX_TRIANGLE_PX)
    x, y, inv, c0, r0, nc, nr = x[drawn], y[drawn], inv[drawn], c0[drawn], r0[drawn], nc[drawn], nr[drawn]
    pixels, depths = [], []
    key = nc * (MAX_TRIANGLE_PX + 1) + nr
    for k in np.unique(key):
        sel = np.flatnonzero(key == k)
        mc, mr = int(nc[sel[0]]), int(nr[sel[0]])
        dr, dc = (v.ravel() for v in np.mgrid[0:mr, 0:mc])
        per = max(1, BATCH_PIXELS // (mr * mc))
        for s in range(0, len(sel), per):
            t = sel[s:s + per]
            px = (c0[t, None] + dc[None, :]) + 0.5
            py = (r0[t, None] + dr[None, :]) + 0.5
            pix, dep = _cover(x[t], y[t], inv[t], px, py)
            pixels.append(np.floor(pix[:, 1]).astype(np.int64) * w + np.floor(pix[:, 0]).astype(np.int64))
            depths.append(dep)
    if pixels:
        pix, dep = np.concatenate(pixels), np.concatenate(depths)
        order = np.argsort(dep, kind="stable")
        first_pix, first = np.unique(pix[order], return_index=True)
        zbuf[first_pix] = np.minimum(zbuf[first_pix], dep[order][first])
    return zbuf


def _cover(x, y, inv, px, py):
    """(pixel centres N×2, depths) of the candidate centres ``px``, ``py`` (T×K) inside triangles T."""
    x0, x1, x2 = x[:, 0, None], x[:, 1, None], x[:, 2, None]
    y0, y1, y2 = y[:, 0, None], y[:, 1, None], y[:, 2, None]
    den = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
    with np.errstate(divide="ignore", invalid="ignore"):
        l0 = ((y1 - y2) * (px - x2) + (x2 - x1) * (py - y2)) / den
        l1 = ((y2 - y0) * (px - x2) + (x0 - x2) * (py - y2)) / den
    l2 = 1.0 - l0 - l1
    eps = -1e-9
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps) & (den != 0)
    inv_depth = l0 * inv[:, 0, None] + l1 * inv[:, 1, None] + l2 * inv[:, 2, None]
    return np.column_stack([px[inside], py[inside]]), 1.0 / inv_depth[inside]
