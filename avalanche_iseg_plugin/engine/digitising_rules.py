"""The digitiser's rules, without Qt or QGIS: what a user action becomes, and what each reply changes.

``DigitisingRules`` takes plain inputs (layer ids and names, raster facts, points already in the
raster's CRS, booleans) and answers with an ``Outcome``: protocol commands to send to the session
server, messages to show (text + level), whether the finished avalanches should be written now, and
bug reports to log. It keeps:

* the raster the avalanche in progress is on — a click with another raster active is refused until
  that avalanche is finished or discarded;
* the clicks sent but not answered yet (``pending``; drawn hollow and counted in the status);
* the finished avalanches not written yet (``unsaved``): kept until a write succeeds, so nothing is lost
  when the target layer refuses them;
* the model key (checkpoint, device): a change applies from the next avalanche on;
* the feature being corrected (correcting is refused while an avalanche is in progress);
* the view the server last sent, and the status line's pieces;
* whether the model was preloaded (``preload``: loaded and warmed up in the background when the tool
  goes on, so the first clicks do not pay torch's first-run costs);
* the layer of the polygon being corrected: a correction is written back there, needing no target.

``settings`` is the dock's PluginSettings (engine.plugin_settings); it is read when a command is made.
"""
from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field

from .errors import USER_ERRORS, WriteDeferred
from .plugin_settings import MODEL_SETTINGS, PluginSettings
from .protocol import (AddClick, Box, Close, Discard, ErrorReply, Finish, FinishedResult, PredictorKey, Preload,
                       SessionView, SetRaster, SetThreshold, StartFromPolygon, Undo)

INFO, WARNING, SUCCESS = "info", "warning", "success"

NO_RASTER_ACTIVE = ("No raster layer is active: choose the orthoimage or photo to digitise on in the dock's "
                    "'Raster' field (or select it in the Layers panel), then click on the avalanche.")
NO_TARGET = ("No target layer is chosen: pick a polygon layer in the dock or create one with 'New…', then press "
             "Space again (your clicks are kept).")
NOTHING_TO_FINISH = "Nothing to finish: left-click on an avalanche first."
BOX_NEEDS_NEW_OBJECT = "A box starts a new avalanche: finish (Space) or discard (Esc) the one in progress first."
CORRECT_WHILE_IN_PROGRESS = "Finish (Space) or discard (Esc) the avalanche in progress before correcting a polygon."
NEW_MODEL_LATER = "The new model is used from the next avalanche on; the one in progress keeps its model."
RASTER_REMOVED = ("The raster of the avalanche in progress was removed from the project, so that avalanche is "
                  "discarded.")
CLICK_NOT_ADDED = " (That click was not added; your earlier clicks are kept.)"
OUT_OF_MEMORY = "The computer ran out of memory while predicting: lower 'Window max side' in the dock."

LAYER_CRS_RASTER, LAYER_CRS_PROJECT, LAYER_CRS_NONE = "raster", "project", "none"


@dataclass(frozen=True)
class Message:
    text: str
    level: str = WARNING
    duration: int = 8


@dataclass
class Outcome:
    commands: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    save: bool = False                               # write the unsaved avalanches now
    bugs: list = field(default_factory=list)         # tracebacks to log


@dataclass(frozen=True)
class RasterRef:
    """A raster layer of the project, as the model knows it."""
    layer_id: str
    name: str


@dataclass
class UnsavedObject:
    result: FinishedResult
    correction_fid: int | None       # the feature it replaces, None for a new avalanche
    layer_id: str | None = None      # a correction's own layer (None: the target layer)


@dataclass(frozen=True)
class Status:
    n_pos: int
    n_neg: int
    model: str
    device: str
    latency_ms: float | None = None
    brs_mode: str = "NoBRS"
    engine: str = ""               # e.g. "ONNX Runtime, CPU" once the model is loaded


def _model_of(key: PredictorKey | None):
    return None if key is None else (key.checkpoint, key.device)


