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

from avalanche_iseg_plugin.gui.webcam.gcp_table import COL_LOO, COL_RESIDUAL
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
    d.press(d.panel.pixel_check)             # and keep the pixel outline too
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
    assert attrs["source"] == "frame_0800" and attrs["n_pos"] == 1 and attrs["source_type"] == "webcam"
    pixel_outline = ogr.CreateGeometryFromWkt(attrs["pixel_wkt"])
    assert pixel_outline.GetArea() == pytest.approx(float(d.photo["mask"].sum()), rel=0.001)   # photo px²
    assert attrs["area_m2"] == pytest.approx(ground.GetArea(), rel=0.02)

    # a finer ground grid (2.5 m instead of the DEM's 5 m cells): the same avalanche, a finer outline
    d.panel.resolution_spin.setValue(2.5)
    d.click_photo(*d.photo["snow_pixel"])
    d.key_on_photo(Qt.Key_Space)
    features, srs = read_gpkg(target_path)
    assert len(features) == 2 and d.warnings() == []
    fine = _in_2056(features[1][2], srs)
    assert fine.Intersection(avalanche).GetArea() / fine.Union(avalanche).GetArea() >= iou - 0.01
    assert fine.GetGeometryRef(0).GetGeometryRef(0).GetPointCount() > \
        ground.GetGeometryRef(0).GetGeometryRef(0).GetPointCount()

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
    assert features[0][1]["source_type"] == "webcam" and features[0][1]["units"] == "px"


def _cells_polygon(points_xyz, geotransform):
    """Union (OGR) of the DEM cells that contain any of the points (N×3)."""
    from avalanche_iseg_plugin.engine.vectorize import mask_to_polygons

    x0, dx, _, y0, _, dy = geotransform
    cols = np.floor((points_xyz[:, 0] - x0) / dx).astype(int)
    rows = np.floor((points_xyz[:, 1] - y0) / dy).astype(int)
    grid = np.zeros((rows.max() + 2, cols.max() + 2), bool)
    grid[rows, cols] = True
    multi = ogr.Geometry(ogr.wkbMultiPolygon)
    for wkt in mask_to_polygons(grid, geotransform):
        multi.AddGeometry(ogr.CreateGeometryFromWkt(wkt))
    return multi.UnionCascaded()


def test_real_dem_release_area_seen_from_the_valley(driver, tmp_path, shared):
    """The 1999 release area of the Alplehner (Tirol DEM, ../shared) on a synthetic photo from the valley,
    half hidden behind a ridge: GCPs clicked on both canvases, fit, digitise, Space; the map polygon is the
    visible part of the release area and claims no hidden ground."""
    import webcam_real_scene as real
    from avalanche_iseg_plugin.engine.webcam.dem import Dem

    folder = shared("gis", "avaframe_alr")
    d = driver
    engine_dem = Dem.open(folder / "avaAlr.tif")
    release = real.release_polygon(folder)
    photo = real.write_photo(tmp_path / "cam" / "alplehner.png", engine_dem, release)
    gcps = real.gcps(photo)
    dem = QgsRasterLayer(str(folder / "avaAlr.tif"), "avaAlr")
    QgsProject.instance().addMapLayer(dem)
    d.dem, d.to_map = dem, QgsCoordinateTransform(dem.crs(), QgsCoordinateReferenceSystem(MAP_CRS),
                                                  QgsProject.instance())
    xs, ys = [g[2] for g in gcps], [g[3] for g in gcps]
    from qgis.core import QgsRectangle

    d.canvas.setLayers([dem])
    d.canvas.setExtent(d.to_map.transformBoundingBox(QgsRectangle(min(xs) - 80, min(ys) - 80, max(xs) + 80,
                                                                  max(ys) + 80)))
    d.canvas.refresh()
    d.open_photo(photo["path"])
    d.panel.dem_combo.setLayer(dem)
    d.press(d.panel.pick_button)
    d.pick(gcps)
    d.press(d.panel.fit_button)
    assert d.warnings() == [], d.warnings()
    fit = d.webcam.fit
    assert fit.rmse_px < 3.0 and np.nanmedian(fit.loo_ground_error) < 15.0
    assert d.webcam.save_camera(str(tmp_path / "cam" / "alplehner.camera.json"))
    target = tmp_path / "avalanches.gpkg"
    layer = avalanche_layer.create_avalanche_layer(str(target), dem.crs())
    QgsProject.instance().addMapLayer(layer)
    assert d.controller.target.choose(layer)
    d.press(d.panel.digitise_button)
    d.click_photo(*photo["snow_pixel"])
    assert d.controller.state.mask.sum() >= 0.99 * photo["mask"].sum()   # the snow, but a few detached pixels
    d.controller_mask = d.controller.state.mask.copy()
    d.key_on_photo(Qt.Key_Space)
    assert d.warnings() == [], d.warnings()
    features, _ = read_gpkg(target)
    assert len(features) == 1
    _, attrs, projected = features[0]
    visible = _cells_polygon(photo["points"][photo["mask"]], engine_dem.geotransform).Intersection(release)
    iou = projected.Intersection(visible).GetArea() / projected.Union(visible).GetArea()
    hidden_claimed = projected.Difference(release.Buffer(10.0)).GetArea()
    # what the panel wrote is the engine's projection of the digitised mask through the fitted camera
    from avalanche_iseg_plugin.engine.webcam.terrain_projection import TerrainProjector

    expected = TerrainProjector(fit.camera, engine_dem).project(d.controller_mask)
    assert projected.GetArea() == pytest.approx(expected.area, rel=0.01)
    assert attrs["visible_fr"] == pytest.approx(1.0, abs=0.01)
    # on the ground: inside the release area (the ridge hides the rest, and hidden ground is not claimed)
    assert hidden_claimed <= 0.05 * projected.GetArea()
    assert projected.GetArea() < 0.8 * release.GetArea()
    assert projected.Intersection(visible).GetArea() >= 0.6 * projected.GetArea()
    # the visible part here = the cells that a photo pixel's ray meets (webcam_real_scene's ray cast); the
    # projector also claims visible cells narrower than a pixel that no pixel centre's ray meets, which this
    # truth leaves out.  Measured 0.75 with the triangle-rasterised depth buffer (0.35 with square splats;
    # 0.88 against the release cells with a clear line of sight, true camera)
    assert iou >= 0.7, iou


