"""The worker side of the digitiser: one object that answers protocol commands with plain replies.

``SessionServer.handle(command) -> reply`` owns everything live: the RasterSource opened from the
command's path, the DigitisingSession on it, the threshold, and the loaded predictor. The predictor is
made through ``predictor_factory(checkpoint, device, threshold[, brs_mode=, settings=])`` the first time
a session needs it (so torch loads on the first click, not when a raster is chosen) and reused by later
sessions while the PredictorKey (checkpoint, device, refinement, settings) stays the same; only the latest
model is kept in memory.

Nothing live leaves the server: replies are protocol.SessionView / FinishedResult / ErrorReply. Any
exception becomes an ErrorReply (the plugin's own errors as one sentence, bugs with their traceback).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from . import avalanche_engine
from .errors import SessionError
from .predictor_loader import make_predictor
from .protocol import (AddClick, Box, Close, Discard, ErrorReply, Finish, FinishedResult, PredictorKey, Preload,
                       SessionView, SetRaster, SetThreshold, StartFromPolygon, Undo, WindowGeometry)
from .target_rules import finished_units

_PREDICTING = (AddClick, Box, StartFromPolygon, Undo)   # commands whose time the status line shows
NO_RASTER = "No raster is open for digitising: click on the orthoimage or photo first."


def _assign_crs(source, crs_wkt: str) -> None:
    """A georeferenced file without CRS takes the one the user set in QGIS (``SetRaster.crs_wkt``)."""
    if crs_wkt and source.is_georeferenced:
        source.crs_wkt = crs_wkt


class SessionServer:
    def __init__(self, predictor_factory=None):
        # predictor_factory(checkpoint, device, threshold) -> InteractivePredictor; tests pass a fake
        self._factory = predictor_factory or make_predictor
        self._predictor_key: PredictorKey | None = None
        self._predictor = None
        self._source = None
        self._session = None
        self._session_key: PredictorKey | None = None
        self.threshold: float | None = None
        self._latency_ms: float | None = None

    # ------------------------------------------------------------------ public
    @property
    def predictor_factory(self):
        return self._factory

    @predictor_factory.setter
    def predictor_factory(self, factory) -> None:
        """Another factory: the loaded model is dropped and the next raster gets a new session."""
        self._factory = factory or make_predictor
        self._predictor, self._predictor_key = None, None
        self._session, self._session_key = None, None

    @property
    def session(self):
        """The DigitisingSession (None before the first SetRaster and after Close)."""
        return self._session

    def handle(self, command):
        """Run one command; returns its reply (never raises)."""
        try:
            handler = self._HANDLERS[type(command)]
            if type(command) in _PREDICTING:
                started = time.perf_counter()
                reply = handler(self, command)
                if not isinstance(reply, ErrorReply):
                    self._latency_ms = (time.perf_counter() - started) * 1000.0
                    reply = dataclasses.replace(reply, latency_ms=self._latency_ms)
                return reply
            return handler(self, command)
        except KeyError:
            return ErrorReply.of(TypeError(f"Not a digitising command: {command!r}"))
        except Exception as exc:  # the plugin's own sentence, or a bug with its traceback
            return ErrorReply.of(exc)

    # ------------------------------------------------------------------ commands
    def _set_raster(self, command: SetRaster):
        from .raster_window import RasterSource
        from .session import DigitisingSession

        self._set_threshold_to(command.threshold)
        same_raster = self._source is not None and self._source.path == command.path
        if same_raster:
            _assign_crs(self._source, command.crs_wkt)
        if same_raster and self._session is not None and self._session_key == command.predictor:
            self._session.max_side = int(command.max_side)
            return self._view()
        self._session = None
        source = self._source if same_raster else RasterSource.open(command.path)
        _assign_crs(source, command.crs_wkt)
        self._source = source
        key = command.predictor
        self._session = DigitisingSession(source, lambda: self._predictor_for(key), max_side=command.max_side)
        self._session_key = key
        return self._view()

    def _add_click(self, command: AddClick):
        self._need_session().add_click(command.x, command.y, command.is_positive)
        return self._view()

    def _box(self, command: Box):
        self._need_session().start_box(command.x0, command.y0, command.x1, command.y1)
        return self._view()

    def _start_from_polygon(self, command: StartFromPolygon):
        self._need_session().start_from_polygon(command.wkt)
        return self._view()

    def _undo(self, _command: Undo):
        self._need_session().undo()
        return self._view()

    def _discard(self, _command: Discard):
        if self._session is not None:
            self._session.discard()
        return self._view()

    def _set_threshold(self, command: SetThreshold):
        self._set_threshold_to(command.value)
        return self._view()

    def _set_threshold_to(self, value: float) -> None:
        """The GUI's threshold: a predictor made from now on gets it, and the loaded one's settings — which
        own it for the mask and the refinement modes — take it at once."""
        self.threshold = float(value)
        if self._predictor is not None:
            self._predictor.settings.threshold = self.threshold

    def _finish(self, command: Finish):
        session = self._need_session()
        finished = avalanche_engine.finish_object(session, min_area=command.min_area, simplify=command.simplify)
        session.discard()
        attributes = {"source": finished.source_name, "n_pos": finished.n_pos, "n_neg": finished.n_neg,
                      "model": finished.model, "threshold": finished.threshold, "units": finished_units(finished)}
        return FinishedResult(polygons_wkt=list(finished.polygons_wkt), attributes=attributes,
                              raster_crs_wkt=finished.raster_crs_wkt, is_correction=bool(finished.is_correction),
                              view=self._view())

    def _close(self, _command: Close):
        if self._session is not None:
            self._session.discard()
        self._session, self._session_key, self._source = None, None, None
        return self._view()

    def _preload(self, command: Preload):
        if self.threshold is None:
            self.threshold = float(command.threshold)
        warm_up(self._predictor_for(command.predictor))
        return self._view()

    _HANDLERS = {SetRaster: _set_raster, AddClick: _add_click, Box: _box, StartFromPolygon: _start_from_polygon,
                 Undo: _undo, Discard: _discard, SetThreshold: _set_threshold, Finish: _finish, Close: _close,
                 Preload: _preload}

    # ------------------------------------------------------------------ internals
    def _need_session(self):
        if self._session is None:
            raise SessionError(NO_RASTER)
        return self._session

    def _predictor_for(self, key: PredictorKey):
        """The predictor for ``key``, loaded once; another key replaces it (one model in memory)."""
        if self._predictor is None or self._predictor_key != key:
            if self._predictor is not None:
                self._predictor, self._predictor_key = None, None
                _free_model_memory()
            # the refinement mode only when set: factories of the three-argument kind keep working
            extra = {} if key.brs_mode == "NoBRS" else {"brs_mode": key.brs_mode}
            if key.settings:   # a chosen model's preset: likewise only when there is one
                extra["settings"] = dict(key.settings)
            if key.engine != "auto":   # an engine chosen in the dock: likewise
                extra["engine"] = key.engine
            self._predictor = self._factory(key.checkpoint, key.device, self.threshold, **extra)
            self._predictor_key = key
        return self._predictor

    def _view(self) -> SessionView:
        from .session import model_name

        session = self._session
        if session is None:
            return SessionView(threshold=self.threshold)
        loaded = getattr(session, "_predictor", None)   # not loaded yet: do not load it for a view
        if loaded is None and self._predictor_key == self._session_key:
            loaded = self._predictor
        mask = session.mask
        window = session.window
        return SessionView(mask=None if mask is None else np.array(mask, dtype=bool),
                           window=None if window is None else WindowGeometry.of(window),
                           clicks=[(c.x, c.y, c.is_positive) for c in session.clicks],
                           n_pos=session.n_pos, n_neg=session.n_neg,
                           model_name=model_name(loaded) if loaded is not None else "",
                           threshold=self.threshold,
                           device=str(getattr(loaded, "device", "") or "") if loaded is not None else "",
                           engine=str(getattr(getattr(loaded, "engine", None), "description", "") or ""),
                           latency_ms=self._latency_ms)


def warm_up(predictor, size: tuple[int, int] = (720, 960)) -> None:
    """Two clicks on a made-up textured image: the first forward passes of a loaded model (full image,
    then the first zoom-in crop) pay torch's one-time costs (oneDNN kernels and weight layouts, memory
    pools) — measured ~6 s and ~4 s on a busy 2-core machine where later clicks take ~0.6 s
    (scripts/measure_click_latency.py). The session sets its own image afterwards."""
    import numpy as np

    if not hasattr(predictor, "set_image"):
        return
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    image = (127 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0)).astype(np.uint8)
    image[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 230
    predictor.set_image(np.dstack([image] * 3))
    predictor.add_click(h // 2, w // 2, True)
    predictor.add_click(h // 2 + h // 12, w // 2 - w // 12, True)
    if hasattr(predictor, "reset"):
        predictor.reset()


def _free_model_memory() -> None:
    """After dropping a model: collect it now and hand PyTorch's cached GPU memory back to the driver."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
