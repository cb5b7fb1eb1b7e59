"""A photo mask -> the visible terrain it shows, as polygons in the DEM's CRS.

``TerrainProjector(camera, dem, resolution)`` does the expensive part once per camera and DEM:

1. the ground grid: the DEM's own cells, or a grid of ``resolution`` map units over the DEM's extent
   with bilinear heights;
2. every grid point is projected into the photo (vectorised ``Camera.project``);
3. a depth buffer per photo pixel keeps the depth of the nearest terrain.  A grid point covers about
   ``resolution × focal / depth`` photo pixels, so it is splatted over a square of 1.5 times that side
   (the grid's diagonals run sqrt(2) times its spacing) centred on it, by a minimum filter per splat
   size; where the footprint exceeds ``SUBDIVIDE_PX`` (terrain near the camera) the DEM's bilinear
   surface over the cell is sampled finer first.  So a near slope or ridge hides what is behind it
   without holes, also when it lies just outside the photo;
4. a point is visible when it faces the camera (its DEM normal, from the grid's gradient) and its
   depth is within a tolerance of the buffer at its pixel: ``1.5 × resolution + (0.75 × resolution +
   depth / focal) / max(sin θ, 0.15)``, θ the angle between its line of sight and the surface (a
   surface seen at a grazing angle spans a long depth range within one pixel or splat).  Occluded
   ground, typically tens to hundreds of metres behind its occluder, is not claimed; ground seen at
   a very grazing angle may not be claimed either (the projection errs on the side of less).

``project(mask)`` claims the visible grid cells whose centre falls on a True mask pixel, vectorises
them (engine/vectorize.py: ``gdal.Polygonize``, vertices on the grid's cell corners, in the DEM's CRS)
and reports: the mask pixels that hit no terrain (sky, beyond the DEM), the visible fraction (mask
pixels on terrain / mask pixels), the mean distance from the camera and the min/max elevation of the
claimed cells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter

from ..errors import CameraError
from ..vectorize import mask_to_polygons, total_area
from .camera import Camera
from .dem import Dem

MAX_SPLAT_PX = 64  # largest splat side; nearer ground is resampled finer (SUBDIVIDE_PX)
SUBDIVIDE_PX = 8  # ground points with a larger footprint are resampled finer for the depth buffer
MAX_SUBDIVISION = 64
SPLAT_SCALE = 1.5  # a splat's side / the point's footprint: grid diagonals are sqrt(2) longer
SPLAT_RADII = np.array([0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32])  # px; a splat is (2 r + 1) px square
MAX_GRID_CELLS = 60_000_000
NEAR_M = 1.0  # points closer than this to the camera are ignored
MIN_SIN_INCIDENCE = 0.15  # grazing lines of sight: the depth tolerance stops growing here
DEFAULT_MIN_CELLS = 2  # parts (and holes) smaller than this many grid cells are dropped (filled)


@dataclass
class ProjectedObject:
    polygons_wkt: list[str]  # POLYGONs in the DEM's CRS, largest first
    n_mask_px: int
    n_sky_px: int  # mask pixels that hit no terrain
    n_cells: int  # grid cells claimed
    mean_distance: float  # from the camera, map units (NaN when nothing is claimed)
    z_min: float
    z_max: float

    @property
    def visible_fraction(self) -> float:
        """Mask pixels on terrain / mask pixels."""
        return (self.n_mask_px - self.n_sky_px) / self.n_mask_px if self.n_mask_px else 0.0

    @property
    def area(self) -> float:
        return total_area(self.polygons_wkt)


def _ground_grid(dem: Dem, resolution: float | None):
    """(geotransform, x, y, z) of the ground grid (2-D arrays)."""
    square = math.isclose(dem.geotransform[1], -dem.geotransform[5], rel_tol=1e-9)
    if resolution is None and square or resolution is not None and square and \
            math.isclose(resolution, dem.cell_size, rel_tol=1e-9):
        x, y = dem.cell_centres()
        return dem.geotransform, x, y, dem.z
    resolution = dem.cell_size if resolution is None else float(resolution)
    if not resolution > 0:
        raise CameraError(f"The ground resolution must be positive, not {resolution:g}.")
    xmin, ymin, xmax, ymax = dem.extent
    cols, rows = int(math.ceil((xmax - xmin) / resolution)), int(math.ceil((ymax - ymin) / resolution))
    if cols * rows > MAX_GRID_CELLS:
        raise CameraError(f"A ground resolution of {resolution:g} gives {cols}×{rows} cells over the DEM; choose a "
                          f"coarser one (at least {math.sqrt((xmax - xmin) * (ymax - ymin) / MAX_GRID_CELLS):.2f}).")
    gt = (xmin, resolution, 0.0, ymax, 0.0, -resolution)
    x, y = np.meshgrid(xmin + (np.arange(cols) + 0.5) * resolution, ymax - (np.arange(rows) + 0.5) * resolution)
    return gt, x, y, dem.sample(x, y)


def _unit_normals(z: np.ndarray, cell: float) -> np.ndarray:
    """Upward unit normals (rows × cols × 3) of a north-up grid; NaN next to nodata."""
    d_row, d_col = np.gradient(z, cell)
    n = np.stack([-d_col, d_row, np.ones_like(z)], axis=-1)  # dz/dy (north) = -dz/drow
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def depth_buffer(col, row, depth, image_size, focal_px: float, resolution: float) -> np.ndarray:
    """Flat H×W buffer of the nearest depth of ground points of spacing ``resolution``, each splatted
    over a square of about its footprint (see the module doc); inf where no terrain is seen.

    Points are grouped by splat radius (rounded up to one of ``SPLAT_RADII``); each group's depths go
    to their centre pixels (``np.minimum.at``) and a minimum filter of the group's square spreads them
    (scipy.ndimage, cost independent of how many points overlap)."""
    w, h = image_size
    pad = MAX_SPLAT_PX // 2 + 1
    zbuf = np.full((h + 2 * pad, w + 2 * pad), np.inf)
    if depth.size == 0:
        return zbuf[pad:-pad, pad:-pad].ravel().copy()
    half = np.minimum(0.5 * SPLAT_SCALE * resolution * focal_px / depth, MAX_SPLAT_PX / 2.0)  # px
    radius = SPLAT_RADII[np.searchsorted(SPLAT_RADII, np.ceil(half - 0.5))]
    c = np.floor(col).astype(np.int64) + pad
    r = np.floor(row).astype(np.int64) + pad
    inside = (c >= 0) & (c < w + 2 * pad) & (r >= 0) & (r < h + 2 * pad)
    for k in np.unique(radius[inside]):
        sel = inside & (radius == k)
        rs, cs = r[sel], c[sel]
        r0, r1 = max(rs.min() - k, 0), min(rs.max() + k + 1, h + 2 * pad)
        c0, c1 = max(cs.min() - k, 0), min(cs.max() + k + 1, w + 2 * pad)
        seeds = np.full((r1 - r0, c1 - c0), np.inf)
        np.minimum.at(seeds, ((rs - r0), (cs - c0)), depth[sel])
        if k > 0:
            seeds = minimum_filter(seeds, size=2 * int(k) + 1, mode="constant", cval=np.inf)
        np.minimum(zbuf[r0:r1, c0:c1], seeds, out=zbuf[r0:r1, c0:c1])
    return zbuf[pad:-pad, pad:-pad].ravel().copy()


class TerrainProjector:
    def __init__(self, camera: Camera, dem: Dem, resolution: float | None = None):
        self.camera, self.dem = camera, dem
        ground = float(dem.sample(camera.position[0], camera.position[1]))
        if np.isfinite(ground) and camera.position[2] < ground - 0.5:
            raise CameraError(f"The camera is {ground - camera.position[2]:.1f} m below the surface of the DEM "
                              f"'{dem.name}' at its position, so it would see nothing but terrain; refit it on "
                              "this DEM or use the DEM it was fitted on.")
        gt, x, y, z = _ground_grid(dem, resolution)
        self.geotransform = gt
        self.resolution = float(gt[1])
        self.grid_shape = z.shape
        normals = _unit_normals(z, self.resolution).reshape(-1, 3)
        pts = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
        cells = np.flatnonzero(np.isfinite(pts[:, 2]))
        col, row, depth = camera.project(pts[cells])
        w, h = camera.width, camera.height
        front = (depth > NEAR_M) & np.isfinite(col)
        half = np.where(front, 0.5 * SPLAT_SCALE * self.resolution * camera.focal_px / np.where(front, depth, 1.0), 0.0)
        near_image = front & (col >= -half) & (col < w + half) & (row >= -half) & (row < h + half)
        # near the camera (in every direction: a cell behind it may reach into the view) the surface is
        # resampled; occluders just outside the photo still hide what is behind them inside it
        footprint = self.resolution * camera.focal_px / np.linalg.norm(pts[cells] - camera.position, axis=1)
        near = footprint > SUBDIVIDE_PX
        occluders = near_image & ~near
        zbuf = depth_buffer(col[occluders], row[occluders], depth[occluders], (w, h), camera.focal_px,
                            self.resolution)
        self._add_near_field(zbuf, pts[cells[near]], footprint[near])
        seen = front & camera.in_image(col, row)
        cells, col, row, depth = cells[seen], col[seen], row[seen], depth[seen]
        pix = np.floor(row).astype(np.int64) * w + np.floor(col).astype(np.int64)
        sight = pts[cells] - np.asarray(camera.position)
        distance = np.linalg.norm(sight, axis=1)
        sin_incidence = -np.einsum("ij,ij->i", sight / distance[:, None], normals[cells])
        sin_incidence = np.where(np.isfinite(sin_incidence), sin_incidence, 1.0)
        spread = 0.5 * SPLAT_SCALE * self.resolution + depth / camera.focal_px  # splat half-width + a pixel
        tolerance = 1.5 * self.resolution + spread / np.maximum(sin_incidence, MIN_SIN_INCIDENCE)
        visible = (sin_incidence > 0) & (depth <= zbuf[pix] + tolerance)
        self.cells = cells[visible]  # flat indices into the grid of the visible cells
        self.pixels = pix[visible]  # their flat photo pixel
        self.distance = distance[visible]
        self.z = pts[self.cells, 2]
        self.terrain_px = np.isfinite(zbuf).reshape(h, w)  # photo pixels that show terrain

    def _add_near_field(self, zbuf, points, footprint_px) -> None:
        """Ground points near the camera cover so many photo pixels that the surface between them
        matters: each is replaced by m × m samples of the DEM's bilinear surface over its cell, m chosen
        so that a sample's footprint is at most SUBDIVIDE_PX, and those are splatted."""
        cam, res = self.camera, self.resolution
        m_all = np.minimum(np.ceil(footprint_px / SUBDIVIDE_PX), MAX_SUBDIVISION).astype(np.int64)
        for m in np.unique(m_all):
            centres = points[m_all == m]
            offsets = ((np.arange(m) + 0.5) / m - 0.5) * res
            dx, dy = (v.ravel() for v in np.meshgrid(offsets, offsets))
            x = (centres[:, 0, None] + dx[None, :]).ravel()
            y = (centres[:, 1, None] + dy[None, :]).ravel()
            sub = np.column_stack([x, y, self.dem.sample(x, y)])
            sub = sub[np.isfinite(sub[:, 2])]
            col, row, depth = cam.project(sub)
            ok = (depth > NEAR_M) & np.isfinite(col)
            spacing = res / m
            half = 0.5 * SPLAT_SCALE * spacing * cam.focal_px / np.where(ok, depth, 1.0)
            ok &= (col >= -half) & (col < cam.width + half) & (row >= -half) & (row < cam.height + half)
            sub_buf = depth_buffer(col[ok], row[ok], depth[ok], cam.image_size, cam.focal_px, spacing)
            np.minimum(zbuf, sub_buf, out=zbuf)

    def project(self, mask, min_area: float | None = None, simplify: float = 0.0) -> ProjectedObject:
        """The visible terrain under the True pixels of ``mask`` (the photo's size); ``min_area`` in map
        units² (default: 2 grid cells), ``simplify`` a Douglas-Peucker tolerance in map units."""
        mask = np.asarray(mask).astype(bool)
        if mask.shape != (self.camera.height, self.camera.width):
            raise CameraError(f"The mask is {mask.shape[1]}×{mask.shape[0]} px but the camera's photo is "
                              f"{self.camera.width}×{self.camera.height} px; use a mask of the photo's size.")
        n_mask = int(mask.sum())
        n_sky = int((mask & ~self.terrain_px).sum())
        claimed = mask.ravel()[self.pixels]
        grid = np.zeros(self.grid_shape[0] * self.grid_shape[1], dtype=bool)
        grid[self.cells[claimed]] = True
        if min_area is None:
            min_area = DEFAULT_MIN_CELLS * self.resolution * abs(self.geotransform[5])
        polygons = mask_to_polygons(grid.reshape(self.grid_shape), self.geotransform, min_area=min_area,
                                    simplify=simplify) if claimed.any() else []
        z = self.z[claimed]
        return ProjectedObject(polygons_wkt=polygons, n_mask_px=n_mask, n_sky_px=n_sky, n_cells=int(claimed.sum()),
                               mean_distance=float(self.distance[claimed].mean()) if claimed.any() else math.nan,
                               z_min=float(z.min()) if z.size else math.nan,
                               z_max=float(z.max()) if z.size else math.nan)
