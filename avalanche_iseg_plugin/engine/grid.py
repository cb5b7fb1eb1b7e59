"""The one owner of raster geometry: a north-up pixel grid (GDAL geotransform + size).

Every raster-ish thing holds a ``Grid`` — the raster source and its windows, the raster facts the GUI
reads, the window geometry the protocol sends, a drawn snapshot grid, the DEM, the terrain attributes'
grid — and asks it instead of writing the geotransform arithmetic out again.

Conventions: ``(row, col)`` are pixel coordinates and integer values are pixel *corners* (pixel
``(r, c)`` covers ``[r, r+1) × [c, c+1)``); ``pixel_of`` and ``xy_of`` take scalars or numpy arrays.
A ``Grid`` is frozen and picklable (it crosses the worker protocol).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Geotransform QGIS uses for an image without georeference (map units = pixels, y up).
PHOTO_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


@dataclass(frozen=True)
class Grid:
    geotransform: tuple     # GDAL order: x0, x size, 0, y0, 0, y size (north-up: no rotation terms)
    height: int             # rows
    width: int              # columns

    @classmethod
    def of(cls, geotransform, height: int, width: int) -> "Grid":
        """A grid from any 6-number geotransform (floats) and its size in pixels."""
        return cls(tuple(float(v) for v in geotransform), int(height), int(width))

    # -- points ------------------------------------------------------------------------------------
    def pixel_of(self, x, y):
        """Map point -> (row, col) as floats (fractional position inside the pixel)."""
        gt = self.geotransform
        return (y - gt[3]) / gt[5], (x - gt[0]) / gt[1]

    def xy_of(self, row, col):
        """(row, col) -> map point; integer values are pixel corners."""
        gt = self.geotransform
        return gt[0] + col * gt[1], gt[3] + row * gt[5]

    def contains(self, x, y):
        """True where the map point lies on a pixel of the grid (half-open: the far edges are outside);
        a bool for a point, a bool array for arrays."""
        row, col = self.pixel_of(x, y)
        inside = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        return inside if isinstance(inside, np.ndarray) else bool(inside)

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every cell centre, each of the grid's shape."""
        gt = self.geotransform
        xs = gt[0] + (np.arange(self.width) + 0.5) * gt[1]
        ys = gt[3] + (np.arange(self.height) + 0.5) * gt[5]
        return np.meshgrid(xs, ys)

    # -- extent ------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(x size, y size) of one pixel in map units, both positive."""
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid's outer edges."""
        xa, ya = self.xy_of(0, 0)
        xb, yb = self.xy_of(self.height, self.width)
        return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)

    # -- sub-grids ---------------------------------------------------------------------------------
    def window(self, row0: int, col0: int, height: int, width: int,
               out_height: int | None = None, out_width: int | None = None) -> "Grid":
        """The grid of the block of ``height`` × ``width`` pixels from (row0, col0), resampled to
        ``out_height`` × ``out_width`` pixels (same size when left out)."""
        out_height, out_width = int(out_height or height), int(out_width or width)
        gt = self.geotransform
        x0, y0 = self.xy_of(row0, col0)
        return Grid((x0, gt[1] * (width / out_width), 0.0, y0, 0.0, gt[5] * (height / out_height)),
                    out_height, out_width)
