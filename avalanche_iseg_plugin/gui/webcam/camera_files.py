"""Save camera… / Load camera… of the webcam panel: the JSON camera file (engine/webcam/camera_file.py)
and its entry in the QGIS project (layers/camera_registry.py).

Functions of the panel's WebcamController ``w`` (its photo, camera, fit, DEM and message bar).  A
camera is saved next to the photo by default; saving or loading remembers it for the photo, so the
photo and later frames of the same webcam (same folder, same image size) find it when opened.  A
camera for photos of another size is refused with one sentence.
"""
from __future__ import annotations

import os

from qgis.core import Qgis, QgsProject, QgsRasterLayer
from qgis.PyQt.QtWidgets import QFileDialog

from ...engine.errors import AvalancheError
from ...layers import camera_registry


def save_camera(w, path: str) -> bool:
    from ...engine.webcam import camera_file

    if w.camera is None:
        w.message("There is no camera to save: fit one first.")
        return False
    if w.fit is not None and w.fit.camera == w.camera:
        record = camera_file.camera_fit_record(w.fit, w.camera_crs_wkt, photo=w.photo_path, dem=w.dem_path())
    else:
        record = camera_file.CameraRecord(w.camera, w.camera_crs_wkt, extra={"photo": w.photo_path,
                                                                            "dem": w.dem_path()})
    try:
        camera_file.save_camera_file(path, record)
    except AvalancheError as exc:
        w.message(str(exc))
        return False
    w.set_camera(w.camera, os.path.abspath(path), w.camera_crs_wkt)
    camera_registry.remember_camera(w.photo_path, w.camera_path, w.photo_size)
    w.message(f"Camera saved to {path}; later frames of this webcam use it.", level=Qgis.Success, duration=4)
    w.cameraChanged.emit()
    return True


def load_camera(w, path: str, quiet: bool = False) -> bool:
    from ...engine.webcam import camera_file

    if w.photo_layer() is None:
        w.message("Open a photo first, then load its camera.")
        return False
    try:
        loaded = camera_file.load_camera_file(path)
    except AvalancheError as exc:
        w.message(str(exc))
        return False
    camera = loaded.camera
    if tuple(camera.image_size) != tuple(w.photo_size):
        width, height = camera.image_size
        w.message(f"The camera '{os.path.basename(path)}' is for {width}×{height} photos, but this photo is "
                  f"{w.photo_size[0]}×{w.photo_size[1]}: fit a camera for this webcam.")
        return False
    w.fit = None
    w.set_camera(camera, os.path.abspath(path), loaded.crs_wkt)
    select_dem(w, str(loaded.extra.get("dem") or ""))
    camera_registry.remember_camera(w.photo_path, w.camera_path, w.photo_size)
    w.show_gcps()
    if not quiet:
        w.message(f"Camera loaded from {os.path.basename(path)}.", level=Qgis.Success, duration=4)
    w.cameraChanged.emit()
    return True


def select_dem(w, dem_path: str) -> None:
    """Chooses the project layer of the camera's DEM when no DEM is chosen yet."""
    if w.panel.dem_layer() is not None or not dem_path:
        return
    for layer in QgsProject.instance().mapLayers().values():
        if isinstance(layer, QgsRasterLayer) and os.path.abspath(layer.source().split("|")[0]) == dem_path:
            w.panel.dem_combo.setLayer(layer)
            return


def ask_save(w) -> None:
    if w.camera is None:
        w.message("There is no camera to save: fit one first.")
        return
    start = w.camera_path or camera_registry.default_camera_path(w.photo_path)
    path, _ = QFileDialog.getSaveFileName(w.iface.mainWindow(), "Save camera", start, "Camera files (*.json)")
    if path:
        save_camera(w, path if path.lower().endswith(".json") else path + ".json")


def ask_load(w) -> None:
    if w.photo_layer() is None:
        w.message("Open a photo first, then load its camera.")
        return
    start = os.path.dirname(w.photo_path)
    path, _ = QFileDialog.getOpenFileName(w.iface.mainWindow(), "Load camera", start,
                                          "Camera files (*.json);;All files (*)")
    if path:
        load_camera(w, path)
