"""Glue between the map tool, the dock, the digitising model, the session server's worker and the layers.

The rules live in engine/digitising_model.py and everything live (raster, session, model) in
engine/session_server.py on the worker thread; this class turns canvas points into raster-CRS points,
hands user actions to the model, sends the commands it returns through the worker transport, shows its
messages in the message bar, draws each reply and writes finished avalanches through TargetLayer.
Errors: the plugin's own as their one sentence; anything else is a bug, logged with its traceback in
the 'Avalanche digitiser' tab of the log panel, and the user gets a short sentence pointing there.
"""
from __future__ import annotations

import traceback

from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsMessageLog, QgsProject, QgsRasterLayer, QgsVectorLayer

from ..engine.digitising_model import (INFO, LAYER_CRS_PROJECT, LAYER_CRS_RASTER, SUCCESS, WARNING, DigitisingModel,
                                       RasterRef, error_text)
from ..engine.errors import RasterError
from ..engine.protocol import ErrorReply
from ..engine.raster_info import describe_raster
from ..engine.session_server import SessionServer
from ..layers.crs import canvas_to_raster
from .overlay import DigitisingOverlay
from .target_layer import TargetLayer
from .worker_transport import WorkerTransport

MESSAGE_TITLE = "Avalanche digitiser"
LEVELS = {INFO: Qgis.Info, WARNING: Qgis.Warning, SUCCESS: Qgis.Success}


