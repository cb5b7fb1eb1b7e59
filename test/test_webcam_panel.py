"""The webcam panel in a real QGIS (pytest-qgis, offscreen), driven with real mouse and key events.

The scene (webcam_scene.py) is synthetic and exact: a valley DEM in EPSG:2056, a camera on one flank,
an elliptic avalanche on the other, the photo rendered by analytic ray casting.  The main map is in
EPSG:3857, so every map click goes through a CRS transform into the DEM's CRS; the avalanche layer is
in EPSG:3857 too.  Predictions come from the FakePredictor (the bright region under the click).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from osgeo import ogr, osr
from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProject,
                       QgsRasterLayer, QgsSettings)
from qgis.PyQt.QtCore import QPoint, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QFileDialog

import webcam_scene as scene
from canvas_driver import read_gpkg
from gis_fixtures import FakePredictor

from avalanche_iseg_plugin.gui.gcp_table import COL_LOO, COL_RESIDUAL
from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin
from avalanche_iseg_plugin.layers import avalanche_layer, camera_registry

MAP_CRS = "EPSG:3857"


class WebcamDriver:
    def __init__(self, iface, tmp_path):
        self.iface = iface
        self.tmp = tmp_path
        self.dem_info = scene.write_dem(tmp_path / "dem.tif")
        os.makedirs(tmp_path / "cam", exist_ok=True)
        self.photo = scene.write_photo(tmp_path / "cam" / "frame_0800.png")
        self.dem = QgsRasterLayer(self.dem_info["path"], "dem")
        assert self.dem.isValid()
        QgsProject.instance().addMapLayer(self.dem)
        self.canvas = iface.mapCanvas()
        self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem(MAP_CRS))
        iface.mainWindow().resize(1000, 800)
        iface.mainWindow().show()
        self.canvas.resize(900, 700)
        self.canvas.show()
        self.canvas.setLayers([self.dem])
        self.to_map = QgsCoordinateTransform(self.dem.crs(), QgsCoordinateReferenceSystem(MAP_CRS),
                                             QgsProject.instance())
        self.canvas.setExtent(self.to_map.transformBoundingBox(self.dem.extent()))
        self.canvas.refresh()
        QTest.qWait(20)
        self.plugin = AvalancheIsegPlugin(iface)
        self.plugin.initGui()
        self.plugin.run_webcam()
        self.controller = self.plugin.controller
        self.controller.predictor_factory = lambda checkpoint, device, threshold: FakePredictor(threshold=threshold)
        self.panel = self.plugin.webcam_panel
        self.webcam = self.plugin.webcam
        self.panel.setFloating(True)
        self.panel.resize(720, 900)
        self.panel.show()
        QTest.qWait(20)
        self.messages = iface.messageBar()
        self.messages.clear_messages()

    # -- input ----------------------------------------------------------------------------------
    def open_photo(self, path):
        self.panel.photo_widget.setFilePath(str(path))     # what the file chooser does
        QTest.qWait(10)
        self.panel.photo_canvas.setExtent(self.webcam.photo_layer().extent())
        self.panel.photo_canvas.refresh()
        QTest.qWait(10)

    def press(self, button):
        QTest.mouseClick(button, Qt.LeftButton)
        QTest.qWait(5)

    def photo_screen(self, col, row) -> QPoint:
        p = self.panel.photo_canvas.getCoordinateTransform().transform(QgsPointXY(col, -row))
        return QPoint(round(p.x()), round(p.y()))

    def map_screen(self, x, y) -> QPoint:
        p = self.canvas.getCoordinateTransform().transform(self.to_map.transform(QgsPointXY(x, y)))
        return QPoint(round(p.x()), round(p.y()))

    def click_photo(self, col, row, button=Qt.LeftButton):
        QTest.mouseClick(self.panel.photo_canvas.viewport(), button, Qt.NoModifier, self.photo_screen(col, row))
        self.controller.wait_idle(30)

    def click_map(self, x, y, button=Qt.LeftButton):
        QTest.mouseClick(self.canvas.viewport(), button, Qt.NoModifier, self.map_screen(x, y))

    def pick(self, gcps):
        for col, row, x, y, _z in gcps:
            self.click_photo(col, row)
            self.click_map(x, y)

    def key_on_photo(self, key):
        self.panel.photo_canvas.setFocus()
        QTest.keyClick(self.panel.photo_canvas, key)
        self.controller.wait_idle(30)

    # -- reading back ---------------------------------------------------------------------------
    def warnings(self):
        return list(self.messages.get_messages(Qgis.Warning)) + list(self.messages.get_messages(Qgis.Critical))

    def table_column(self, col):
        table = self.panel.gcp_table
        return [table.cell_text(i, col) for i in range(table.rowCount())]

    def close(self):
        self.controller.wait_idle(30)
        self.plugin.unload()
        self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem())


@pytest.fixture
def driver(qgis_iface, qgis_new_project, tmp_path):
    QgsSettings().remove("avalanche_iseg")
    d = WebcamDriver(qgis_iface, tmp_path)
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def _fit_with_clicks(d):
    d.open_photo(d.photo["path"])
    d.panel.dem_combo.setLayer(d.dem)
    d.press(d.panel.pick_button)
    assert d.webcam.picker.active
    d.pick(scene.gcps())
    assert d.warnings() == []
    d.press(d.panel.fit_button)
    assert d.warnings() == [], d.warnings()
    return d.webcam.fit


def _in_2056(geometry, srs):
    target = osr.SpatialReference()
    target.ImportFromEPSG(2056)
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geometry = geometry.Clone()
    assert geometry.Transform(osr.CoordinateTransformation(srs, target)) == 0
    return geometry


def test_pick_gcps_fit_digitise_and_project_onto_terrain(driver, tmp_path, monkeypatch):
    d = driver
    truth = scene.gcps()
    fit = _fit_with_clicks(d)
    # the table holds the clicked pairs: photo col/row within a screen pixel, map x/y (EPSG:2056) within a
    # map-canvas pixel (about 2.2 m), z read from the DEM at that point
    assert d.panel.gcp_table.rowCount() == len(truth) == 8
    cols = [float(v) for v in d.table_column(0)]
    xs = [float(v) for v in d.table_column(2)]
    zs = [float(v) for v in d.table_column(4)]
    for i, (col, row, x, y, z) in enumerate(truth):
        assert abs(cols[i] - col) <= 1.0 and abs(xs[i] - x) <= 2.5
        assert abs(zs[i] - scene.terrain_z(d.webcam.gcps[i].x, d.webcam.gcps[i].y)) <= 0.5
    # the fit: residuals of every GCP in the table (as fitted), small because the clicks were exact to a pixel
    assert fit is not None and len(fit.residuals_px) == 8
    assert d.table_column(COL_RESIDUAL) == [f"{v:.2f}" for v in fit.residuals_px]
    assert max(fit.residuals_px) < 3.0 and fit.rmse_px < 2.0
    assert all(v != "" for v in d.table_column(COL_LOO))
    assert np.nanmedian(fit.loo_ground_error) < 15.0
    assert f"RMSE {fit.rmse_px:.2f} px" in d.panel.result_label.text()
    true_cam = scene.camera()
    assert math.dist(fit.camera.position, true_cam.position) < 40.0
    assert abs(fit.camera.focal_px - true_cam.focal_px) < 0.1 * true_cam.focal_px

    # Save camera…: next to the photo by default, remembered in the project
    proposed = []

    def fake_save(parent, title, start, filters):
        proposed.append(start)
        return start, filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_save)
    d.press(d.panel.save_button)
    camera_path = str(tmp_path / "cam" / "frame_0800.camera.json")
    assert proposed == [camera_path] and os.path.isfile(camera_path)
    assert camera_registry.camera_for_photo(d.photo["path"], scene.PHOTO_SIZE) == camera_path

    # the avalanche layer the user chose, in the map's CRS (not the DEM's)
    target_path = tmp_path / "avalanches.gpkg"
    layer = avalanche_layer.create_avalanche_layer(str(target_path), QgsCoordinateReferenceSystem(MAP_CRS))
    QgsProject.instance().addMapLayer(layer)
    assert d.controller.target.choose(layer)

    # digitise on the photo with the avalanche click tool, Space writes the outline on the terrain
    d.press(d.panel.digitise_button)
    assert d.panel.photo_canvas.mapTool() is d.plugin.photo_digitising.map_tool
    d.click_photo(*d.photo["snow_pixel"])
    assert d.controller.state.mask is not None and d.controller.state.mask.sum() > 20000
    d.key_on_photo(Qt.Key_Space)
    assert d.warnings() == [], d.warnings()
    features, srs = read_gpkg(target_path)
    assert len(features) == 1
    _, attrs, geometry = features[0]
    assert srs is not None and srs.GetAuthorityCode(None) == "3857"
    ground = _in_2056(geometry, srs)
    avalanche = scene.avalanche_polygon()
    iou = ground.Intersection(avalanche).GetArea() / ground.Union(avalanche).GetArea()
    assert iou >= 0.95, iou       # measured 0.98 (RMSE 0.47 px, median leave-one-out error 1.1 m)
    centroid = ground.Centroid()
    assert math.hypot(centroid.GetX() - scene.AVALANCHE["cx"], centroid.GetY() - scene.AVALANCHE["cy"]) < 15.0
    assert attrs["photo"] == "frame_0800.png" and attrs["camera"] == camera_path
    assert attrs["visible_fr"] == pytest.approx(1.0, abs=0.01) and attrs["sky_px"] == 0
    distance = math.hypot(scene.AVALANCHE["cx"] - true_cam.position[0], scene.AVALANCHE["cy"] - true_cam.position[1])
    assert abs(attrs["mean_dist"] - distance) < 0.1 * distance
    lowest = scene.terrain_z(scene.AVALANCHE["cx"], scene.AVALANCHE["cy"] - scene.AVALANCHE["ay"])
    highest = scene.terrain_z(scene.AVALANCHE["cx"], scene.AVALANCHE["cy"] + scene.AVALANCHE["ay"])
    assert abs(attrs["z_min"] - lowest) < 12.0 and abs(attrs["z_max"] - highest) < 12.0
    assert attrs["source"] == "frame_0800" and attrs["n_pos"] == 1
    assert attrs["area_m2"] == pytest.approx(ground.GetArea(), rel=0.02)

    # a later frame of the same webcam (same folder, same size) finds the camera with no new points
    d.press(d.panel.digitise_button)          # back to the map
    later = scene.write_photo(tmp_path / "cam" / "frame_0900.png", seed=4)
    d.open_photo(later["path"])
    assert d.webcam.camera is not None and d.webcam.camera_path == camera_path
    assert "frame_0800.camera.json" in d.panel.result_label.text()
    assert d.panel.gcp_table.rowCount() == 0
    assert d.warnings() == []


def test_fit_refuses_too_few_gcps_in_one_sentence(driver):
    d = driver
    d.open_photo(d.photo["path"])
    d.panel.dem_combo.setLayer(d.dem)
    d.press(d.panel.pick_button)
    d.pick(scene.gcps()[:4])
    d.press(d.panel.fit_button)
    warnings = d.warnings()
    assert len(warnings) == 1 and "4 GCP(s) picked" in warnings[0] and "at least 6" in warnings[0]
    assert d.webcam.camera is None and d.table_column(COL_RESIDUAL) == [""] * 4


def test_picking_refusals_and_delete(driver):
    d = driver
    d.press(d.panel.pick_button)          # no photo yet
    assert not d.webcam.picker.active and "Open a photo first." in d.warnings()[0]
    d.messages.clear_messages()
    d.open_photo(d.photo["path"])
    d.panel.dem_combo.setLayer(d.dem)
    d.press(d.panel.pick_button)
    col, row, x, y, _ = scene.gcps()[0]
    d.click_map(x, y)                     # map first: refused, nothing added
    assert "in the photo first" in d.warnings()[0] and d.webcam.gcps == []
    d.messages.clear_messages()
    d.click_photo(col, row)
    d.click_map(scene.x0() - 300.0, y)   # off the DEM: refused, the photo point waits for its partner
    assert "outside the DEM 'dem'" in d.warnings()[0] and d.webcam.picker.pending is not None
    d.click_map(x, y)
    assert len(d.webcam.gcps) == 1 and d.webcam.picker.pending is None
    assert d.webcam.photo_markers.count == 1 and d.webcam.map_markers.count == 1
    d.click_photo(col, row, button=Qt.RightButton)   # right click ends picking
    assert not d.webcam.picker.active and not d.panel.pick_button.isChecked()
    d.panel.gcp_table.selectRow(0)
    d.press(d.panel.delete_button)
    assert d.webcam.gcps == [] and d.panel.gcp_table.rowCount() == 0


def test_camera_of_another_image_size_is_refused(driver, tmp_path):
    d = driver
    from avalanche_iseg_plugin.engine.webcam import camera_file

    other = scene.camera().with_(image_size=(800, 600))
    path = tmp_path / "other.camera.json"
    camera_file.save_camera_file(path, camera_file.CameraRecord(other, ""))
    d.open_photo(d.photo["path"])
    assert not d.webcam.load_camera(str(path))
    warnings = d.warnings()
    assert len(warnings) == 1 and "800×600" in warnings[0] and "640×480" in warnings[0]
    assert d.webcam.camera is None


def test_photo_without_camera_keeps_its_pixel_outline(driver, tmp_path):
    d = driver
    from gis_fixtures import make_photo_png

    os.makedirs(tmp_path / "other", exist_ok=True)
    info = make_photo_png(tmp_path / "other" / "webcam.png")
    d.open_photo(info["path"])
    assert d.webcam.camera is None
    layer = avalanche_layer.create_avalanche_layer(str(tmp_path / "pixels.gpkg"), None)
    QgsProject.instance().addMapLayer(layer)
    assert d.controller.target.choose(layer)
    d.press(d.panel.digitise_button)
    x, y = info["lobe_xy"]
    d.click_photo(x, -y)
    d.key_on_photo(Qt.Key_Space)
    assert d.warnings() == []
    features, _ = read_gpkg(tmp_path / "pixels.gpkg")
    assert len(features) == 1
    from canvas_driver import assert_matches_lobe

    assert_matches_lobe(features[0][2], info)
    assert "photo" not in features[0][1]          # no webcam fields were added
