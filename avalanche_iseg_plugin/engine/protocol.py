"""The messages between the digitiser's GUI and its session server: small picklable commands and plain
replies.

Every command and reply is made of plain values only (numbers, strings, tuples, lists, dicts, numpy
arrays): no GDAL object, lock, QGIS object or bound method, so they can cross a thread or a process
boundary (``pickle.dumps``/``loads``) unchanged. Coordinates are in the raster's CRS.

Commands: SetRaster, AddClick, Box, StartFromPolygon, Undo, Discard, SetThreshold, Finish, Close, Preload.
Replies: SessionView (what the GUI draws), FinishedResult (a finished avalanche, to be written),
ErrorReply (one sentence for the user, or a bug with its traceback).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field, fields

import numpy as np

from .errors import USER_ERRORS
from .grid import Grid


# ============================================================================ commands
@dataclass(frozen=True)
class PredictorKey:
    """What identifies a loaded model: the same key reuses the loaded predictor."""
    checkpoint: str
    device: str
    brs_mode: str = "NoBRS"     # refinement mode (core_model.brs), part of how the predictor is built
    settings: tuple = ()        # sorted (name, value) pairs of PredictorSettings (a model's preset as edited);
    #                             () = the checkpoint's own recommended settings
    engine: str = "auto"        # what runs the network: auto (PyTorch where installed), onnxruntime, torch


@dataclass(frozen=True)
class SetRaster:
    """The next avalanche is digitised on the raster file ``path`` with this window size, model and
    threshold (opens the raster, or keeps the open one when path and model are unchanged)."""
    path: str
    max_side: int
    predictor: PredictorKey
    threshold: float
    crs_wkt: str = ""           # the CRS the user set in QGIS for a georeferenced file without one


@dataclass(frozen=True)
class AddClick:
    x: float
    y: float
    is_positive: bool


@dataclass(frozen=True)
class Box:
    """A dragged box (two corners): starts a new avalanche, its centre is the first positive click."""
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class StartFromPolygon:
    """Start correcting a polygon (WKT in the raster CRS): it becomes the initial mask."""
    wkt: str


@dataclass(frozen=True)
class Undo:
    pass


@dataclass(frozen=True)
class Discard:
    pass


@dataclass(frozen=True)
class SetThreshold:
    value: float


@dataclass(frozen=True)
class Finish:
    """Vectorise the avalanche in progress and end it (the reply is a FinishedResult)."""
    min_area: float | None
    simplify: float | None


@dataclass(frozen=True)
class Close:
    """Close the raster and its session (the loaded model stays for the next raster)."""


@dataclass(frozen=True)
class Preload:
    """Load the model now and run it once on a small made-up image (the first forward passes of a
    freshly loaded model are several times slower than later ones), before the user's first click."""
    predictor: PredictorKey
    threshold: float = 0.49


COMMANDS = (SetRaster, AddClick, Box, StartFromPolygon, Undo, Discard, SetThreshold, Finish, Close, Preload)


# ============================================================================ replies
def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b)))
    return a == b


def _fields_equal(a, b, skip=()) -> bool:
    return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                      for f in fields(a) if f.name not in skip)


@dataclass(frozen=True)
class WindowGeometry:
    """The working window as plain numbers: the model image's ``grid`` (raster CRS; its shape is the
    model image's (rows, cols)) and the window's size in native pixels."""
    grid: Grid
    native_shape: tuple

    @classmethod
    def of(cls, window) -> "WindowGeometry":
        """From an engine.raster_window.RasterWindow."""
        return cls(window.grid, (int(window.height), int(window.width)))

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def geotransform(self) -> tuple:
        return self.grid.geotransform

    @property
    def height(self) -> int:
        return self.native_shape[0]

    @property
    def width(self) -> int:
        return self.native_shape[1]


@dataclass(frozen=True, eq=False)
class SessionView:
    """What the GUI draws after each command: the mask (bool, model-image pixels of ``window``), the
    window, the clicks as (x, y, is_positive) in raster CRS, the counts, the model's name and the
    threshold, the model's real device and the last prediction's latency. The empty view (nothing started)
has mask and window None."""
    mask: np.ndarray | None = None
    window: WindowGeometry | None = None
    clicks: list = field(default_factory=list)
    n_pos: int = 0
    n_neg: int = 0
    model_name: str = ""
    threshold: float | None = None
    device: str = ""                  # where the loaded model really runs ('' = not loaded yet)
    engine: str = ""                  # what runs it, e.g. "ONNX Runtime, CPU" ('' = not loaded / unknown)
    latency_ms: float | None = None   # the server's time for the last click / box / undo

    def __eq__(self, other) -> bool:   # the same state; a timing is not part of it
        return _fields_equal(self, other, skip=("latency_ms",))

    __hash__ = None


@dataclass(frozen=True, eq=False)
class FinishedResult:
    """A finished avalanche: polygons (WKT, raster CRS ``raster_crs_wkt``; '' = pixel units), the
    attributes for the layer (source, n_pos, n_neg, model, threshold), whether it corrects an existing
    polygon, and the view after the object was ended."""
    polygons_wkt: list
    attributes: dict
    raster_crs_wkt: str
    is_correction: bool
    view: SessionView = field(default_factory=SessionView)

    def __eq__(self, other) -> bool:
        return _fields_equal(self, other)

    __hash__ = None


def is_own_error(exc: BaseException) -> bool:
    """True for the errors whose text is one sentence for the user (``USER_ERRORS``: the plugin's root and
    core_model's); anything else is a bug."""
    return isinstance(exc, USER_ERRORS)


@dataclass(frozen=True)
class ErrorReply:
    """A command failed: ``kind`` is the exception's class name, ``text`` its sentence; ``is_own`` tells
    the plugin's own errors (show ``text``) from bugs (``traceback`` holds the worker's traceback)."""
    kind: str
    text: str
    is_own: bool
    traceback: str = ""

    @classmethod
    def of(cls, exc: BaseException) -> "ErrorReply":
        own = is_own_error(exc)
        trace = "" if own else "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(type(exc).__name__, str(exc), own, trace)


REPLIES = (SessionView, FinishedResult, ErrorReply)
