"""Glue between the map tool, the dock, the digitising session, the prediction worker and the layers.

Everything the session does (reading the raster window, predicting, vectorising) runs on the
prediction worker, in order; this class only turns user actions into worker jobs, draws the state each
job reports, writes finished objects into the avalanche layer and reports problems in the message bar,
one sentence each. Nothing digitised is lost: a click that cannot be used is refused before it reaches
the session, a finished avalanche that cannot be written is kept and saved on the next Space.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QFileDialog

from ..layers.crs import canvas_to_raster
from ..engine.errors import RasterError
from .overlay import DigitisingOverlay
from .prediction_worker import PredictionWorker
from ..engine.predictor_loader import PredictorUnavailable, make_predictor

MESSAGE_TITLE = "Avalanche digitiser"


@dataclass
class SessionState:
    """What the GUI draws, copied from the session on the worker thread after each job."""
    mask: object = None
    window: object = None
    clicks: list = field(default_factory=list)     # (x, y, is_positive) in raster CRS
    n_pos: int = 0
    n_neg: int = 0
    model: str = ""


@dataclass
class UnsavedObject:
    finished: object            # session.FinishedObject
    raster_crs: object          # QgsCoordinateReferenceSystem (invalid for photos)
    correction_fid: int | None


def _snapshot(session) -> SessionState:
    from ..engine.session import model_name

    predictor = getattr(session, "_predictor", None)
    mask = session.mask
    return SessionState(mask=None if mask is None else mask.copy(), window=session.window,
                        clicks=[(c.x, c.y, c.is_positive) for c in session.clicks],
                        n_pos=session.n_pos, n_neg=session.n_neg,
                        model=model_name(predictor) if predictor is not None else "")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, (ValueError, PredictorUnavailable)) and str(exc):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory while predicting: lower 'Window max side' in the dock."
    return (f"The prediction failed ({type(exc).__name__}: {exc}); see the 'Avalanche digitiser' tab of the "
            "log panel for details.")


class DigitisingController:
    def __init__(self, iface, dock, map_tool, predictor_factory=None):
        self.iface = iface
        self.dock = dock
        self.map_tool = map_tool
        self.canvas = iface.mapCanvas()
        self.settings = dock.settings
        # predictor_factory(checkpoint, device, threshold) -> InteractivePredictor; tests swap it
        self.predictor_factory = predictor_factory or make_predictor
        self.worker = PredictionWorker()
        self.worker.busyChanged.connect(self._on_busy)
        self.overlay = DigitisingOverlay(self.canvas, self.settings.overlay_opacity, self.settings.click_radius)
        self.session = None
        self.raster_layer_id: str | None = None
        self.raster_crs = QgsCoordinateReferenceSystem()
        self.state = SessionState()
        self.pending: list[tuple[float, float, bool]] = []
        self.unsaved: list[UnsavedObject] = []
        self.correction_fid: int | None = None
        self.target_layer_id: str | None = None
        self._predictor = None
        self._predictor_key = None
        self._session_key = None
        self._failure_shown = False

        map_tool.clicked.connect(self.on_click)
        map_tool.boxDrawn.connect(self.on_box)
        map_tool.finishRequested.connect(self.finish)
        map_tool.undoRequested.connect(self.undo)
        map_tool.discardRequested.connect(self.discard)
        dock.finishRequested.connect(self.finish)
        dock.undoRequested.connect(self.undo)
        dock.discardRequested.connect(self.discard)
        dock.newLayerRequested.connect(self.ask_new_layer)
        dock.correctRequested.connect(self.correct_selected)
        dock.exportRequested.connect(self.ask_export)
        dock.targetLayerChanged.connect(self._on_target_changed)
        dock.settingsChanged.connect(self._on_setting)
        QgsProject.instance().layersWillBeRemoved.connect(self._on_layers_removed)
        self._restore_target_layer()
        self._update_status()

    # ================================================================ messages / status
    def message(self, text: str, level=Qgis.Warning, duration: int = 8) -> None:
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, text, level=level, duration=duration)

    def _update_status(self) -> None:
        n_pos = self.state.n_pos + sum(1 for p in self.pending if p[2])
        n_neg = self.state.n_neg + sum(1 for p in self.pending if not p[2])
        chosen = os.path.splitext(os.path.basename(self.settings.checkpoint))[0] if self.settings.checkpoint else ""
        model = self.state.model or chosen
        if model and not self.state.model:
            model += " (loads on first click)"
        elif self.state.model and chosen and self._session_key != self._predictor_settings_key():
            model += f", then {chosen}"
        self.dock.set_status(n_pos, n_neg, model, self.settings.device, busy=not self.worker.is_idle())

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self._failure_shown = False
        self._update_status()

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Waits (processing events) until every queued job has run and been drawn."""
        self.worker.wait_idle(timeout)

    # ================================================================ raster / session
    def _raster_layer(self):
        layer = QgsProject.instance().mapLayer(self.raster_layer_id) if self.raster_layer_id else None
        return layer if isinstance(layer, QgsRasterLayer) else None

    def _object_in_progress(self) -> bool:
        return bool(self.pending) or self.state.window is not None

    def _session_for_click(self):
        """The session clicks go to, opening one on the active raster layer if needed; None + message
        when there is no usable raster."""
        active = self.iface.activeLayer()
        current = self._raster_layer()
        if self._object_in_progress() and current is not None:
            if isinstance(active, QgsRasterLayer) and active.id() != current.id():
                self.message(f"An avalanche is in progress on '{current.name()}': finish it (Space) or discard it "
                             f"(Esc) before digitising on '{active.name()}'.")
                return None
            return self.session
        if isinstance(active, QgsRasterLayer):
            layer = active
        elif current is not None:
            layer = current
        else:
            self.message("No raster layer is active: select the orthoimage or photo to digitise on in the "
                         "Layers panel, then click on the avalanche.")
            return None
        if (self.session is not None and layer.id() == self.raster_layer_id
                and self._session_key == self._predictor_settings_key()):
            return self.session
        return self._open_session(layer)

    def _open_session(self, layer):
        from ..engine.raster_window import RasterSource
        from ..engine.session import DigitisingSession

        if layer.providerType() != "gdal":
            self.message(f"The layer '{layer.name()}' is not a raster file (it comes from the "
                         f"'{layer.providerType()}' provider): digitise on a GeoTIFF, JPEG or PNG layer.")
            return None
        try:
            source = RasterSource.open(layer.source())
        except RasterError as exc:
            self.message(str(exc))
            return None
        self.session = DigitisingSession(source, self._session_predictor, max_side=self.settings.max_side)
        self._session_key = self._predictor_settings_key()
        self.raster_layer_id = layer.id()
        self.raster_crs = layer.crs() if source.is_georeferenced else QgsCoordinateReferenceSystem()
        self.state = SessionState()
        return self.session

    def _predictor_settings_key(self):
        return (self.settings.checkpoint, self.settings.device, self.predictor_factory)

    def _session_predictor(self):
        """Called by the session on the worker thread the first time it needs the predictor; the model
        is loaded once and shared by later sessions while checkpoint and device stay the same."""
        key = self._predictor_settings_key()
        if self._predictor is None or self._predictor_key != key:
            self._predictor = None
            self._predictor = self.predictor_factory(self.settings.checkpoint, self.settings.device,
                                                     self.settings.threshold)
            self._predictor_key = key
        settings = getattr(self._predictor, "settings", None)
        if settings is not None:
            settings.threshold = self.settings.threshold
        return self._predictor

    def _to_raster(self, point):
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        return canvas_to_raster(point.x(), point.y(), canvas_crs, self.raster_crs)

    # ================================================================ user actions
    def on_click(self, point, is_positive: bool) -> None:
        session = self._session_for_click()
        if session is None:
            return
        try:
            x, y = self._to_raster(point)
        except RasterError as exc:
            self.message(str(exc))
            return
        if not session.source.contains(x, y):
            self.message(f"The click is outside the raster '{session.source.name}': click on the image.")
            return
        if not self._object_in_progress() and self.settings.max_side != session.max_side:
            session.max_side = self.settings.max_side
        click = (x, y, bool(is_positive))
        self.pending.append(click)
        self._submit(self._job_click, session, click)

    def on_box(self, start, end) -> None:
        session = self._session_for_click()
        if session is None:
            return
        try:
            x0, y0 = self._to_raster(start)
            x1, y1 = self._to_raster(end)
        except RasterError as exc:
            self.message(str(exc))
            return
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        if not session.source.contains(cx, cy):
            self.message(f"The centre of the box is outside the raster '{session.source.name}': draw the box "
                         "over the image.")
            return
        if self.state.clicks or self.pending:
            self.message("A box starts a new avalanche: finish (Space) or discard (Esc) the one in progress first.",
                         level=Qgis.Info)
            return
        session.max_side = self.settings.max_side
        self.correction_fid = None
        self.pending.append((cx, cy, True))
        self._submit(self._job_box, session, (x0, y0, x1, y1))

    def undo(self) -> None:
        if self.session is None or not self._object_in_progress():
            return
        self._submit(self._job_undo, self.session, None)

    def discard(self) -> None:
        if self.session is None or not self._object_in_progress():
            if self.unsaved:
                self.message(f"{len(self.unsaved)} finished avalanche(s) wait to be saved: choose a writable "
                             "target layer and press Space.", level=Qgis.Info)
            return
        self.correction_fid = None
        self._submit(self._job_discard, self.session, None)

    def finish(self) -> None:
        if self.session is None or not self._object_in_progress():
            if self.unsaved:
                self._save_unsaved()
            else:
                self.message("Nothing to finish: left-click on an avalanche first.", level=Qgis.Info)
            return
        layer = self.target_layer()
        if layer is None:
            self.message("No target layer is chosen: pick a polygon layer in the dock or create one with "
                         "'New…', then press Space again (your clicks are kept).")
            return
        if not self._check_polygon_layer(layer):
            return
        job_args = (self.settings.min_area, self.settings.simplify, self.correction_fid, self.raster_crs)
        self.correction_fid = None
        self.worker.submit(self._job_finish, self.session, job_args,
                           on_done=self._on_finished, on_failed=self._on_failed)
        self._update_status()

    # ================================================================ worker jobs (worker thread)
    @staticmethod
    def _job_click(session, click):
        x, y, positive = click
        session.add_click(x, y, positive)
        return _snapshot(session)

    @staticmethod
    def _job_box(session, box):
        session.start_box(*box)
        return _snapshot(session)

    @staticmethod
    def _job_undo(session, _):
        session.undo()
        return _snapshot(session)

    @staticmethod
    def _job_discard(session, _):
        session.discard()
        return _snapshot(session)

    @staticmethod
    def _job_polygon(session, wkt):
        session.start_from_polygon(wkt)
        return _snapshot(session)

    @staticmethod
    def _job_threshold(session, threshold):
        predictor = getattr(session, "_predictor", None)
        if predictor is not None:
            predictor.settings.threshold = threshold
        return _snapshot(session)

    @staticmethod
    def _job_finish(session, args):
        min_area, simplify, correction_fid, raster_crs = args
        finished = session.finish(min_area=min_area, simplify=simplify)
        fid = correction_fid if finished.is_correction else None
        session.discard()
        return UnsavedObject(finished, raster_crs, fid), _snapshot(session)

    # ================================================================ job results (GUI thread)
    def _submit(self, job, session, arg) -> None:
        had_click = job in (self._job_click, self._job_box)
        self.worker.submit(job, session, arg,
                           on_done=lambda state: self._on_state(state, had_click),
                           on_failed=lambda exc: self._on_failed(exc, had_click))
        self._draw()

    def _on_state(self, state: SessionState, consumed_click: bool) -> None:
        if consumed_click and self.pending:
            self.pending.pop(0)
        self.state = state
        self._draw()

    def _on_failed(self, exc, consumed_click: bool = False) -> None:
        if consumed_click and self.pending:
            self.pending.pop(0)
        if not self._failure_shown:
            self._failure_shown = True
            text = _error_text(exc)
            if consumed_click and self.state.clicks:
                text += " (That click was not added; your earlier clicks are kept.)"
            self.message(text)
        self._draw()

    def _on_finished(self, result) -> None:
        unsaved, state = result
        self.state = state
        self.unsaved.append(unsaved)
        self._draw()
        self._save_unsaved()

    def _draw(self) -> None:
        s = self.state
        self.overlay.show_state(s.mask, s.window, s.clicks, self.pending, self.raster_crs)
        self._update_status()

    # ================================================================ target layer
    def target_layer(self):
        layer = QgsProject.instance().mapLayer(self.target_layer_id) if self.target_layer_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    def _check_polygon_layer(self, layer) -> bool:
        from ..layers.avalanche_layer import check_polygon_layer

        try:
            check_polygon_layer(layer)
        except ValueError as exc:
            self.message(str(exc))
            return False
        return True

    def set_target_layer(self, layer) -> bool:
        """Use ``layer`` for finished avalanches; refuses (message) a layer that is not polygons."""
        if layer is None:
            self.target_layer_id = None
            return True
        if not self._check_polygon_layer(layer):
            return False
        self.target_layer_id = layer.id()
        if self.dock.target_layer() is not layer:
            self.dock.set_target_layer(layer)
        path = layer.source().split("|")[0]
        if os.path.isfile(path) and self.settings.target_layer != path:
            self.settings.target_layer = path
            self.settings.save()
        if self.unsaved:
            self._save_unsaved()
        return True

    def _on_target_changed(self, layer) -> None:
        if layer is None or (self.target_layer_id and layer.id() == self.target_layer_id):
            return
        self.set_target_layer(layer)

    def _restore_target_layer(self) -> None:
        layer = self.dock.target_layer()
        if layer is not None and isinstance(layer, QgsVectorLayer):
            self.target_layer_id = layer.id()

    def create_target_layer(self, path: str):
        """Create a new avalanche GeoPackage at ``path``, add it to the project and make it the target."""
        from ..layers import avalanche_layer

        crs = self._new_layer_crs()
        try:
            layer = avalanche_layer.create_avalanche_layer(path, crs)
        except ValueError as exc:
            self.message(str(exc))
            return None
        QgsProject.instance().addMapLayer(layer)
        self.set_target_layer(layer)
        self.message(f"Created the avalanche layer '{layer.name()}' in {path}.", level=Qgis.Success, duration=4)
        return layer

    def _new_layer_crs(self):
        """The CRS of the raster being digitised (None for a photo without georeference, whose polygons
        are in pixel units), else the project's."""
        from ..engine.raster_window import RasterSource

        raster = self._raster_layer()
        active = self.iface.activeLayer()
        if raster is None and isinstance(active, QgsRasterLayer):
            raster = active
        if raster is None:
            return QgsProject.instance().crs()
        if raster.id() == self.raster_layer_id and self.session is not None:
            georeferenced = self.session.source.is_georeferenced
        else:
            try:
                georeferenced = RasterSource.open(raster.source()).is_georeferenced
            except ValueError:
                georeferenced = raster.crs().isValid()
        return raster.crs() if georeferenced and raster.crs().isValid() else None

    def ask_new_layer(self) -> None:
        start = os.path.dirname(self.settings.target_layer) if self.settings.target_layer else ""
        path, _ = QFileDialog.getSaveFileName(self.iface.mainWindow(), "New avalanche layer",
                                              os.path.join(start, "avalanches.gpkg"), "GeoPackage (*.gpkg)")
        if path:
            if not path.lower().endswith(".gpkg"):
                path += ".gpkg"
            self.create_target_layer(path)

    def _save_unsaved(self) -> None:
        from ..layers import avalanche_layer

        layer = self.target_layer()
        if layer is None:
            self.message(f"{len(self.unsaved)} finished avalanche(s) are kept but not saved: choose or create a "
                         "target layer, then press Space to save them.")
            return
        if not self._check_polygon_layer(layer):
            return
        while self.unsaved:
            item = self.unsaved[0]
            fo = item.finished
            attrs = {"source": fo.source_name, "n_pos": fo.n_pos, "n_neg": fo.n_neg, "model": fo.model,
                     "threshold": fo.threshold}
            try:
                if item.correction_fid is not None:
                    avalanche_layer.replace_geometry(layer, item.correction_fid, fo.polygons_wkt, item.raster_crs, attrs)
                else:
                    avalanche_layer.add_object(layer, fo.polygons_wkt, item.raster_crs, attrs)
            except ValueError as exc:
                self.message(f"{exc} (The finished avalanche is kept: press Space to save it once this is fixed.)")
                return
            self.unsaved.pop(0)
            layer.triggerRepaint()

    # ================================================================ correction
    def correct_selected(self) -> None:
        """Load the selected polygon (active vector layer, else the target layer) as the starting mask;
        Finish then replaces that feature's geometry (same fid and id)."""
        from ..layers.avalanche_layer import feature_wkt_in_crs, selected_polygon_id

        active = self.iface.activeLayer()
        layer = active if isinstance(active, QgsVectorLayer) else self.target_layer()
        if layer is None:
            self.message("Select the avalanche polygon to correct in the target layer first.")
            return
        if self._object_in_progress():
            self.message("Finish (Space) or discard (Esc) the avalanche in progress before correcting a polygon.")
            return
        try:
            fid = selected_polygon_id(layer)
        except ValueError as exc:
            self.message(str(exc))
            return
        if not self._check_polygon_layer(layer):
            return
        raster = active if isinstance(active, QgsRasterLayer) else self._raster_layer()
        if raster is None:
            raster = next((lyr for lyr in QgsProject.instance().mapLayers().values()
                           if isinstance(lyr, QgsRasterLayer)), None)
        if raster is None:
            self.message("No raster layer is open: add the orthoimage or photo the polygon was digitised on.")
            return
        session = self.session if (raster.id() == self.raster_layer_id and self.session is not None
                                   and self._session_key == self._predictor_settings_key()) else self._open_session(raster)
        if session is None:
            return
        try:
            wkt = feature_wkt_in_crs(layer, fid, self.raster_crs)
        except ValueError as exc:
            self.message(str(exc))
            return
        if self.target_layer_id != layer.id() and not self.set_target_layer(layer):
            return
        self.correction_fid = fid
        self._submit(self._job_polygon, session, wkt)

    # ================================================================ export
    def export(self, path: str) -> bool:
        from ..layers import avalanche_layer

        layer = self.target_layer()
        if layer is None:
            self.message("No target layer to export: choose the avalanche layer in the dock first.")
            return False
        try:
            avalanche_layer.export_layer(layer, path)
        except ValueError as exc:
            self.message(str(exc))
            return False
        self.settings.export_dir = os.path.dirname(path)
        self.settings.save()
        self.message(f"Exported {layer.featureCount()} avalanche(s) to {path}.", level=Qgis.Success, duration=4)
        return True

    def ask_export(self) -> None:
        if self.target_layer() is None:
            self.message("No target layer to export: choose the avalanche layer in the dock first.")
            return
        path, chosen = QFileDialog.getSaveFileName(self.iface.mainWindow(), "Export avalanches",
                                                   os.path.join(self.settings.export_dir, "avalanches.gpkg"),
                                                   "GeoPackage (*.gpkg);;ESRI Shapefile (*.shp)")
        if not path:
            return
        if not os.path.splitext(path)[1]:
            path += ".shp" if "Shapefile" in chosen else ".gpkg"
        self.export(path)

    # ================================================================ settings
    def _on_setting(self, name: str) -> None:
        if name == "overlay_opacity":
            self.overlay.set_opacity(self.settings.overlay_opacity)
            self.canvas.update()
        elif name == "click_radius":
            self.overlay.set_click_radius(self.settings.click_radius)
        elif name == "threshold" and self.session is not None:
            self._submit(self._job_threshold, self.session, self.settings.threshold)
        elif name in ("checkpoint", "device") and self._object_in_progress():
            self.message("The new model is used from the next avalanche on; the one in progress keeps "
                         "its model.", level=Qgis.Info, duration=4)
        self._update_status()

    def _on_layers_removed(self, layer_ids) -> None:
        if self.raster_layer_id not in layer_ids:
            return
        had_object = self._object_in_progress()
        self.worker.cancel_queued()
        self.worker.wait_idle(60)
        self.session = None
        self.raster_layer_id = None
        self.pending = []
        self.correction_fid = None
        self.state = SessionState()
        self._draw()
        if had_object:
            self.message("The raster of the avalanche in progress was removed from the project, so that "
                         "avalanche is discarded.", level=Qgis.Info)

    # ================================================================ life cycle
    def shutdown(self) -> None:
        try:
            QgsProject.instance().layersWillBeRemoved.disconnect(self._on_layers_removed)
        except TypeError:
            pass
        self.worker.stop()
        self.overlay.remove()
        self.session = None
        self._predictor = None
