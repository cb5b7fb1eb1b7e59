"""One avalanche being digitised: clicks in raster-CRS coordinates -> predictor -> mask -> polygons.

``DigitisingSession`` owns the raster window the predictor sees and replays the clicks when that
window has to grow.  It knows nothing of Qt or QGIS: every front end gives clicks in the raster's CRS
(the GUI's controller converts canvas points with ``layers.crs.canvas_to_raster``; the ``segment`` CLI
and the Processing algorithm read them so) and calls ``add_click``; a worker thread may run the calls.
The predictor has exactly ``core_model.predictor.InteractivePredictor``'s interface.  After each click
the session records whether the mask is empty, so that finishing an empty mask names the click at fault
(``errors.EmptyMaskError``).

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
from dataclasses import dataclass

import numpy as np
from osgeo import ogr

from .errors import EmptyMaskError, RasterError, SessionError
from .raster_window import DEFAULT_MAX_SIDE, RasterSource, RasterWindow
from .correction import keep_parts_outside_window, rasterize_polygon
from .finished_object import FinishedObject, model_name
from .vectorize import mask_to_polygons

__all__ = ["DigitisingSession", "SessionClick", "FinishedObject", "model_name", "rasterize_polygon"]

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
        if threshold is not None:
            self.threshold = threshold
        self._window: RasterWindow | None = None
        self._clicks: list[SessionClick] = []
        self._initial_wkt: str | None = None
        self._initial_mask: np.ndarray | None = None
        self._mask_after_click: list[bool] = []  # per click: the mask was non-empty after it

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
        """Probability above which a pixel is in the mask: the predictor's (its settings own it; the
        refinement modes' objective reads it too); None while the predictor is not made yet."""
        return None if self._predictor is None else float(self._predictor.settings.threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        """Sets the predictor's threshold (makes the predictor when it is not made yet)."""
        self.predictor.settings.threshold = float(value)

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
            return self.predictor.mask
        return None if self._initial_mask is None else self._initial_mask.copy()

    @property
    def mask_at_window_edge(self) -> bool:
        """True when the mask touches an edge of the window that is not the raster's edge: the object
        probably continues outside; a click on its continuation grows the window."""
        mask = self.mask
        return bool(mask is not None and mask.any() and self._window.mask_at_inner_edge(mask))

    # -- actions ---------------------------------------------------------------------------------
    def discard(self) -> None:
        """Forget the current object (clicks, window, polygon being corrected)."""
        self._window = None
        self._clicks = []
        self._initial_wkt = None
        self._initial_mask = None
        self._mask_after_click = []
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
        self._record_mask()
        return probs

    def _record_mask(self) -> None:
        mask = self.mask
        self._mask_after_click.append(mask is not None and bool(mask.any()))

    def start_box(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Start a new object from a dragged box (raster CRS): the box (plus a margin) is the window,
        its centre the first positive click.  Discards the object in progress."""
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        self._check_inside(cx, cy, what="The centre of the box")
        self.discard()
        ra, ca = self.source.grid.pixel_of(x0, y0)
        rb, cb = self.source.grid.pixel_of(x1, y1)
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
        sxmin, symin, sxmax, symax = self.source.grid.extent
        if xmax <= sxmin or xmin >= sxmax or ymax <= symin or ymin >= symax:
            raise RasterError(f"The selected polygon lies outside the raster '{self.source.name}'; "
                              "activate the raster it was digitised on.")
        self.discard()
        ra, ca = self.source.grid.pixel_of(xmin, ymax)
        rb, cb = self.source.grid.pixel_of(xmax, ymin)
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
        del self._mask_after_click[len(self._clicks):]
        self.predictor.undo()
        return self.probabilities

    def finish(self, min_area: float | None = None, simplify: float | None = None) -> FinishedObject:
        """Vectorise the current mask (see vectorize.mask_to_polygons).  Raises SessionError when
        there is nothing to finish.  The session stays as it is: call ``discard()`` once written."""
        mask = self.mask
        if mask is None or not mask.any():
            if self._clicks:
                raise EmptyMaskError.for_clicks(self._clicks, self._mask_after_click)
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
            polygons = keep_parts_outside_window(self._initial_wkt, self._window, polygons)
        if not polygons:
            raise SessionError(f"Nothing is left of the mask after dropping specks smaller than {min_area:g} "
                               "map units²; lower the minimum area or add positive clicks.")
        return FinishedObject(polygons_wkt=polygons, n_pos=self.n_pos, n_neg=self.n_neg,
                              source_name=self.source.name, raster_crs_wkt=self.source.crs_wkt,
                              model=model_name(self.predictor), threshold=self.threshold,
                              is_correction=self.is_correction, window=window)

    # -- internals -------------------------------------------------------------------------------
    def _check_inside(self, x, y, what="The click"):
        if not self.source.grid.contains(x, y):
            raise RasterError(f"{what} at ({x:.2f}, {y:.2f}) is outside the raster '{self.source.name}'; "
                              "click on the image.")

    def _needs_growth(self, x: float, y: float) -> bool:
        window = self._window
        return window.near_inner_edge(x, y, min(self.margin_px // 4, min(window.height, window.width) // 8))

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
        self._mask_after_click = []
        for click in self._clicks:
            row, col = self._window.to_image(click.x, click.y)
            probs = self.predictor.add_click(row, col, click.is_positive)
            self._record_mask()
        return probs