class DigitisingController:
    def __init__(self, iface, dock, map_tool, predictor_factory=None, pickle_messages: bool = False):
        self.iface = iface
        self.dock = dock
        self.canvas = iface.mapCanvas()
        self.settings = dock.settings
        self.model = DigitisingModel(self.settings)
        self.worker = WorkerTransport(SessionServer(predictor_factory), pickle_messages)
        self.worker.replied.connect(self._on_reply)
        self.worker.busyChanged.connect(self._on_busy)
        self.overlay = DigitisingOverlay(self.canvas, self.settings.overlay_opacity, self.settings.click_radius)
        self.raster_crs = QgsCoordinateReferenceSystem()    # of the model's raster; invalid for photos
        self.target = TargetLayer(iface, dock, self.message, self._on_target_chosen)
        self.target.new_layer_crs = self._new_layer_crs
        self.result_hook = None        # (UnsavedObject, target layer) -> UnsavedObject to write; the webcam panel's
        self._pinned_raster = None     # RasterRef clicks go to whatever layer is active (the photo canvas's)
        self.connect_map_tool(map_tool)
        dock.finishRequested.connect(self.finish)
        dock.undoRequested.connect(lambda: self._apply(self.model.undo()))
        dock.discardRequested.connect(lambda: self._apply(self.model.discard()))
        dock.correctRequested.connect(self.correct_selected)
        dock.settingsChanged.connect(self._on_setting)
        QgsProject.instance().layersWillBeRemoved.connect(self._on_layers_removed)
        self._update_status()

    def connect_map_tool(self, map_tool) -> None:
        """Clicks, boxes and keys of ``map_tool`` (an AvalancheMapTool on any canvas) go to this controller."""
        map_tool.clicked.connect(self.on_click)
        map_tool.boxDrawn.connect(self.on_box)
        map_tool.finishRequested.connect(self.finish)
        map_tool.undoRequested.connect(lambda: self._apply(self.model.undo()))
        map_tool.discardRequested.connect(lambda: self._apply(self.model.discard()))

    def use_canvas(self, canvas, raster_layer=None) -> bool:
        """Digitise on ``canvas`` (clicks in its CRS, overlay drawn on it); with ``raster_layer`` every
        click goes to that raster whatever layer is active (the webcam panel's photo). False (and a
        message) while an avalanche is in progress on the other canvas."""
        pinned = RasterRef(raster_layer.id(), raster_layer.name()) if raster_layer is not None else None
        if canvas is self.canvas and pinned == self._pinned_raster:
            return True
        if self.model.object_in_progress:
            self.message("Finish (Space) or discard (Esc) the avalanche in progress before switching between the "
                         "photo and the map.")
            return False
        self.overlay.remove()
        self.canvas, self._pinned_raster = canvas, pinned
        self.overlay = DigitisingOverlay(canvas, self.settings.overlay_opacity, self.settings.click_radius)
        self._draw()
        return True

    @property
    def state(self):
        """The last SessionView the server sent (what is drawn)."""
        return self.model.view

    @property
    def predictor_factory(self):
        return self.worker.server.predictor_factory

    @predictor_factory.setter
    def predictor_factory(self, factory) -> None:
        self.worker.server.predictor_factory = factory

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Waits (processing events) until every command has been answered and drawn."""
        self.worker.wait_idle(timeout)

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

    def _report_bug(self, exc: BaseException) -> None:
        QgsMessageLog.logMessage(traceback.format_exc(), MESSAGE_TITLE, Qgis.Critical)
        self.message(error_text(ErrorReply.of(exc)))

    def _draw(self) -> None:
        view = self.model.view
        self.overlay.show_state(view.mask, view.window, view.clicks, self.model.pending, self.raster_crs)
        self._update_status()

    def _update_status(self) -> None:
        s = self.model.status()
        self.dock.set_status(s.n_pos, s.n_neg, s.model, s.device, busy=not self.worker.is_idle())

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self.model.worker_idle()
        self._update_status()

    def _on_reply(self, command, reply) -> None:
        try:
            self._apply(self.model.on_reply(command, reply))
        except Exception as exc:  # a bug in showing or saving a reply: logged, one sentence
            self._report_bug(exc)
        self._draw()

    # ================================================================ rasters
    def _active_raster(self) -> RasterRef | None:
        if self._pinned_raster is not None:
            return self._pinned_raster
        layer = self.iface.activeLayer()
        return RasterRef(layer.id(), layer.name()) if isinstance(layer, QgsRasterLayer) else None

    def _open(self, raster: RasterRef) -> bool:
        """Make ``raster`` the model's raster (its facts read once); False + message when unusable."""
        if self.model.knows(raster):
            return True
        layer = QgsProject.instance().mapLayer(raster.layer_id)
        if layer.providerType() != "gdal":
            self.message(f"The layer '{layer.name()}' is not a raster file (it comes from the "
                         f"'{layer.providerType()}' provider): digitise on a GeoTIFF, JPEG or PNG layer.")
            return False
        try:
            info = describe_raster(layer.source())
        except RasterError as exc:
            self.message(str(exc))
            return False
        self.model.use_raster(raster, info)
        self.raster_crs = layer.crs() if info.is_georeferenced else QgsCoordinateReferenceSystem()
        return True

    def _raster_points(self, *points):
        """The canvas points in the CRS of the raster they go to; None (and a message) when none can take them."""
        raster, refused = self.model.raster_for_click(self._active_raster())
        if raster is None or not self._open(raster):
            self._apply(refused)
            return None
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        try:
            return [canvas_to_raster(p.x(), p.y(), canvas_crs, self.raster_crs) for p in points]
        except RasterError as exc:
            self.message(str(exc))
            return None

    def _new_layer_crs(self):
        """The CRS of the raster being digitised (None for a photo in pixel units), else the project's."""
        raster = self.model.raster_for_new_layer(self._active_raster())
        layer = QgsProject.instance().mapLayer(raster.layer_id) if raster is not None else None
        if not isinstance(layer, QgsRasterLayer):
            return QgsProject.instance().crs()
        info = self.model.raster_info if self.model.knows(raster) else None
        if info is None:
            try:
                info = describe_raster(layer.source())
            except ValueError:
                pass
        georeferenced = info.is_georeferenced if info is not None else layer.crs().isValid()
        rule = self.model.new_layer_crs(raster, georeferenced, layer.crs().isValid())
        return {LAYER_CRS_RASTER: layer.crs(), LAYER_CRS_PROJECT: QgsProject.instance().crs()}.get(rule)  # None: pixels

    # ================================================================ user actions
    def on_click(self, point, is_positive: bool) -> None:
        points = self._raster_points(point)
        if points:
            self._apply(self.model.click(*points[0], is_positive))

    def on_box(self, start, end) -> None:
        points = self._raster_points(start, end)
        if points:
            self._apply(self.model.box(*points[0], *points[1]))

    def finish(self) -> None:
        layer = self.target.layer()
        self._apply(self.model.finish(layer is not None, self.target.problem(layer) if layer is not None else None))

    def _save_unsaved(self) -> None:
        layer = self.target.layer()
        problem = self.target.problem(layer) if layer is not None else None
        write = self.target.write
        if self.result_hook is not None:
            def write(item, hook=self.result_hook):
                self.target.write(hook(item, layer))
        self._apply(self.model.save_unsaved(layer is not None, problem, write))

    def _on_target_chosen(self) -> None:
        if self.model.unsaved:
            self._save_unsaved()

    def correct_selected(self) -> None:
        """Load the selected polygon (active vector layer, else the target layer) as the starting mask;
        Finish then replaces that feature's geometry (same fid and id)."""
        from ..layers.avalanche_layer import feature_wkt_in_crs, selected_polygon_id

        active = self.iface.activeLayer()
        layer = active if isinstance(active, QgsVectorLayer) else self.target.layer()
        if layer is None:
            return self.message("Select the avalanche polygon to correct in the target layer first.")
        refused = self.model.correction_refused()
        if refused:
            return self._apply(refused)
        try:
            fid = selected_polygon_id(layer)
        except ValueError as exc:
            return self.message(str(exc))
        if not self.target.check(layer):
            return
        raster = self._active_raster() or self.model.raster or next(
            (RasterRef(lyr.id(), lyr.name()) for lyr in QgsProject.instance().mapLayers().values()
             if isinstance(lyr, QgsRasterLayer)), None)
        if raster is None:
            return self.message("No raster layer is open: add the orthoimage or photo the polygon was digitised on.")
        if not self._open(raster):
            return
        try:
            wkt = feature_wkt_in_crs(layer, fid, self.raster_crs)
        except ValueError as exc:
            return self.message(str(exc))
        if self.target.layer_id != layer.id() and not self.target.choose(layer):
            return
        self._apply(self.model.correct(fid, wkt))

    # ================================================================ settings, project, life cycle
    def _on_setting(self, name: str) -> None:
        if name == "overlay_opacity":
            self.overlay.set_opacity(self.settings.overlay_opacity)
            self.canvas.update()
        elif name == "click_radius":
            self.overlay.set_click_radius(self.settings.click_radius)
        self._apply(self.model.setting_changed(name))

    def _on_layers_removed(self, layer_ids) -> None:
        if self.model.uses_raster(layer_ids):
            self.worker.cancel_queued()
            self.worker.wait_idle(60)
            self._apply(self.model.raster_removed())

    def shutdown(self) -> None:
        try:
            QgsProject.instance().layersWillBeRemoved.disconnect(self._on_layers_removed)
        except TypeError:
            pass
        self.worker.stop()
        self.overlay.remove()
