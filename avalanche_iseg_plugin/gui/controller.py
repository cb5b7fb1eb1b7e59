"""Glue between the map tool, the dock, the digitising rules, the session server's worker and the layers.

The rules live in engine/digitising_rules.py and everything live (raster, session, model) in
engine/session_server.py on the worker thread; this class turns canvas points into raster-CRS points,
hands user actions to the rules, sends the commands it returns through the worker transport, shows its
messages in the message bar, draws each reply and writes finished avalanches through TargetLayer.
Errors: the plugin's own as their one sentence; anything else is a bug, logged with its traceback in
the 'Avalanche digitiser' tab of the log panel, and the user gets a short sentence pointing there.
"""
from __future__ import annotations

import contextlib

from qgis.core import Qgis, QgsMessageLog, QgsProject, QgsVectorLayer

from ..engine.errors import USER_ERRORS
from ..engine.digitising_rules import INFO, SUCCESS, WARNING, DigitisingRules, Message, Outcome, error_text
from ..engine.protocol import ErrorReply
from .next_attributes import NextAttributes
from .overlay import DigitisingOverlay
from .dock_sync import DockSync
from .raster_layers import RasterLayers
from .result_hook import ResultHookSlot
from .target_layer import TargetLayer
from .transport.transports import THREAD
from .transport.worker_link import WorkerLink

MESSAGE_TITLE = "Avalanche digitiser"
LEVELS = {INFO: Qgis.Info, WARNING: Qgis.Warning, SUCCESS: Qgis.Success}


def _single_shot(parent, slot):
    from qgis.PyQt.QtCore import QTimer

    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.timeout.connect(slot)
    return timer