def error_text(reply: ErrorReply) -> str:
    """The sentence the user sees: the plugin's own errors as they are, bugs as a pointer to the log."""
    if reply.kind == "MemoryError":
        return OUT_OF_MEMORY
    if reply.is_own and reply.text:
        return reply.text
    return (f"The prediction failed ({reply.kind}: {reply.text}); see the 'Avalanche digitiser' tab of the "
            "log panel for details.")


def _say(text: str, level: str = WARNING, duration: int = 8) -> Outcome:
    return Outcome(messages=[Message(text, level, duration)])


class DigitisingRules:
    def __init__(self, settings: PluginSettings):
        self.settings = settings
        self.view = SessionView()
        self.pending: list[tuple[float, float, bool]] = []
        self.unsaved: list[UnsavedObject] = []
        self.correction_fid: int | None = None
        self.correction_layer: str | None = None      # the layer of the polygon being corrected
        self.raster: RasterRef | None = None
        self.raster_info = None                       # engine.raster_info.RasterInfo of ``raster``
        self.session_key: PredictorKey | None = None  # the model of the avalanche in progress / last one
        self._finishing: deque = deque()              # correction fid of each Finish not answered yet
        self._failure_shown = False
        self._preloaded: PredictorKey | None = None   # the model a Preload was sent for
        self._preload_done = False                     # ... and answered

    # ------------------------------------------------------------------ state
    @property
    def object_in_progress(self) -> bool:
        return bool(self.pending) or self.view.window is not None

    @property
    def predictor_key(self) -> PredictorKey:
        return PredictorKey(self.settings.checkpoint, self.settings.device,
                            self.settings.brs_mode, self.settings.predictor_settings(), self.settings.engine)

    def status(self) -> Status:
        n_pos = self.view.n_pos + sum(1 for p in self.pending if p[2])
        n_neg = self.view.n_neg + sum(1 for p in self.pending if not p[2])
        checkpoint = self.settings.checkpoint
        chosen = os.path.splitext(os.path.basename(checkpoint))[0] if checkpoint else ""
        model = self.view.model_name or chosen
        if model and not self.view.model_name:
            ready = self._preloaded == self.predictor_key
            model += {None: " (loads on first click)", False: " (loading…)", True: " (ready)"}[
                self._preload_done if ready else None]
        elif self.view.model_name and chosen and _model_of(self.session_key) != _model_of(self.predictor_key):
            model += f", then {chosen}"                     # the refinement mode alone: said below
        device = self.view.device or self.settings.device   # where the model really runs, once loaded
        brs = (self.session_key if self.object_in_progress and self.session_key else self.predictor_key).brs_mode
        if self.object_in_progress and self.session_key and brs != self.predictor_key.brs_mode:
            brs += f", then {self.predictor_key.brs_mode}"    # a mode chosen mid-avalanche: the next one's
        return Status(n_pos, n_neg, model, device, self.view.latency_ms, brs, self.view.engine)

    # ------------------------------------------------------------------ which raster
    def raster_for_click(self, active: RasterRef | None) -> tuple[RasterRef | None, Outcome]:
        """The raster a click (or box) goes to, given the active raster layer (None when the active
        layer is not a raster); (None, message) when it cannot go anywhere."""
        current = self.raster
        if self.object_in_progress and current is not None:
            if active is not None and active.layer_id != current.layer_id:
                return None, _say(f"An avalanche is in progress on '{current.name}': finish it (Space) or discard "
                                  f"it (Esc) before digitising on '{active.name}'.")
            return current, Outcome()
        if active is not None:
            return active, Outcome()
        if current is not None:
            return current, Outcome()
        return None, _say(NO_RASTER_ACTIVE)

    def knows(self, raster: RasterRef) -> bool:
        return self.raster is not None and self.raster.layer_id == raster.layer_id

    def use_raster(self, raster: RasterRef, info) -> None:
        """Digitise on ``raster`` (facts ``info``) from the next avalanche on."""
        self.raster, self.raster_info = raster, info

    def _start_object(self) -> SetRaster:
        self.session_key = self.predictor_key
        s = self.settings
        return SetRaster(self.raster_info.path, int(s.max_side), self.session_key, float(s.threshold),
                         getattr(self.raster_info, "assigned_crs_wkt", ""))

    # ------------------------------------------------------------------ user actions
    def click(self, x: float, y: float, is_positive: bool) -> Outcome:
        """A click in raster CRS on the raster chosen by raster_for_click / use_raster."""
        info = self.raster_info
        if not info.grid.contains(x, y):
            return _say(f"The click is outside the raster '{info.name}': click on the image.")
        commands = [] if self.object_in_progress else [self._start_object()]
        click = (float(x), float(y), bool(is_positive))
        self.pending.append(click)
        return Outcome(commands + [AddClick(*click)])

    def box(self, x0: float, y0: float, x1: float, y1: float) -> Outcome:
        info = self.raster_info
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        if not info.grid.contains(cx, cy):
            return _say(f"The centre of the box is outside the raster '{info.name}': draw the box over the image.")
        if self.view.clicks or self.pending:
            return _say(BOX_NEEDS_NEW_OBJECT, INFO)
        self.correction_fid = None
        self.pending.append((cx, cy, True))
        return Outcome([self._start_object(), Box(x0, y0, x1, y1)])

    def undo(self) -> Outcome:
        return Outcome([Undo()]) if self.raster is not None and self.object_in_progress else Outcome()

    def discard(self) -> Outcome:
        if self.raster is None or not self.object_in_progress:
            if self.unsaved:
                return _say(f"{len(self.unsaved)} finished avalanche(s) wait to be saved: choose a writable target "
                            "layer and press Space.", INFO)
            return Outcome()
        self.correction_fid = None
        return Outcome([Discard()])

    def finish(self, has_target: bool, target_error: str | None = None) -> Outcome:
        """Space: finish the avalanche in progress, or save the kept ones. ``target_error`` is the
        sentence saying why the chosen target layer cannot take polygons (None when it can)."""
        if self.raster is None or not self.object_in_progress:
            return Outcome(save=True) if self.unsaved else _say(NOTHING_TO_FINISH, INFO)
        if self.correction_fid is None and not has_target:
            return _say(NO_TARGET)
        if target_error:
            return _say(target_error)
        self._finishing.append((self.correction_fid, self.correction_layer))
        self.correction_fid = None
        return Outcome([Finish(self.settings.min_area, self.settings.simplify)])

    def save_unsaved(self, has_target: bool, target_error: str | None, write) -> Outcome:
        """Write the kept avalanches in order with ``write(UnsavedObject)``; one that fails (ValueError)
        stays, with every one after it, and the message says so. Corrections go to their own layer, so
        ``has_target`` / ``target_error`` (the target layer's) only matter for new avalanches."""
        if not self.unsaved:
            return Outcome()
        needs_target = any(u.correction_fid is None for u in self.unsaved)
        if needs_target and not has_target:
            return _say(f"{len(self.unsaved)} finished avalanche(s) are kept but not saved: choose or create a "
                        "target layer, then press Space to save them.")
        if needs_target and target_error:
            return _say(target_error)
        while self.unsaved:
            try:
                write(self.unsaved[0])
            except WriteDeferred as exc:     # kept, and written by the front end once it is ready
                return _say(str(exc), INFO, 4)
            except USER_ERRORS as exc:
                return _say(f"{exc} (The finished avalanche is kept: press Space to save it once this is fixed.)")
            self.unsaved.pop(0)
        return Outcome()

    def preload(self) -> Outcome:
        """The tool was switched on: load and warm up the model in the background (once per model), so
        that the first avalanche's clicks do not pay torch's first-run costs (issue 13)."""
        key = self.predictor_key
        if self.object_in_progress or self._preloaded == key or not key.checkpoint:
            return Outcome()
        self._preloaded, self._preload_done = key, False
        return Outcome([Preload(key, float(self.settings.threshold))])

    # ------------------------------------------------------------------ correction
    def correction_refused(self) -> Outcome | None:
        """Why a polygon cannot be corrected now (None when it can)."""
        return _say(CORRECT_WHILE_IN_PROGRESS) if self.object_in_progress else None

    def correct(self, fid: int, wkt: str, layer_id: str | None = None) -> Outcome:
        """Start correcting feature ``fid`` of layer ``layer_id`` whose polygon is ``wkt`` (raster CRS of the
        chosen raster); the next Finish replaces its geometry in that layer (the target stays as it is)."""
        self.correction_fid, self.correction_layer = int(fid), layer_id
        return Outcome([self._start_object(), StartFromPolygon(wkt)])

    # ------------------------------------------------------------------ new layer
    def raster_for_new_layer(self, active: RasterRef | None) -> RasterRef | None:
        """The raster whose CRS a new avalanche layer takes: the one digitised on, else the active one."""
        return self.raster if self.raster is not None else active

    @staticmethod
    def new_layer_crs(raster: RasterRef | None, is_georeferenced: bool, raster_crs_valid: bool) -> str:
        """LAYER_CRS_PROJECT without a raster; LAYER_CRS_RASTER for a georeferenced raster with a CRS;
        LAYER_CRS_NONE (pixel units) for a photo."""
        if raster is None:
            return LAYER_CRS_PROJECT
        return LAYER_CRS_RASTER if is_georeferenced and raster_crs_valid else LAYER_CRS_NONE

    # ------------------------------------------------------------------ settings / project
    def setting_changed(self, name: str) -> Outcome:
        if name == "threshold" and self.raster is not None:
            return Outcome([SetThreshold(float(self.settings.threshold))])
        if name in ("checkpoint", "device", "brs_mode", "engine", "model", *MODEL_SETTINGS) and self.object_in_progress:
            return _say(NEW_MODEL_LATER, INFO, 4)
        return Outcome()

    def uses_raster(self, layer_ids) -> bool:
        return self.raster is not None and self.raster.layer_id in layer_ids

    def raster_removed(self) -> Outcome:
        """The raster of the session left the project (its queued commands are dropped): the avalanche
        in progress is discarded and the raster closed."""
        had_object = self.object_in_progress
        self.raster, self.raster_info, self.session_key = None, None, None
        self.pending, self.correction_fid = [], None
        self._finishing.clear()
        self.view = SessionView()
        outcome = Outcome([Close()])
        if had_object:
            outcome.messages.append(Message(RASTER_REMOVED, INFO))
        return outcome

    # ------------------------------------------------------------------ replies
    def worker_idle(self) -> None:
        """Every command is answered: the next failure is shown again."""
        self._failure_shown = False

    def on_reply(self, command, reply) -> Outcome:
        consumed_click = isinstance(command, (AddClick, Box))
        if consumed_click and self.pending:
            self.pending.pop(0)
        fid, layer_id = ((self._finishing.popleft() if self._finishing else (None, None))
                         if isinstance(command, Finish) else (None, None))
        if isinstance(command, Preload):
            self._preload_done = command.predictor == self._preloaded and not isinstance(reply, ErrorReply)
            if isinstance(reply, ErrorReply):
                self._preloaded = None                    # try again next time the tool goes on
            # a model that cannot load says so on the first click; only a bug is logged now
            return Outcome(bugs=[reply.traceback] if isinstance(reply, ErrorReply) and not reply.is_own else [])
        if isinstance(reply, ErrorReply):
            return self._on_error(command, reply, consumed_click, fid, layer_id)
        if isinstance(reply, FinishedResult):
            self.view = reply.view
            fixed = reply.is_correction and fid is not None
            self.unsaved.append(UnsavedObject(reply, fid if fixed else None, layer_id if fixed else None))
            return Outcome(save=True)
        self.view = reply
        return Outcome()

    def _on_error(self, command, reply: ErrorReply, consumed_click: bool, fid, layer_id=None) -> Outcome:
        if isinstance(command, SetRaster):
            self.raster, self.raster_info = None, None     # re-read the raster on the next click
        if isinstance(command, Finish) and self.correction_fid is None:
            self.correction_fid, self.correction_layer = fid, layer_id   # still in progress: finish again
        outcome = Outcome(bugs=[] if reply.is_own else [reply.traceback or f"{reply.kind}: {reply.text}"])
        if not self._failure_shown:
            self._failure_shown = True
            text = error_text(reply)
            if consumed_click and self.view.clicks:
                text += CLICK_NOT_ADDED
            outcome.messages.append(Message(text))
        return outcome
