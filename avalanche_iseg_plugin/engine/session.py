"""One avalanche being digitised: clicks in raster-CRS coordinates -> predictor -> mask -> polygons.

``DigitisingSession`` owns the raster window the predictor sees and replays the clicks when that
window has to grow.  It knows nothing of Qt: the map tool transforms canvas clicks into the raster's
CRS (``crs.canvas_to_raster``) and calls ``add_click``; a worker thread may run the calls.  The
predictor has exactly ``core_model.predictor.InteractivePredictor``'s interface.

Window rules (all in native raster pixels):

* first click: the window is the click plus ``margin_px`` on every side (clipped to the raster);
* a box (``start_box``): the box plus ``box_margin`` × its longest side (at least 8 px); the box's
  centre is the first positive click;
* correcting a polygon (``start_from_polygon``): the polygon's envelope plus 25 % of its longest
  side (at least 16 px; old outlines are often too small); the polygon is rasterised (pixel-centre
  rule) into the model image as the initial mask, and parts of it beyond the raster are kept on
  finishing;
* a later click outside the window, or closer to an edge that is not the raster's edge than
  ``margin_px // 4`` (or 1/8 of the window's shorter side, if less), grows the window to the union
  with (click ± ``margin_px``); the image is read again and every click is replayed (after the
  initial mask when correcting);
* the model image is downsampled only when the window's longest side exceeds ``max_side``.

``finish()`` vectorises the mask but does not end the session: write the result, then call
``discard()`` — so a failed write loses nothing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr

from .errors import RasterError, SessionError
from .raster_window import DEFAULT_MAX_SIDE, RasterSource, RasterWindow
from .vectorize import as_multipolygon_wkt, mask_to_polygons, polygons_in

DEFAULT_MARGIN_PX = 256
DEFAULT_BOX_MARGIN = 0.1
DEFAULT_MIN_AREA_IMAGE_PX = 4  # default speck size: 4 model-image pixels
CORRECTION_MARGIN = 0.25  # window around a polygon to correct: its envelope + 25 % of its longest side
MIN_BOX_PX = 3  # a drag smaller than this (native px) is taken as a click


@dataclass(frozen=True)
class SessionClick:
    """A click in raster-CRS coordinates."""

    x: float
    y: float
    is_positive: bool


@dataclass
class FinishedObject:
    """The result of ``DigitisingSession.finish``; polygons are in the raster CRS."""

    polygons_wkt: list[str]
    n_pos: int
    n_neg: int
    source_name: str
    raster_crs_wkt: str
    model: str
    threshold: float | None
    is_correction: bool
    window: RasterWindow = field(repr=False)

    @property
    def multipolygon_wkt(self) -> str:
        return as_multipolygon_wkt(self.polygons_wkt)

    @property
    def area(self) -> float:
        """Planar area in raster-CRS units² (m² for metric rasters, pixel² for photos)."""
        return float(sum(ogr.CreateGeometryFromWkt(w).GetArea() for w in self.polygons_wkt))


def model_name(predictor) -> str:
    """A short name for the attribute table: the checkpoint's file name, else the architecture."""
    model = getattr(predictor, "model", None)
    path = getattr(model, "checkpoint_path", None)
    if path:
        return os.path.splitext(os.path.basename(str(path)))[0]
    return str(getattr(model, "arch_name", "") or type(predictor).__name__)


def rasterize_polygon(wkt: str, window: RasterWindow) -> np.ndarray:
    """Bool mask (window.image_shape) of the pixels whose centre lies in the polygon (raster CRS)."""
    geom = ogr.CreateGeometryFromWkt(wkt)
    if geom is None:
        raise SessionError("The polygon to correct is not a valid geometry.")
    h, w = window.image_shape
    raster = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Byte)
    raster.SetGeoTransform(window.geotransform)
    vector = ogr.GetDriverByName("Memory").CreateDataSource("poly")
    layer = vector.CreateLayer("poly", geom_type=ogr.wkbUnknown)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(geom)
    layer.CreateFeature(feature)
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # "no spatial reference": both grids are the raster's
    try:
        gdal.RasterizeLayer(raster, [1], layer, burn_values=[1])
    finally:
        gdal.PopErrorHandler()
    return raster.GetRasterBand(1).ReadAsArray().astype(bool)


