"""The webcam panel's logic: open a photo, pick GCPs, fit the camera, save / load / remember it.

The photo is a raster layer added to the project without a node in the layer tree (so the main map
does not draw it in pixel units); the panel's canvas shows it.  The camera engine
(``engine.webcam``) does the fitting; this class turns its results and its errors (one sentence
each, in the message bar) into the table and the label.  A camera found for the photo (its project
entry, a frame of the same webcam, or ``<photo>.camera.json``) is loaded when the photo is opened.
"""
from __future__ import annotations

import os

from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QObject, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QApplication

from ...engine.errors import AvalancheError
from ...layers import camera_registry
from . import camera_files
from .gcp_markers import GcpMarkerSet
from .gcp_picker import GcpPicker, PickedGcp

MESSAGE_TITLE = "Webcam camera"


def photo_has_georeference(path: str) -> bool:
    from osgeo import gdal

    ds = gdal.Open(path)
    if ds is None:
        return False
    gt = ds.GetGeoTransform(can_return_null=True)
    return bool(ds.GetProjection()) or (gt is not None and tuple(gt) != (0.0, 1.0, 0.0, 0.0, 0.0, 1.0))


def fit_summary(camera, fit, camera_path: str) -> str:
    """The panel's result line: RMSE and leave-one-out error of the fit, the camera's pose, where it is saved."""
    if camera is None:
        return "No camera: pick at least 6 GCPs and press Fit, or load a camera file."
    pose = (f"Camera at x {camera.position[0]:.0f}, y {camera.position[1]:.0f}, z {camera.position[2]:.0f}; heading "
            f"{round(camera.heading_deg, 1) % 360:.1f}°, pitch {camera.pitch_deg:.1f}°, focal "
            f"{camera.focal_px:.0f} px.")
    if fit is None:
        return f"Camera from {os.path.basename(camera_path) if camera_path else 'an unsaved fit'}. {pose}"
    import numpy as np

    loo = np.asarray(fit.loo_ground_error, dtype=float)
    loo_text = (f"leave-one-out ground error median {np.nanmedian(loo):.1f} m, max {np.nanmax(loo):.1f} m"
                if np.isfinite(loo).any() else "leave-one-out: no ray met the DEM")
    saved = f"Saved to {os.path.basename(camera_path)}." if camera_path else "Not saved yet: press 'Save camera…'."
    return f"RMSE {fit.rmse_px:.2f} px on {len(fit.residuals_px)} GCPs ({fit.lens} lens); {loo_text}.\n{pose}\n{saved}"


