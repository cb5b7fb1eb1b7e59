"""A photo mask -> the visible terrain it shows, as polygons in the DEM's CRS.

``TerrainProjector(camera, dem, resolution)`` does the expensive part once per camera and DEM:

1. the ground grid: the DEM's own cells, or a grid of ``resolution`` map units over the DEM's extent
   with bilinear heights;
2. every grid point is projected into the photo (vectorised ``Camera.project``);
3. a depth buffer per photo pixel keeps the depth of the nearest terrain: the grid is rasterised as
   a triangulated surface (surface_raster.py: two triangles a cell, perspective-correct depth at the
   pixel centres), so a pixel holds the depth of the surface really under it, also at a ridge's
   silhouette; ground near the camera (footprint above ``SUBDIVIDE_PX``) is resampled finer on the
   DEM's bilinear surface first, in every direction (a cell behind the camera may reach into view);
4. a point is visible when it faces the camera (its DEM normal, from the grid's gradient) and its
   depth is within ``TOLERANCE_CELLS × resolution + TOLERANCE_PX × depth / (focal × max(sin θ,
   MIN_SIN_INCIDENCE))`` of the buffer at its pixel, θ the angle between its line of sight and the
   surface (the cell's own surface under the pixel centre is up to about a pixel's depth span away).
   Occluded ground, typically tens to hundreds of metres behind its occluder, is not claimed.

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

from ..errors import CameraError
from ..grid import Grid
from ..vectorize import mask_to_polygons, total_area
from .camera import Camera
from .dem import Dem
from .surface_raster import rasterise_surface

SUBDIVIDE_PX = 8  # ground points with a larger footprint are resampled finer for the depth buffer
MAX_SUBDIVISION = 64
NEAR_BATCH = 1_000_000  # sub-grid points per rasterised batch near the camera
TOLERANCE_CELLS = 0.5  # depth tolerance: this many cells (the bilinear surface vs its triangles) ...
TOLERANCE_PX = 1.5  # ... plus this many pixels' depth span along the line of sight
MAX_GRID_CELLS = 60_000_000
NEAR_M = 1.0  # points closer than this to the camera are ignored
MIN_SIN_INCIDENCE = 0.15  # grazing lines of sight: the depth tolerance stops growing here
DEFAULT_MIN_CELLS = 2  # parts (and holes) smaller than this many grid cells are dropped (filled)
PROGRESS = {"grid": 0.1, "projected": 0.25, "surface": 0.7, "near": 0.97}  # share of the build done after each step


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
    """(grid, x, y, z) of the ground grid (x, y, z: 2-D arrays of its cell centres and heights)."""
    square = math.isclose(*dem.grid.pixel_size, rel_tol=1e-9)
    if resolution is None and square or resolution is not None and square and \
            math.isclose(resolution, dem.cell_size, rel_tol=1e-9):
        x, y = dem.cell_centres()
        return dem.grid, x, y, dem.z
    resolution = dem.cell_size if resolution is None else float(resolution)
    if not resolution > 0:
        raise CameraError(f"The ground resolution must be positive, not {resolution:g}.")
    xmin, ymin, xmax, ymax = dem.extent
    cols, rows = int(math.ceil((xmax - xmin) / resolution)), int(math.ceil((ymax - ymin) / resolution))
    if cols * rows > MAX_GRID_CELLS:
        raise CameraError(f"A ground resolution of {resolution:g} gives {cols}×{rows} cells over the DEM; choose a "
                          f"coarser one (at least {math.sqrt((xmax - xmin) * (ymax - ymin) / MAX_GRID_CELLS):.2f}).")
    grid = Grid((xmin, resolution, 0.0, ymax, 0.0, -resolution), rows, cols)
    x, y = grid.cell_centres()
    return grid, x, y, dem.sample(x, y)


def _unit_normals(z: np.ndarray, cell: float) -> np.ndarray:
    """Upward unit normals (rows × cols × 3) of a north-up grid; NaN next to nodata."""
    d_row, d_col = np.gradient(z, cell)
    n = np.stack([-d_col, d_row, np.ones_like(z)], axis=-1)  # dz/dy (north) = -dz/drow
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


class TerrainProjector:
    def __init__(self, camera: Camera, dem: Dem, resolution: float | None = None, progress=None):
        """``progress(fraction)``, when given, is called as the build goes on (0..1); an exception it raises
        (a front end's cancel) ends the build."""
        self.camera, self.dem = camera, dem
        self._progress = progress or (lambda _fraction: None)
        ground = float(dem.sample(camera.position[0], camera.position[1]))
        if np.isfinite(ground) and camera.position[2] < ground - 0.5:
            raise CameraError(f"The camera is {ground - camera.position[2]:.1f} m below the surface of the DEM "
                              f"'{dem.name}' at its position, so it would see nothing but terrain; refit it on "
                              "this DEM or use the DEM it was fitted on.")
        self.grid, x, y, z = _ground_grid(dem, resolution)
        self._progress(PROGRESS["grid"])
        self.resolution = self.grid.pixel_size[0]
        normals = _unit_normals(z, self.resolution).reshape(-1, 3)
        pts = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
        cells = np.flatnonzero(np.isfinite(pts[:, 2]))
        col, row, depth = camera.project(pts[cells])
        w, h = camera.width, camera.height
        front = (depth > NEAR_M) & np.isfinite(col)
        vertex = np.full((3, z.size), np.nan)
        vertex[:, cells[front]] = col[front], row[front], depth[front]
        self._progress(PROGRESS["projected"])
        zbuf = rasterise_surface(*(v.reshape(z.shape) for v in vertex), (w, h))
        self._progress(PROGRESS["surface"])
        # ground near the camera (in every direction: a cell behind it may reach into the view) spans
        # too many pixels for one pair of triangles: it is resampled finer
        footprint = self.resolution * camera.focal_px / np.linalg.norm(pts[cells] - camera.position, axis=1)
        near = footprint > SUBDIVIDE_PX
        self._add_near_field(zbuf, pts[cells[near]], footprint[near])
        seen = front & camera.in_image(col, row)
        cells, col, row, depth = cells[seen], col[seen], row[seen], depth[seen]
        pix = np.floor(row).astype(np.int64) * w + np.floor(col).astype(np.int64)
        sight = pts[cells] - np.asarray(camera.position)
        distance = np.linalg.norm(sight, axis=1)
        sin_incidence = -np.einsum("ij,ij->i", sight / distance[:, None], normals[cells])
        sin_incidence = np.where(np.isfinite(sin_incidence), sin_incidence, 1.0)
        # the cell's own surface under the pixel centre lies within about a pixel's depth span of it
        pixel_depth = depth / camera.focal_px / np.maximum(sin_incidence, MIN_SIN_INCIDENCE)
        tolerance = TOLERANCE_CELLS * self.resolution + TOLERANCE_PX * pixel_depth
        visible = (sin_incidence > 0) & (depth <= zbuf[pix] + tolerance)
        self.cells = cells[visible]  # flat indices into the grid of the visible cells
        self.pixels = pix[visible]  # their flat photo pixel
        self.distance = distance[visible]
        self.z = pts[self.cells, 2]
        self.terrain_px = np.isfinite(zbuf).reshape(h, w)  # photo pixels that show terrain
        self._progress(1.0)

    def _add_near_field(self, zbuf, points, footprint_px) -> None:
        """Ground points near the camera cover so many photo pixels that one pair of triangles is too
        coarse: each cell is replaced by an m × m grid over it on the DEM's bilinear surface, m chosen
        so that a sub-cell's footprint is at most SUBDIVIDE_PX, and those grids are rasterised (stacked
        one below the other with a row of gaps between them, so no triangle joins two cells)."""
        cam, res = self.camera, self.resolution
        m_all = np.minimum(np.ceil(footprint_px / SUBDIVIDE_PX), MAX_SUBDIVISION).astype(np.int64)
        work, done = max(1, int(((m_all + 2) ** 2).sum())), 0      # sub-grid points, for the progress
        start, span = PROGRESS["surface"], PROGRESS["near"] - PROGRESS["surface"]
        for m in np.unique(m_all):
            centres = points[m_all == m]
            for s in range(0, len(centres), max(1, NEAR_BATCH // int(m + 2) ** 2)):
                self._progress(start + span * done / work)
                part = centres[s:s + max(1, NEAR_BATCH // int(m + 2) ** 2)]
                offsets = np.linspace(-0.5, 0.5, m + 1) * res
                dx, dy = np.meshgrid(offsets, np.append(offsets, np.nan))  # (m + 2) × (m + 1), last row a gap
                x = part[:, 0, None, None] + dx[None]
                y = part[:, 1, None, None] - dy[None]
                sub = np.column_stack([x.ravel(), y.ravel(), self.dem.sample(x.ravel(), y.ravel())])
                col, row, depth = cam.project(sub)
                depth = np.where(depth > NEAR_M, depth, np.nan)
                shape = (len(part) * (m + 2), m + 1)
                sub_buf = rasterise_surface(col.reshape(shape), row.reshape(shape), depth.reshape(shape),
                                            cam.image_size)
                np.minimum(zbuf, sub_buf, out=zbuf)
                done += len(part) * int(m + 2) ** 2
        self._progress(PROGRESS["near"])

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
        grid = np.zeros(self.grid.height * self.grid.width, dtype=bool)
        grid[self.cells[claimed]] = True
        if min_area is None:
            min_area = DEFAULT_MIN_CELLS * self.resolution * self.grid.pixel_size[1]
        polygons = mask_to_polygons(grid.reshape(self.grid.shape), self.grid.geotransform, min_area=min_area,
                                    simplify=simplify) if claimed.any() else []
        z = self.z[claimed]
        return ProjectedObject(polygons_wkt=polygons, n_mask_px=n_mask, n_sky_px=n_sky, n_cells=int(claimed.sum()),
                               mean_distance=float(self.distance[claimed].mean()) if claimed.any() else math.nan,
                               z_min=float(z.min()) if z.size else math.nan,
                               z_max=float(z.max()) if z.size else math.nan)