class DigitisingController:
    def __init__(self, iface, dock, map_tool, predictor_factory=None, pickle_messages: bool = False,
                 transport: str | None = None):
        self._shut = False         # after shutdown, late replies are dropped
        self.iface = iface
        self.dock = dock
        self.canvas = iface.mapCanvas()
        self.settings = dock.settings
        self.rules = DigitisingRules(self.settings)
        self.link = WorkerLink(transport or self.settings.transport, predictor_factory,
                               pickle_messages, self._on_reply, self._on_busy, self.message)
        self.overlay = DigitisingOverlay(self.canvas, self.settings.overlay_opacity, self.settings.click_radius)
        # the dock's raster (DockSync, made below), independent of the active layer
        self.rasters = RasterLayers(iface, self.rules, self.message, choice=lambda: self.dock_sync.current())
        self.result_hooks = ResultHookSlot()     # the webcam panel's (gui/result_hook.py)
        self.target = TargetLayer(iface, dock, self.message, self._on_target_chosen,
                                  lambda: self.result_hooks.new_layer_crs() or self.rasters.new_layer_crs())
        self.map_tool = map_tool
        self.next_attributes = NextAttributes(iface, dock, self.message)   # the record + terrain of each avalanche
        self.connect_map_tool(map_tool)
        self.dock_sync = DockSync(self)
        map_tool.pickRequested.connect(self.dock_sync.pick)
        dock.finishRequested.connect(self.finish)
        dock.undoRequested.connect(lambda: self._apply(self.rules.undo()))
        dock.discardRequested.connect(lambda: self._apply(self.rules.discard()))
        dock.correctRequested.connect(self.correct_selected)
        dock.settingsChanged.connect(self._on_setting)
        QgsProject.instance().layersWillBeRemoved.connect(self._on_layers_removed)
        self._update_status()

    def preload_soon(self, delay_ms: int = 1500) -> None:
        """Load and warm up the model in the background shortly after the tool is switched on."""
        if getattr(self, "_preload_timer", None) is None:
            self._preload_timer = _single_shot(self.dock, self._preload)
        self._preload_timer.start(delay_ms)

    def _preload(self) -> None:
        if not self._shut:
            self._apply(self.rules.preload())

    def connect_map_tool(self, map_tool) -> None:
        """Clicks, boxes and keys of ``map_tool`` (an AvalancheMapTool on any canvas) go to this controller."""
        map_tool.clicked.connect(self.on_click)
        map_tool.boxDrawn.connect(self.on_box)
        map_tool.finishRequested.connect(self.finish)
        map_tool.undoRequested.connect(lambda: self._apply(self.rules.undo()))
        map_tool.discardRequested.connect(lambda: self._apply(self.rules.discard()))

    def use_canvas(self, canvas, raster_layer=None) -> bool:
        """Digitise on ``canvas`` (clicks in its CRS, the overlay drawn on it); with ``raster_layer`` every click
        goes to that raster whatever layer is active (the webcam panel's photo). False (and a message) while
        an avalanche is in progress."""
        from ..engine.digitising_rules import RasterRef

        pinned = RasterRef(raster_layer.id(), raster_layer.name()) if raster_layer is not None else None
        if canvas is self.canvas and pinned == self.rasters.pinned:
            return True
        if self.rules.object_in_progress:
            self.message("Finish (Space) or discard (Esc) the avalanche in progress before switching between the "
                         "photo and the map.")
            return False
        self.overlay.remove()
        self.canvas, self.rasters.pinned = canvas, pinned
        self.overlay = DigitisingOverlay(canvas, self.settings.overlay_opacity, self.settings.click_radius)
        self._draw()
        return True

    @property
    def state(self):
        """The last SessionView the server sent (what is drawn)."""
        return self.rules.view

    @property
    def worker(self):
        """The transport commands go through now (WorkerLink may replace it)."""
        return self.link.worker

    @property
    def predictor_factory(self):
        return self.link.factory

    @predictor_factory.setter
    def predictor_factory(self, factory) -> None:
        self.link.factory = factory

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Waits (processing events) until every command has been answered and drawn, and the result hook is idle."""
        for wait in (self.rasters.snapshots.wait, self.worker.wait_idle, getattr(self.result_hooks.hook, "wait_idle", None)):
            wait is not None and wait(timeout)

    # ================================================================ messages, status, drawing
    def message(self, text: str, level=Qgis.Warning, duration: int = 8) -> None:
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, text, level=level, duration=duration)

    def _apply(self, outcome) -> None:
        for text in outcome.bugs:
            QgsMessageLog.logMessage(text, MESSAGE_TITLE, Qgis.Critical)
        for m in outcome.messages:
            self.message(m.text, LEVELS[m.level], m.duration)
        for command in outcome.commands:
            self.worker.send(command)
        if outcome.save:
            self._save_unsaved()
        if outcome.commands:
            self._draw()
        else:
            self._update_status()

    def _report(self, exc: BaseException) -> None:
        reply = ErrorReply.of(exc)
        self._apply(Outcome(messages=[Message(error_text(reply))], bugs=[] if reply.is_own else [reply.traceback]))

    def _draw(self) -> None:
        view = self.rules.view
        self.overlay.show_state(view.mask, view.window, view.clicks, self.rules.pending, self.rasters.crs)
        self._update_status()

    def _update_status(self) -> None:
        s = self.rules.status()
        self.dock.set_status(s.n_pos, s.n_neg, s.model, s.device, busy=not self.worker.is_idle(),
                             latency_ms=s.latency_ms, refinement=s.brs_mode, engine=s.engine)
        if getattr(self, "dock_sync", None) is not None:
            self.dock_sync.refresh()

    def _on_busy(self, busy: bool) -> None:
        if self._shut:
            return
        if not busy:
            self.rules.worker_idle()
        self._update_status()

    def _on_reply(self, command, reply) -> None:
        if self._shut:         # e.g. the answer to a Preload after the plugin was unloaded
            return
        try:
            self._apply(self.rules.on_reply(command, reply))
        except Exception as exc:  # a bug in showing or saving a reply: logged, one sentence
            self._report(exc)
        self._draw()

    # ================================================================ user actions
    def on_click(self, point, is_positive: bool) -> None:
        points = self._raster_points(point, retry=lambda: self.on_click(point, is_positive))
        if points:
            self._apply(self.rules.click(*points[0], is_positive))

    def _raster_points(self, *points, retry=None):
        points, refused = self.rasters.points_for_click(self.canvas.mapSettings().destinationCrs(), *points,
                                                        retry=retry)
        if points is None:
            self._apply(refused)
        return points

    def on_box(self, start, end) -> None:
        points = self._raster_points(start, end, retry=lambda: self.on_box(start, end))
        if points:
            self._apply(self.rules.box(*points[0], *points[1]))

    def finish(self) -> None:
        correcting = self.rules.correction_fid is not None
        layer = self.target.layer_for(self.rules.correction_layer if correcting else None)
        self._apply(self.rules.finish(layer is not None, self.target.problem(layer) if layer is not None else None))

    def _save_unsaved(self) -> None:
        layer = self.target.layer()
        problem = self.target.problem(layer) if layer is not None else None
        write, hook = self.next_attributes.wrap(self.target.write, self.target.layer_for), self.result_hooks.hook
        if hook is not None:
            complete_and_write = write

            def write(item):
                complete_and_write(hook(item, self.target.layer_for(item.layer_id)))
        self._apply(self.rules.save_unsaved(layer is not None, problem, write))

    def _on_target_chosen(self) -> None:
        if self.rules.unsaved:
            self._save_unsaved()

    def correct_selected(self) -> None:
        """Load the selected polygon (active vector layer, else the target layer) as the starting mask;
        Finish then replaces that feature's geometry (same fid and id)."""
        from ..layers.avalanche_layer import selected_polygon_id

        active = self.iface.activeLayer()
        layer = active if isinstance(active, QgsVectorLayer) else self.target.layer()
        if layer is None:
            return self.message("Select the avalanche polygon to correct in the target layer first.")
        refused = self.rules.correction_refused()
        if refused:
            return self._apply(refused)
        try:
            fid = selected_polygon_id(layer)
        except USER_ERRORS as exc:
            return self.message(str(exc))
        self.correct_feature(layer, fid)

    def correct_feature(self, layer, fid: int) -> None:
        """Correct feature ``fid`` of ``layer``: its polygon is the starting mask, the digitising tool is
        switched on, and Finish writes back into ``layer`` (the target layer stays as it is)."""
        from ..layers.avalanche_layer import feature_wkt_in_crs

        refused = self.rules.correction_refused()
        if refused:
            return self._apply(refused)
        if not self.target.check(layer):
            return
        raster = self.rasters.active() or self.rules.raster or self.rasters.first_in_project()
        if raster is None:
            return self.message("No raster layer is open: add the orthoimage or photo the polygon was digitised on.")
        if not self.rasters.open(raster, retry=self.correct_selected):
            return
        try:
            wkt = feature_wkt_in_crs(layer, fid, self.rasters.crs)
        except USER_ERRORS as exc:
            return self.message(str(exc))
        if self.canvas is self.iface.mapCanvas() and self.canvas.mapTool() is not self.map_tool:
            self.canvas.setMapTool(self.map_tool)
        self._apply(self.rules.correct(fid, wkt, layer.id()))
        self.message(f"Correcting polygon {fid} of '{layer.name()}': click to refine it, Space saves it back into "
                     "that layer.", Qgis.Info, 5)

    # ================================================================ settings, project, life cycle
    def _on_setting(self, name: str) -> None:
        if name == "overlay_opacity":
            self.overlay.set_opacity(self.settings.overlay_opacity)
            self.canvas.update()
        elif name == "click_radius":
            self.overlay.set_click_radius(self.settings.click_radius)
        elif name == "transport" and not self.rules.object_in_progress:
            self.link.switch(self.settings.transport)
        self._apply(self.rules.setting_changed(name))

    def _on_layers_removed(self, layer_ids) -> None:
        if self.rules.uses_raster(layer_ids):
            self.worker.cancel_queued()
            self.worker.wait_idle(60)
            self._apply(self.rules.raster_removed())

    def shutdown(self) -> None:
        self._shut = True
        if getattr(self, "_preload_timer", None) is not None:
            self._preload_timer.stop()
        with contextlib.suppress(TypeError):     # not connected
            QgsProject.instance().layersWillBeRemoved.disconnect(self._on_layers_removed)
        self.worker.stop()
        self.rasters.snapshots.close()
        self.overlay.remove()
        self.dock_sync.shutdown()
        self.target.shutdown()