def _extent_polygon(extent) -> ogr.Geometry:
    xmin, ymin, xmax, ymax = extent
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)):
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


class DigitisingSession:
    """Interactive segmentation of one object at a time on one raster (see the module doc).

    ``predictor`` is an InteractivePredictor-like object, or a zero-argument callable that returns
    one (called on first use, so torch loads only when the user clicks).
    """

    def __init__(self, source: RasterSource, predictor, max_side: int = DEFAULT_MAX_SIDE,
                 margin_px: int = DEFAULT_MARGIN_PX, box_margin: float = DEFAULT_BOX_MARGIN,
                 min_area: float | None = None, simplify: float = 0.0, threshold: float | None = None):
        self.source = source
        if hasattr(predictor, "set_image"):
            self._predictor, self._factory = predictor, None
        elif callable(predictor):
            self._predictor, self._factory = None, predictor
        else:
            raise TypeError("predictor must be an InteractivePredictor or a callable returning one.")
        self.max_side = int(max_side)
        self.margin_px = int(margin_px)
        self.box_margin = float(box_margin)
        self.min_area = min_area
        self.simplify = float(simplify)
        self.threshold = threshold
        self._window: RasterWindow | None = None
        self._clicks: list[SessionClick] = []
        self._initial_wkt: str | None = None
        self._initial_mask: np.ndarray | None = None

    # -- state -----------------------------------------------------------------------------------
    @property
    def predictor(self):
        if self._predictor is None:
            self._predictor = self._factory()
        return self._predictor

    @property
    def window(self) -> RasterWindow | None:
        return self._window

    @property
    def clicks(self) -> list[SessionClick]:
        return list(self._clicks)

    @property
    def n_pos(self) -> int:
        return sum(1 for c in self._clicks if c.is_positive)

    @property
    def n_neg(self) -> int:
        return sum(1 for c in self._clicks if not c.is_positive)

    @property
    def is_active(self) -> bool:
        """True once a click, box or polygon has started an object."""
        return self._window is not None

    @property
    def is_correction(self) -> bool:
        return self._initial_wkt is not None

    @property
    def threshold(self) -> float | None:
        """Probability above which a pixel is in the mask; None: the predictor's own threshold."""
        if self._threshold is not None:
            return self._threshold
        settings = getattr(self.predictor, "settings", None) if self._predictor is not None else None
        return getattr(settings, "threshold", None)

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self._threshold = None if value is None else float(value)

    @property
    def probabilities(self) -> np.ndarray | None:
        """H×W float32 (model image of ``window``) after the last click; the initial mask when
        correcting with no click yet; None when nothing is started."""
        if self._window is None:
            return None
        if self._clicks:
            return self.predictor.probabilities
        if self._initial_mask is not None:
            return self._initial_mask.astype(np.float32)
        return None

    @property
    def mask(self) -> np.ndarray | None:
        if self._window is None:
            return None
        if self._clicks:
            if self._threshold is None:
                return self.predictor.mask
            probs = self.predictor.probabilities
            return None if probs is None else probs > self._threshold
        return None if self._initial_mask is None else self._initial_mask.copy()

    @property
    def mask_at_window_edge(self) -> bool:
        """True when the mask touches an edge of the window that is not the raster's edge: the object
        probably continues outside; a click on its continuation grows the window."""
        mask, window = self.mask, self._window
        if mask is None or not mask.any():
            return False
        src = self.source
        return bool((mask[0].any() and window.row0 > 0)
                    or (mask[-1].any() and window.row0 + window.height < src.height)
                    or (mask[:, 0].any() and window.col0 > 0)
                    or (mask[:, -1].any() and window.col0 + window.width < src.width))

    # -- actions ---------------------------------------------------------------------------------
    def discard(self) -> None:
        """Forget the current object (clicks, window, polygon being corrected)."""
        self._window = None
        self._clicks = []
        self._initial_wkt = None
        self._initial_mask = None
        if self._predictor is not None:
            self._predictor.reset()

    def add_click(self, x: float, y: float, is_positive: bool) -> np.ndarray:
        """Add a click (raster-CRS coordinates); returns the probabilities on the model image."""
        self._check_inside(x, y)
        click = SessionClick(float(x), float(y), bool(is_positive))
        if self._window is None:
            self._open_window(RasterWindow.around(self.source, [(x, y)], self.margin_px, self.max_side))
        elif self._needs_growth(x, y):
            grown = self._window.union(RasterWindow.around(self.source, [(x, y)], self.margin_px, self.max_side))
            if grown != self._window:
                self._open_window(grown)
                self._clicks.append(click)
                return self._replay()
        return self._click_in_window(click)

    def _click_in_window(self, click: SessionClick) -> np.ndarray:
        row, col = self._window.to_image(click.x, click.y)
        probs = self.predictor.add_click(row, col, click.is_positive)
        self._clicks.append(click)
        return probs

    def start_box(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Start a new object from a dragged box (raster CRS): the box (plus a margin) is the window,
        its centre the first positive click.  Discards the object in progress."""
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        self._check_inside(cx, cy, what="The centre of the box")
        self.discard()
        ra, ca = self.source.pixel_of(x0, y0)
        rb, cb = self.source.pixel_of(x1, y1)
        side = max(abs(ra - rb), abs(ca - cb))
        if side < MIN_BOX_PX:
            return self.add_click(cx, cy, True)
        margin = max(8, int(math.ceil(self.box_margin * side)))
        self._open_window(RasterWindow.from_box(self.source, x0, y0, x1, y1, margin, self.max_side))
        return self._click_in_window(SessionClick(float(cx), float(cy), True))

    def start_from_polygon(self, wkt: str) -> np.ndarray:
        """Start correcting an existing polygon (WKT in the raster CRS): it becomes the initial mask.
        Returns it as probabilities (1/0).  Discards the object in progress."""
        geom = ogr.CreateGeometryFromWkt(wkt) if wkt else None
        if geom is None or geom.IsEmpty():
            raise SessionError("The selected feature has no polygon geometry to correct.")
        xmin, xmax, ymin, ymax = geom.GetEnvelope()
        sxmin, symin, sxmax, symax = self.source.extent
        if xmax <= sxmin or xmin >= sxmax or ymax <= symin or ymin >= symax:
            raise RasterError(f"The selected polygon lies outside the raster '{self.source.name}'; "
                              "activate the raster it was digitised on.")
        self.discard()
        ra, ca = self.source.pixel_of(xmin, ymax)
        rb, cb = self.source.pixel_of(xmax, ymin)
        side = max(abs(ra - rb), abs(ca - cb))
        margin = max(16, int(math.ceil(CORRECTION_MARGIN * side)))
        window = RasterWindow.from_box(self.source, xmin, ymin, xmax, ymax, margin, self.max_side)
        self._initial_wkt = geom.ExportToWkt()
        try:
            self._open_window(window)
        except Exception:
            self._initial_wkt = None
            raise
        return self.probabilities

    def undo(self) -> np.ndarray | None:
        """Remove the last click; returns the probabilities before it (None when none are left)."""
        if not self._clicks:
            return self.probabilities
        self._clicks.pop()
        self.predictor.undo()
        return self.probabilities

    def finish(self, min_area: float | None = None, simplify: float | None = None) -> FinishedObject:
        """Vectorise the current mask (see vectorize.mask_to_polygons).  Raises SessionError when
        there is nothing to finish.  The session stays as it is: call ``discard()`` once written."""
        mask = self.mask
        if mask is None or not mask.any():
            if self.n_pos:
                raise SessionError("The model found no avalanche at these clicks (the mask is empty); add a "
                                   "positive click on it or undo the last negative click.")
            raise SessionError("There is no avalanche to finish: left-click on the avalanche first "
                               "(the mask is empty).")
        window = self._window
        if min_area is None:
            min_area = self.min_area
        if min_area is None:
            min_area = DEFAULT_MIN_AREA_IMAGE_PX * abs(window.geotransform[1] * window.geotransform[5])
        simplify = self.simplify if simplify is None else float(simplify)
        polygons = mask_to_polygons(mask, window, min_area=min_area, simplify=simplify)
        if self._initial_wkt is not None:
            polygons = self._keep_parts_outside_window(polygons)
        if not polygons:
            raise SessionError(f"Nothing is left of the mask after dropping specks smaller than {min_area:g} "
                               "map units²; lower the minimum area or add positive clicks.")
        return FinishedObject(polygons_wkt=polygons, n_pos=self.n_pos, n_neg=self.n_neg,
                              source_name=self.source.name, raster_crs_wkt=self.source.crs_wkt,
                              model=model_name(self.predictor), threshold=self.threshold,
                              is_correction=self.is_correction, window=window)

    # -- internals -------------------------------------------------------------------------------
    def _check_inside(self, x, y, what="The click"):
        if not self.source.contains(x, y):
            raise RasterError(f"{what} at ({x:.2f}, {y:.2f}) is outside the raster '{self.source.name}'; "
                              "click on the image.")

    def _needs_growth(self, x: float, y: float) -> bool:
        window = self._window
        if not window.contains(x, y):
            return True
        edge = min(self.margin_px // 4, min(window.height, window.width) // 8)
        row, col = self.source.pixel_of(x, y)
        near_top = row - window.row0 < edge and window.row0 > 0
        near_left = col - window.col0 < edge and window.col0 > 0
        near_bottom = window.row0 + window.height - row < edge and window.row0 + window.height < self.source.height
        near_right = window.col0 + window.width - col < edge and window.col0 + window.width < self.source.width
        return near_top or near_left or near_bottom or near_right

    def open_window_around(self, points) -> None:
        """Read the raster window around all these map points (x, y) at once, with the session's margin on
        every side: for headless work where every click is known in advance, so the window never has to
        grow and no click is replayed. Call it on an empty object (after discard)."""
        if self._clicks:
            raise SessionError("open_window_around needs an object without clicks; discard it first.")
        self._open_window(RasterWindow.around(self.source, list(points), self.margin_px, self.max_side))

    def _open_window(self, window: RasterWindow) -> None:
        rgb = window.read_rgb()
        initial = rasterize_polygon(self._initial_wkt, window) if self._initial_wkt is not None else None
        predictor = self.predictor
        predictor.set_image(rgb)
        if initial is not None:
            predictor.set_initial_mask(initial)
        self._window = window
        self._initial_mask = initial

    def _replay(self) -> np.ndarray | None:
        probs = self.probabilities
        for click in self._clicks:
            row, col = self._window.to_image(click.x, click.y)
            probs = self.predictor.add_click(row, col, click.is_positive)
        return probs

    def _keep_parts_outside_window(self, polygons: list[str]) -> list[str]:
        """When correcting: parts of the original polygon outside the window (i.e. beyond the raster)
        are kept, so correcting never cuts an inventory polygon at the image edge."""
        original = ogr.CreateGeometryFromWkt(self._initial_wkt)
        outside = original.Difference(_extent_polygon(self._window.extent))
        if outside is None or outside.IsEmpty() or outside.GetArea() <= 0:
            return polygons
        merged = outside
        for wkt in polygons:
            merged = merged.Union(ogr.CreateGeometryFromWkt(wkt))
        if not merged.IsValid():
            merged = merged.MakeValid()
        parts = sorted(polygons_in(merged), key=lambda g: -g.GetArea())
        return [p.ExportToWkt() for p in parts if p.GetArea() > 0]
