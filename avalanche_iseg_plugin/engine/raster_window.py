"""Rasters and the windows of them the predictor sees.

``RasterSource`` wraps a GDAL raster (GeoTIFF orthoimage or a webcam photo with no georeference) and
maps raster-CRS coordinates to pixels.  ``RasterWindow`` is a rectangle of native pixels that is read
(never the whole raster) and scaled to the model image: downsampled only when its longest side
exceeds ``max_side``.  Reading and stretching are core_model.raster_rgb's (via ``.stretch``), the path
training's GIS samples share.

Conventions
-----------
* ``(row, col)`` are pixel coordinates; integer values are pixel *corners* in ``xy_of`` /
  ``image_to_xy`` (pixel ``(r, c)`` covers ``[r, r+1) × [c, c+1)``).
* A photo with no geotransform gets the geotransform QGIS gives it, ``(0, 1, 0, 0, 0, -1)``: map
  units are pixels, x = column, y = -row (checked against ``QgsRasterLayer.extent()`` in the tests).
* Rotated, non-finite or (for a geographic CRS) impossible geotransforms are refused (``RasterError``),
  and so are windows whose clicks (or box) lie only on pixels without data (``engine.raster_validity``).
* The GDAL dataset is opened for each read and closed right after (reads happen only when a window
  opens or grows): no dataset outlives a read, so any thread may read and nothing is left open when
  QGIS shuts GDAL down.
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np
from osgeo import gdal

from .errors import RasterError
from .gdal_open import open_quietly, open_raster_file
from .grid import PHOTO_GEOTRANSFORM, Grid
from .raster_snapshot import SNAPSHOT_NAME_KEY
from .raster_validity import check_georeference, has_valid_pixels, valid_at
from .stretch import BandPlan, band_plan, compute_cuts, read_rgb
from core_model.raster_rgb import model_image_shape

DEFAULT_MAX_SIDE = 1600


class RasterSource:
    """A raster file opened read-only with GDAL.  Create it with ``RasterSource.open(path)``."""

    def __init__(self, path: str, ds: gdal.Dataset):
        self.path = str(path)
        # a snapshot drawn by QGIS names the layer and resolution it came from (engine.raster_snapshot)
        self.name = ds.GetMetadataItem(SNAPSHOT_NAME_KEY) or os.path.splitext(os.path.basename(self.path))[0]
        self.band_count = ds.RasterCount
        self.data_type = gdal.GetDataTypeName(ds.GetRasterBand(1).DataType)
        self.crs_wkt = ds.GetProjection() or ""
        gt = ds.GetGeoTransform(can_return_null=True)
        self.is_georeferenced = gt is not None
        self.grid = Grid.of(gt if gt is not None else PHOTO_GEOTRANSFORM, ds.RasterYSize, ds.RasterXSize)
        self.width, self.height = self.grid.width, self.grid.height
        self._plan: BandPlan = band_plan(ds)
        self._cuts = None
        self._cuts_done = False
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path) -> "RasterSource":
        """Open ``path``; raises ``RasterError`` with one sentence if it cannot be used."""
        path = str(path)
        name = os.path.basename(path)
        ds = open_raster_file(path, RasterError, "The raster file '{path}' does not exist.",
                              "GDAL cannot read '{name}' as a raster{reason}; choose a GeoTIFF, JPEG or PNG image.")
        if ds.RasterCount == 0:
            raise RasterError(f"The raster '{name}' has no bands (it may be a container of sub-datasets); "
                              "open one of its bands as a layer instead.")
        gt = ds.GetGeoTransform(can_return_null=True)
        if gt is not None and not all(math.isfinite(v) for v in gt):
            raise RasterError(f"The raster '{name}' has a geotransform with values that are not numbers (NaN or "
                              "infinity); fix its georeference first (Raster > Projections > Assign Projection).")
        if gt is not None:
            if gt[2] != 0 or gt[4] != 0:
                raise RasterError(f"The raster '{name}' has a rotated geotransform, which the tool cannot use; "
                                  "warp it to a north-up grid first (Raster > Projections > Warp).")
            if gt[1] == 0 or gt[5] == 0:
                raise RasterError(f"The raster '{name}' has a zero pixel size in its geotransform; "
                                  "fix its georeference first.")
        source = cls(path, ds)
        check_georeference(source)
        return source

    # -- dataset, opened per read ------------------------------------------------------------------
    def _dataset(self) -> gdal.Dataset:
        ds, message = open_quietly(self.path)
        if ds is None:
            raise RasterError(f"The raster '{self.name}' can no longer be read ({message}).")
        return ds

    # -- geometry (the grid's) -------------------------------------------------------------------
    @property
    def geotransform(self) -> tuple:
        return self.grid.geotransform

    # -- reading ---------------------------------------------------------------------------------
    @property
    def cuts(self):
        """Per-band (low, high) of the 2-98 % cut (None for 8-bit data); computed once."""
        with self._lock:
            if not self._cuts_done:
                ds = self._dataset()
                try:
                    self._cuts = compute_cuts(ds, self._plan)
                except (OSError, RuntimeError) as exc:
                    raise RasterError(f"Cannot read '{self.name}' to compute its contrast stretch ({exc}).") from exc
                finally:
                    ds = None
                self._cuts_done = True
        return self._cuts

    def read_rgb(self, row0: int, col0: int, height: int, width: int,
                 out_height: int | None = None, out_width: int | None = None) -> np.ndarray:
        """Read a block of native pixels, resampled to out_height × out_width, as H×W×3 uint8 RGB."""
        out_height = out_height or height
        out_width = out_width or width
        if row0 < 0 or col0 < 0 or row0 + height > self.height or col0 + width > self.width:
            raise RasterError(f"The window lies outside the raster '{self.name}'.")
        cuts = self.cuts
        ds = self._dataset()
        try:
            return read_rgb(ds, self._plan, cuts, row0, col0, height, width, out_height, out_width)
        except OSError as exc:
            raise RasterError(f"GDAL failed to read a window of '{self.name}' ({exc}).") from None
        finally:
            ds = None  # close the file now


class RasterWindow:
    """A rectangle of native pixels of ``source`` and its scaling to the model image.

    ``RasterWindow(source, row0, col0, height, width, max_side)`` clips the rectangle to the raster.
    The model image is ``image_shape`` = the window divided by ``scale`` (>= 1, only > 1 when the
    window's longest side exceeds ``max_side``).
    """

    def __init__(self, source: RasterSource, row0: int, col0: int, height: int, width: int,
                 max_side: int = DEFAULT_MAX_SIDE):
        r0, c0 = max(0, int(row0)), max(0, int(col0))
        r1 = min(source.height, int(row0) + int(height))
        c1 = min(source.width, int(col0) + int(width))
        if r1 <= r0 or c1 <= c0:
            raise RasterError(f"The requested window lies outside the raster '{source.name}'.")
        if max_side < 16:
            raise ValueError(f"max_side must be at least 16 pixels, got {max_side}.")
        self.source = source
        self.row0, self.col0 = r0, c0
        self.height, self.width = r1 - r0, c1 - c0
        self.max_side = int(max_side)
        self.scale = max(1.0, max(self.height, self.width) / self.max_side)
        img_h, img_w = model_image_shape(self.height, self.width, self.max_side)
        self.image_shape = (img_h, img_w)
        # native pixels per image pixel along rows / columns (exact, so corners map exactly)
        self.row_step = self.height / img_h
        self.col_step = self.width / img_w

    # -- constructors ----------------------------------------------------------------------------
    @classmethod
    def around(cls, source: RasterSource, points_xy, margin_px: int,
               max_side: int = DEFAULT_MAX_SIDE) -> "RasterWindow":
        """The window holding all points (raster-CRS) plus ``margin_px`` native pixels, clipped."""
        points_xy = list(points_xy)
        if not points_xy:
            raise ValueError("RasterWindow.around needs at least one point.")
        for x, y in points_xy:
            if not source.grid.contains(x, y):
                raise RasterError(f"The point ({x:.2f}, {y:.2f}) is outside the raster '{source.name}'.")
        if not any(valid_at(source, x, y) for x, y in points_xy):
            what = "click lies" if len(points_xy) == 1 else "clicks lie"
            raise RasterError(f"The {what} on pixels of '{source.name}' that hold no data (nodata or NaN); "
                              "click where the image shows the terrain.")
        pix = [source.grid.pixel_of(x, y) for x, y in points_xy]
        rows = [math.floor(r) for r, _ in pix]
        cols = [math.floor(c) for _, c in pix]
        m = int(margin_px)
        r0, r1 = min(rows) - m, max(rows) + 1 + m
        c0, c1 = min(cols) - m, max(cols) + 1 + m
        return cls(source, r0, c0, r1 - r0, c1 - c0, max_side)

    @classmethod
    def from_box(cls, source: RasterSource, x0: float, y0: float, x1: float, y1: float,
                 margin_px: int = 0, max_side: int = DEFAULT_MAX_SIDE) -> "RasterWindow":
        """The window covering the box (raster-CRS corners, any order) plus ``margin_px``, clipped."""
        ra, ca = source.grid.pixel_of(x0, y0)
        rb, cb = source.grid.pixel_of(x1, y1)
        m = int(margin_px)
        r0 = math.floor(min(ra, rb)) - m
        r1 = math.ceil(max(ra, rb)) + m
        c0 = math.floor(min(ca, cb)) - m
        c1 = math.ceil(max(ca, cb)) + m
        if r1 <= 0 or c1 <= 0 or r0 >= source.height or c0 >= source.width:
            raise RasterError(f"The box lies outside the raster '{source.name}'.")
        window = cls(source, r0, c0, max(1, r1 - r0), max(1, c1 - c0), max_side)
        if not has_valid_pixels(source, *window.native_box):
            raise RasterError(f"The box covers only pixels of '{source.name}' that hold no data (nodata or NaN); "
                              "draw it where the image shows the terrain.")
        return window

    def union(self, other: "RasterWindow") -> "RasterWindow":
        """The smallest window holding both (same source; max_side of self)."""
        r0, c0 = min(self.row0, other.row0), min(self.col0, other.col0)
        r1 = max(self.row0 + self.height, other.row0 + other.height)
        c1 = max(self.col0 + self.width, other.col0 + other.width)
        return RasterWindow(self.source, r0, c0, r1 - r0, c1 - c0, self.max_side)

    # -- geometry --------------------------------------------------------------------------------
    @property
    def native_box(self) -> tuple[int, int, int, int]:
        """(row0, col0, height, width) in native pixels."""
        return self.row0, self.col0, self.height, self.width

    @property
    def grid(self) -> Grid:
        """The model image's pixel grid (raster CRS)."""
        return self.source.grid.window(self.row0, self.col0, self.height, self.width, *self.image_shape)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform of the model image's pixel grid (raster CRS)."""
        return self.grid.geotransform

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the window in raster-CRS coordinates."""
        xa, ya = self.source.grid.xy_of(self.row0, self.col0)
        xb, yb = self.source.grid.xy_of(self.row0 + self.height, self.col0 + self.width)
        return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)

    def contains(self, x: float, y: float) -> bool:
        row, col = self.source.grid.pixel_of(x, y)
        return (self.row0 <= row < self.row0 + self.height) and (self.col0 <= col < self.col0 + self.width)

    def to_image_float(self, x: float, y: float) -> tuple[float, float]:
        """Raster-CRS point -> fractional (row, col) in the model image."""
        row, col = self.source.grid.pixel_of(x, y)
        return (row - self.row0) / self.row_step, (col - self.col0) / self.col_step

    def to_image(self, x: float, y: float) -> tuple[int, int]:
        """Raster-CRS point -> integer (row, col) of the model-image pixel holding it (clamped)."""
        row, col = self.to_image_float(x, y)
        h, w = self.image_shape
        return min(max(math.floor(row), 0), h - 1), min(max(math.floor(col), 0), w - 1)

    def image_to_xy(self, row: float, col: float) -> tuple[float, float]:
        """Model-image (row, col) -> raster-CRS point; integers are pixel corners."""
        return self.source.grid.xy_of(self.row0 + row * self.row_step, self.col0 + col * self.col_step)

    def near_inner_edge(self, x: float, y: float, edge_px: int) -> bool:
        """True when the point is outside the window, or closer than ``edge_px`` native pixels to an edge
        of it that is not the raster's edge (the window should grow to take it in)."""
        if not self.contains(x, y):
            return True
        row, col = self.source.grid.pixel_of(x, y)
        bottom, right = self.row0 + self.height, self.col0 + self.width
        return ((row - self.row0 < edge_px and self.row0 > 0) or (col - self.col0 < edge_px and self.col0 > 0)
                or (bottom - row < edge_px and bottom < self.source.height)
                or (right - col < edge_px and right < self.source.width))

    def mask_at_inner_edge(self, mask: np.ndarray) -> bool:
        """True when the (model-image) mask touches an edge of the window that is not the raster's edge."""
        return bool((mask[0].any() and self.row0 > 0)
                    or (mask[-1].any() and self.row0 + self.height < self.source.height)
                    or (mask[:, 0].any() and self.col0 > 0)
                    or (mask[:, -1].any() and self.col0 + self.width < self.source.width))

    # -- reading ---------------------------------------------------------------------------------
    def read_rgb(self) -> np.ndarray:
        """The window as ``image_shape`` + (3,) uint8 RGB (stretched to 8 bit, nodata -> 0)."""
        h, w = self.image_shape
        return self.source.read_rgb(self.row0, self.col0, self.height, self.width, h, w)

    def __eq__(self, other) -> bool:
        return (isinstance(other, RasterWindow) and other.source is self.source
                and other.native_box == self.native_box and other.max_side == self.max_side)

    def __hash__(self):
        return hash((id(self.source), self.native_box, self.max_side))

    def __repr__(self) -> str:
        return (f"RasterWindow({self.source.name!r}, row0={self.row0}, col0={self.col0}, "
                f"height={self.height}, width={self.width}, image_shape={self.image_shape})")
