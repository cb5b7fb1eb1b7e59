"""The terrain model: a north-up DEM read whole with GDAL (GeoTIFF, ESRI ASCII grid, any GDAL raster).

Heights are sampled bilinearly between cell centres; NaN outside the grid's centres or next to a
nodata cell.  A DEM without a CRS (e.g. an ESRI ASCII grid without .prj) is used in its own
coordinates, and its ``crs_wkt`` is empty.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import CameraError
from ..gdal_open import open_raster_file
from ..grid import Grid


class Dem:
    def __init__(self, heights: np.ndarray, geotransform, crs_wkt: str = "", name: str = "dem"):
        gt = tuple(float(v) for v in geotransform)
        if gt[2] != 0 or gt[4] != 0:
            raise CameraError(f"The DEM '{name}' has a rotated geotransform; warp it to a north-up grid first.")
        if gt[1] <= 0 or gt[5] >= 0:
            raise CameraError(f"The DEM '{name}' is not a north-up grid (pixel size {gt[1]:g}, {gt[5]:g}); "
                              "warp it to a north-up grid first.")
        self.z = np.asarray(heights, dtype=np.float64)
        self.grid = Grid(gt, *self.z.shape)
        self.crs_wkt = crs_wkt or ""
        self.name = name

    @classmethod
    def open(cls, path) -> "Dem":
        path = str(path)
        name = os.path.basename(path)
        ds = open_raster_file(path, CameraError, "The DEM '{path}' does not exist.",
                              "GDAL cannot read the DEM '{name}' as a raster{reason}; give a GeoTIFF or ESRI ASCII grid.")
        gt = ds.GetGeoTransform(can_return_null=True)
        if gt is None:
            raise CameraError(f"The DEM '{name}' has no georeference, so its cells have no map position.")
        band = ds.GetRasterBand(1)
        heights = band.ReadAsArray().astype(np.float64)
        nodata = band.GetNoDataValue()
        if nodata is not None:
            heights[heights == nodata] = np.nan
        heights[~np.isfinite(heights)] = np.nan
        if np.isnan(heights).all():
            raise CameraError(f"The DEM '{name}' has no valid height (every cell is nodata).")
        return cls(heights, gt, ds.GetProjection() or "", os.path.splitext(name)[0])

    # -- geometry (the grid's) ----------------------------------------------------------------------
    @property
    def geotransform(self) -> tuple:
        return self.grid.geotransform

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def cell_size(self) -> float:
        return float(min(self.grid.pixel_size))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid's outer edges."""
        return self.grid.extent

    def contains(self, x, y) -> np.ndarray:
        """Where map points lie within the grid's outer edges (edges included)."""
        xmin, ymin, xmax, ymax = self.extent
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every cell centre, each of the grid's shape."""
        return self.grid.cell_centres()

    # -- heights -----------------------------------------------------------------------------------
    def sample(self, x, y) -> np.ndarray:
        """Bilinear height at map points; NaN outside the cell centres' hull or beside nodata.
        Points within half a cell of the outer edge take the edge cells' heights."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        rows, cols = self.z.shape
        fr, fc = self.grid.pixel_of(x, y)
        fr, fc = fr - 0.5, fc - 0.5
        inside = (fc >= -0.5) & (fc <= cols - 0.5) & (fr >= -0.5) & (fr <= rows - 0.5)
        fc = np.clip(np.where(inside, fc, 0.0), 0.0, cols - 1.0)
        fr = np.clip(np.where(inside, fr, 0.0), 0.0, rows - 1.0)
        c0 = np.minimum(np.floor(fc).astype(np.int64), max(cols - 2, 0))
        r0 = np.minimum(np.floor(fr).astype(np.int64), max(rows - 2, 0))
        c1, r1 = np.minimum(c0 + 1, cols - 1), np.minimum(r0 + 1, rows - 1)
        tc, tr = fc - c0, fr - r0
        z = self.z
        top = z[r0, c0] * (1 - tc) + z[r0, c1] * tc
        bottom = z[r1, c0] * (1 - tc) + z[r1, c1] * tc
        out = top * (1 - tr) + bottom * tr
        return np.where(inside, out, np.nan)

    def intersect_rays(self, origin, directions, step: float | None = None,
                       max_distance: float | None = None) -> np.ndarray:
        """First terrain point (N×3, NaN rows for rays that miss) along rays from ``origin``.

        Marches each ray with steps of half a cell (from the camera to the far side of the DEM), then
        bisects the step where it first enters the terrain after being above it."""
        origin = np.asarray(origin, dtype=np.float64)
        dirs = np.atleast_2d(np.asarray(directions, dtype=np.float64))
        step = float(step or self.cell_size / 2.0)
        if max_distance is None:
            xmin, ymin, xmax, ymax = self.extent
            corners = np.array([[xmin, ymin], [xmin, ymax], [xmax, ymin], [xmax, ymax]])
            max_distance = float(np.max(np.hypot(*(corners - origin[:2]).T))) + step
        ts = np.arange(step, max_distance + step, step)
        hits = np.full((len(dirs), 3), np.nan)
        for i, d in enumerate(dirs):
            pts = origin + ts[:, None] * d
            ground = self.sample(pts[:, 0], pts[:, 1])
            below = pts[:, 2] <= ground
            above = pts[:, 2] > ground
            # the first entry into the terrain after the ray was seen above it (a camera fitted a little
            # below the surface would otherwise "hit" at once)
            entry = below & np.concatenate([[False], np.maximum.accumulate(above)[:-1]])
            if not entry.any():
                continue
            k = int(np.argmax(entry))
            lo, hi = ts[k - 1], ts[k]
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                p = origin + mid * d
                zt = self.sample(p[0], p[1])
                if np.isfinite(zt) and p[2] <= zt:
                    hi = mid
                else:
                    lo = mid
            hits[i] = origin + hi * d
        return hits