class WebcamController(QObject):
    cameraChanged = pyqtSignal()   # the photo, its camera or the DEM changed

    def __init__(self, iface, panel):
        super().__init__()
        self.iface = iface
        self.panel = panel
        self.photo_layer_id: str | None = None
        self.photo_path = ""
        self.photo_size: tuple[int, int] | None = None
        self.gcps: list[PickedGcp] = []
        self.fit = None              # engine CameraFit of the points in the table (None when they changed)
        self.camera = None           # engine Camera in use (fitted or loaded)
        self.camera_path = ""        # its file ('' until saved)
        self.camera_crs_wkt = ""
        self._dem = (None, None)     # (path, engine Dem) of the chosen DEM, read once
        self.picker = GcpPicker(panel.photo_canvas, iface.mapCanvas(), lambda: self.photo_size, panel.dem_layer,
                                self._height_at)
        self.photo_markers = GcpMarkerSet(panel.photo_canvas)
        self.map_markers = GcpMarkerSet(iface.mapCanvas())
        self.picker.gcpPicked.connect(self.add_gcp)
        self.picker.hintChanged.connect(panel.set_hint)
        self.picker.refused.connect(self.message)
        self.picker.pendingChanged.connect(self._draw_markers)
        self.picker.activeChanged.connect(panel.set_picking)
        panel.photoChosen.connect(self.open_photo)
        panel.demChanged.connect(self._on_dem_changed)
        panel.pickToggled.connect(self._on_pick_toggled)
        panel.deleteRequested.connect(self.delete_selected)
        panel.fitRequested.connect(self.fit_camera)
        panel.saveRequested.connect(lambda: camera_files.ask_save(self))
        panel.loadRequested.connect(lambda: camera_files.ask_load(self))
        iface.mapCanvas().destinationCrsChanged.connect(self._draw_markers)
        QgsProject.instance().layersWillBeRemoved.connect(self._on_layers_removed)

    # ================================================================ messages
    def message(self, text: str, level=Qgis.Warning, duration: int = 8) -> None:
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, text, level=level, duration=duration)

    # ================================================================ photo
    def photo_layer(self):
        layer = QgsProject.instance().mapLayer(self.photo_layer_id) if self.photo_layer_id else None
        return layer if isinstance(layer, QgsRasterLayer) else None

    def open_photo(self, path: str) -> bool:
        """Show the photo at ``path`` in the panel; loads the camera remembered for it, if any."""
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            self.message(f"The photo '{path}' does not exist.")
            return False
        layer = QgsRasterLayer(path, os.path.splitext(os.path.basename(path))[0], "gdal")
        if not layer.isValid():
            self.message(f"QGIS cannot read '{os.path.basename(path)}' as an image: open a JPEG, PNG or TIFF photo.")
            return False
        if photo_has_georeference(path):
            self.message(f"'{os.path.basename(path)}' is georeferenced: it is a map, not a webcam photo; digitise on "
                         "it in the main map.")
            return False
        self.picker.stop()
        layer.setCrs(QgsCoordinateReferenceSystem())   # pixel units, whatever QGIS's default for unknown CRS
        old = self.photo_layer()
        QgsProject.instance().addMapLayer(layer, False)
        self.photo_layer_id = layer.id()
        if old is not None:
            QgsProject.instance().removeMapLayer(old.id())
        self.photo_path = path
        self.photo_size = (layer.width(), layer.height())
        self.panel.set_photo_path(path)
        self.panel.photo_canvas.show_photo(layer)
        self.gcps = []
        self.fit = None
        self.show_gcps()
        self.set_camera(None, "", "")
        camera_path = camera_registry.camera_for_photo(path, self.photo_size)
        if camera_path:
            self.load_camera(camera_path, quiet=True)
        self.panel.set_hint("Choose the DEM, press 'Pick GCPs', then click a landmark in the photo and the same "
                            "landmark on the map; 6 or more spread over the photo.")
        self.cameraChanged.emit()
        return True

    def _on_layers_removed(self, layer_ids) -> None:
        if self.photo_layer_id in layer_ids:
            self.picker.stop()
            self.photo_layer_id = None
            self.panel.photo_canvas.show_photo(None)

    # ================================================================ GCPs
    def _on_pick_toggled(self, on: bool) -> None:
        if not on:
            self.picker.stop()
            return
        if self.photo_layer() is None:
            self.message("Open a photo first.")
            self.panel.set_picking(False)
            return
        if self.panel.dem_layer() is None:
            self.message("Choose the DEM (a raster layer of heights) first.")
            self.panel.set_picking(False)
            return
        self.picker.start()

    def add_gcp(self, gcp: PickedGcp) -> None:
        self.gcps.append(gcp)
        self.fit = None
        self.show_gcps()

    def delete_selected(self) -> None:
        rows = self.panel.gcp_table.selected_indices()
        if not rows:
            self.message("Select the GCP rows to delete in the table first.", level=Qgis.Info, duration=4)
            return
        self.gcps = [g for i, g in enumerate(self.gcps) if i not in rows]
        self.fit = None
        self.show_gcps()

    def show_gcps(self) -> None:
        self.panel.gcp_table.set_gcps(self.gcps)
        if self.fit is not None:
            self.panel.gcp_table.set_fit(list(self.fit.residuals_px), list(self.fit.loo_ground_error))
        self._draw_markers()

    def _draw_markers(self, *_args) -> None:
        canvas = self.panel.photo_canvas
        photo_points = [(canvas.photo_point_to_canvas(g.col, g.row), str(i + 1)) for i, g in enumerate(self.gcps)]
        pending = self.picker.pending
        pending_point = canvas.photo_point_to_canvas(*pending) if pending is not None else None
        self.photo_markers.show(photo_points, pending_point, str(len(self.gcps) + 1))
        dem = self.panel.dem_layer()
        if dem is None:
            self.map_markers.clear()
            return
        try:
            map_points = [(self.picker.dem_to_map(g.x, g.y, dem), str(i + 1)) for i, g in enumerate(self.gcps)]
        except Exception:  # noqa: BLE001 - a marker that cannot be placed is not drawn
            map_points = []
        self.map_markers.show(map_points)

    def _on_dem_changed(self, _layer) -> None:
        self._draw_markers()
        self.cameraChanged.emit()

    # ================================================================ DEM
    def dem_path(self) -> str:
        dem = self.panel.dem_layer()
        if dem is None or dem.providerType() != "gdal":
            return ""
        return dem.source().split("|")[0]

    def open_dem(self):
        """The engine's Dem of the chosen DEM layer; None + message when none can be used."""
        from ...engine.webcam.dem import Dem

        dem = self.panel.dem_layer()
        if dem is None:
            self.message("Choose the DEM (a raster layer of heights) in the webcam panel first.")
            return None
        if dem.providerType() != "gdal":
            self.message(f"The DEM '{dem.name()}' is not a raster file; use a GeoTIFF or ASCII grid layer.")
            return None
        path = self.dem_path()
        if self._dem[0] == path:
            return self._dem[1]
        try:
            self._dem = (path, Dem.open(path))
        except AvalancheError as exc:
            self.message(str(exc))
            return None
        return self._dem[1]

    def _height_at(self, _dem_layer, x: float, y: float):
        """The DEM's bilinear height at a map point (as the fit and the projection see it); None off it."""
        dem = self.open_dem()
        if dem is None:
            return None
        z = float(dem.sample(x, y))
        return z if z == z else None

    # ================================================================ fit
    def fit_camera(self) -> bool:
        from ...engine.webcam.camera_fit import fit_camera, minimum_gcps
        from ...engine.webcam.gcp_file import GroundControlPoints

        if self.photo_layer() is None:
            self.message("Open a photo first.")
            return False
        need = minimum_gcps(False)
        if len(self.gcps) < need:
            self.message(f"{len(self.gcps)} GCP(s) picked, but fitting a camera needs at least {need}: pick more "
                         "landmarks spread over the photo.")
            return False
        dem = self.open_dem()
        if dem is None:
            return False
        gcps = GroundControlPoints.from_arrays([(g.col, g.row) for g in self.gcps],
                                               [(g.x, g.y, g.z) for g in self.gcps])
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            fit = fit_camera(gcps, dem, self.photo_size)
        except AvalancheError as exc:
            self.message(str(exc))
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.fit = fit
        self.set_camera(fit.camera, "", dem.crs_wkt)
        self.show_gcps()
        self.cameraChanged.emit()
        return True

    def set_camera(self, camera, path: str, crs_wkt: str) -> None:
        self.camera, self.camera_path, self.camera_crs_wkt = camera, path, crs_wkt
        self.panel.set_camera_state(camera is not None)
        self.panel.set_result(self.result_text())

    def result_text(self) -> str:
        return fit_summary(self.camera, self.fit, self.camera_path)

    # ================================================================ save / load (camera_files.py)
    def save_camera(self, path: str) -> bool:
        return camera_files.save_camera(self, path)

    def load_camera(self, path: str, quiet: bool = False) -> bool:
        return camera_files.load_camera(self, path, quiet)

    # ================================================================ life cycle
    def shutdown(self) -> None:
        self.picker.shutdown()
        for signal, slot in ((self.iface.mapCanvas().destinationCrsChanged, self._draw_markers),
                             (QgsProject.instance().layersWillBeRemoved, self._on_layers_removed)):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass
        self.photo_markers.clear()
        self.map_markers.clear()
        layer = self.photo_layer()
        if layer is not None:
            QgsProject.instance().removeMapLayer(layer.id())
        self.photo_layer_id = None