def test_outline_on_the_sky_is_kept_unsaved_until_a_pixel_layer_takes_it(driver, tmp_path):
    d = driver
    _fit_with_clicks(d)
    assert d.webcam.save_camera(str(tmp_path / "cam" / "frame_0800.camera.json"))
    layer = avalanche_layer.create_avalanche_layer(str(tmp_path / "map.gpkg"), QgsCoordinateReferenceSystem(MAP_CRS))
    QgsProject.instance().addMapLayer(layer)
    assert d.controller.target.choose(layer)
    d.controller.settings.min_area = 1.0     # keep the small blob the stand-in predictor gives on the sky
    d.press(d.panel.digitise_button)
    d.click_photo(320.5, 5.5)                 # the sky: no terrain under it
    d.key_on_photo(Qt.Key_Space)
    warnings = d.warnings()
    assert len(warnings) == 1 and "shows visible terrain" in warnings[0] and "is kept" in warnings[0]
    assert len(d.controller.rules.unsaved) == 1 and layer.featureCount() == 0
    d.messages.clear_messages()
    pixels = avalanche_layer.create_avalanche_layer(str(tmp_path / "pixels.gpkg"), None)
    QgsProject.instance().addMapLayer(pixels)
    assert d.controller.target.choose(pixels)    # a layer in photo pixels takes it as it is
    d.controller.wait_idle(10)
    assert d.warnings() == [] and d.controller.rules.unsaved == []
    features, _ = read_gpkg(tmp_path / "pixels.gpkg")
    assert len(features) == 1 and features[0][2].GetArea() == pytest.approx(13.0, abs=3.0)


def test_camera_entry_survives_saving_and_reading_the_project(qgis_new_project, tmp_path):
    photo = tmp_path / "cam" / "a.png"
    os.makedirs(photo.parent)
    photo.write_bytes(b"")
    camera = tmp_path / "cam" / "a.camera.json"
    camera.write_text("{}")
    project = QgsProject.instance()
    camera_registry.remember_camera(str(photo), str(camera), (640, 480))
    assert project.write(str(tmp_path / "p.qgz"))
    project.clear()
    assert project.read(str(tmp_path / "p.qgz"))
    assert camera_registry.camera_for_photo(str(photo), (640, 480)) == str(camera)
    # a later frame of the same webcam: same folder and size -> the same camera; another size -> none
    assert camera_registry.camera_for_photo(str(tmp_path / "cam" / "b.png"), (640, 480)) == str(camera)
    assert camera_registry.camera_for_photo(str(tmp_path / "cam" / "b.png"), (800, 600)) == ""
