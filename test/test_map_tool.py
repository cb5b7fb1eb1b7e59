"""The real map tool on a real canvas, driven by real mouse and key events (pytest-qgis, offscreen).

The raster is the synthetic lobe (EPSG:2056, 0.5 m pixels); the canvas is in EPSG:3857, so every click
goes through a CRS transform. Predictions come from the deterministic FakePredictor; finished objects
are read back from the GeoPackage on disk.
"""
from __future__ import annotations

import sys

import pytest
from osgeo import ogr
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QPoint, QPointF, Qt
from qgis.PyQt.QtGui import QWheelEvent
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from canvas_driver import Digitiser, assert_matches_lobe, read_gpkg
from gis_fixtures import make_lobe_geotiff


@pytest.fixture(params=["direct", "pickled"])
def digitiser(request, qgis_iface, qgis_new_project, tmp_path):
    """Every canvas test runs twice: commands and replies handed to the worker as they are, and pickled
    both ways (as they would be to a child process)."""
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path)
    d.controller.worker.pickle_messages = request.param == "pickled"
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def test_clicks_are_transformed_and_predicted(digitiser):
    d = digitiser
    x, y = d.info["lobe_xy"]
    d.click(x, y)
    c = d.controller
    assert d.warnings() == []
    assert len(c.state.clicks) == 1
    cx, cy, positive = c.state.clicks[0]
    assert positive
    # the click went canvas (EPSG:3857) -> raster (EPSG:2056): back within one pixel of the lobe point
    assert abs(cx - x) <= 0.5 and abs(cy - y) <= 0.5
    assert c.state.mask is not None and c.state.mask.sum() > 1000
    # overlay: one filled dot and a visible mask item
    assert len(d.controller.overlay.markers) == 1
    assert c.overlay.mask_item is not None and c.overlay.mask_item.isVisible()
    assert "Clicks: 1 positive, 0 negative" in d.plugin.dock.status_label.text()

    d.click(*d.info["hole_xy"], button=Qt.RightButton)
    assert [p for _, _, p in c.state.clicks] == [True, False]
    assert "Clicks: 1 positive, 1 negative" in d.plugin.dock.status_label.text()
    assert len(c.overlay.markers) == 2


def test_undo_and_discard_with_keys(digitiser):
    d = digitiser
    c = d.controller
    d.click(*d.info["lobe_xy"])
    d.click(*d.info["hole_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Z, Qt.ControlModifier)
    assert [p for _, _, p in c.state.clicks] == [True]
    d.click(*d.info["hole_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Backspace)
    assert len(c.state.clicks) == 1
    d.key(Qt.Key_Escape)
    assert c.state.clicks == [] and c.state.window is None
    assert len(c.overlay.markers) == 0
    assert not c.overlay.mask_item.isVisible()
    assert d.warnings() == []


def test_clicks_made_while_predicting_are_queued(digitiser):
    d = digitiser
    c = d.controller
    points = [d.pixel_xy(360, 400), d.pixel_xy(380, 390), d.pixel_xy(300, 410)]
    for x, y in points:
        d.click(x, y, wait=False)
    assert len(c.rules.pending) + len(c.state.clicks) == 3
    c.wait_idle(30)
    assert len(c.state.clicks) == 3 and c.rules.pending == []


def test_wheel_and_middle_button_reach_the_canvas(digitiser):
    d = digitiser
    before = d.canvas.extent()
    centre = QPoint(450, 350)
    wheel = QWheelEvent(QPointF(centre), QPointF(d.canvas.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 120),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(d.canvas.viewport(), wheel)
    QTest.qWait(50)
    assert d.canvas.extent().width() < before.width() * 0.95   # zoomed in
    # a middle-button click is not a digitising click
    QTest.mouseClick(d.canvas.viewport(), Qt.MiddleButton, Qt.NoModifier, centre)
    d.controller.wait_idle(5)
    assert d.controller.state.clicks == [] and d.controller.rules.pending == []
    assert d.canvas.mapTool() is d.plugin.map_tool


def test_box_drag_starts_object_with_window(digitiser):
    d = digitiser
    c = d.controller
    lobe = d.info["lobe_bounds"]
    a = (lobe[0] - 5, lobe[3] + 5)
    b = (lobe[2] + 5, lobe[1] - 5)
    d.drag(a, b)
    assert d.warnings() == []
    assert len(c.state.clicks) == 1 and c.state.clicks[0][2]
    cx, cy, _ = c.state.clicks[0]
    assert abs(cx - (a[0] + b[0]) / 2) < 1.0 and abs(cy - (a[1] + b[1]) / 2) < 1.0
    xmin, ymin, xmax, ymax = c.state.window.grid.extent
    assert xmin <= lobe[0] and xmax >= lobe[2] and ymin <= lobe[1] and ymax >= lobe[3]


def test_no_raster_layer_active(digitiser):
    d = digitiser
    QgsProject.instance().removeMapLayer(d.raster.id())
    vector = QgsVectorLayer("Point?crs=EPSG:2056", "points", "memory")
    QgsProject.instance().addMapLayer(vector)
    d.iface.setActiveLayer(vector)
    QTest.mouseClick(d.canvas.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(450, 350))
    d.controller.wait_idle(5)
    warnings = d.warnings()
    assert len(warnings) == 1 and "No raster layer is active" in warnings[0]


def test_click_outside_raster(digitiser):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    x0, y0, x1, y1 = d.info["lobe_bounds"]
    gt = d.info["geotransform"]
    outside = (gt[0] - 20.0, gt[3] - 50.0)  # 20 m left of the raster
    d.canvas.zoomByFactor(1.5)
    d.click(*outside)
    warnings = d.warnings()
    assert len(warnings) == 1 and "outside the raster 'ortho'" in warnings[0]
    assert len(d.controller.state.clicks) == 1   # the earlier click is kept


def test_other_raster_is_refused_while_an_avalanche_is_in_progress(digitiser, tmp_path):
    d = digitiser
    c = d.controller
    d.click(*d.info["lobe_xy"])
    info = make_lobe_geotiff(tmp_path / "second.tif")
    second = QgsRasterLayer(info["path"], "second")
    QgsProject.instance().addMapLayer(second)
    d.iface.setActiveLayer(second)
    d.click(*d.pixel_xy(300, 420))
    warnings = d.warnings()
    assert len(warnings) == 1 and "in progress on 'ortho'" in warnings[0] and "'second'" in warnings[0]
    assert len(c.state.clicks) == 1
    d.key(Qt.Key_Escape)
    d.click(*d.pixel_xy(300, 420))              # the avalanche is discarded: the active raster is used
    assert len(d.warnings()) == 1 and len(c.state.clicks) == 1 and c.rules.raster.name == "second"


def test_rotated_raster_is_refused(digitiser, tmp_path):
    d = digitiser
    info = make_lobe_geotiff(tmp_path / "rotated.tif", rotation=0.05)
    rotated = QgsRasterLayer(info["path"], "rotated")
    QgsProject.instance().addMapLayer(rotated)
    d.iface.setActiveLayer(rotated)
    QTest.mouseClick(d.canvas.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(450, 350))
    d.controller.wait_idle(5)
    warnings = d.warnings()
    assert len(warnings) == 1 and "rotated" in warnings[0]


def test_failing_prediction_gives_one_message_and_keeps_clicks(digitiser):
    d = digitiser
    c = d.controller
    d.click(*d.info["lobe_xy"])
    predictor = d.predictors[-1]

    def broken(*_args, **_kwargs):
        raise RuntimeError("model exploded")

    predictor.add_click = broken
    logged = []
    log = QgsApplication.messageLog()
    log.messageReceived.connect(lambda text, tag, level: logged.append((text, tag)))
    for x, y in (d.pixel_xy(360, 400), d.pixel_xy(370, 400), d.pixel_xy(380, 400)):
        d.click(x, y, wait=False)
    c.wait_idle(30)
    warnings = d.warnings()
    assert len(warnings) == 1 and "model exploded" in warnings[0] and "log panel" in warnings[0]
    assert "Traceback" not in warnings[0]
    # a bug: each failure is logged with its traceback in the plugin's tab of the log panel
    bugs = [text for text, tag in logged if tag == "Avalanche digitiser" and "Traceback" in text]
    assert len(bugs) == 3 and all("RuntimeError: model exploded" in text for text in bugs)
    assert len(c.state.clicks) == 1 and c.rules.pending == []
    assert c.state.mask is not None and c.state.mask.any()


def test_no_engine_is_one_clear_message(digitiser, monkeypatch):
    d = digitiser
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor

    d.controller.predictor_factory = make_predictor
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    d.click(*d.info["lobe_xy"])
    warnings = d.warnings()
    assert len(warnings) == 1 and "Neither ONNX Runtime nor PyTorch is installed" in warnings[0]
    assert d.controller.state.clicks == []


def test_without_torch_the_real_model_runs_on_onnx_runtime(digitiser, monkeypatch):
    """QGIS's Python without PyTorch: the shipped model digitises on ONNX Runtime through the real map tool,
    the status line says which engine runs, and a refinement mode says why it cannot run."""
    d = digitiser
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor

    d.controller.predictor_factory = make_predictor
    monkeypatch.setitem(sys.modules, "torch", None)
    d.click(*d.info["lobe_xy"])
    assert d.warnings() == [] and len(d.controller.state.clicks) == 1 and d.controller.state.mask.any()
    assert d.controller.state.engine == "ONNX Runtime, CPU"
    assert "engine: ONNX Runtime, CPU" in d.plugin.dock.status_label.text()
    from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable
    with pytest.raises(PredictorUnavailable, match="The refinement mode 'f-BRS-B' needs PyTorch"):
        make_predictor(d.controller.settings.checkpoint, "cpu", 0.49, brs_mode="f-BRS-B")


def test_missing_checkpoint_is_one_clear_message(digitiser, tmp_path):
    d = digitiser
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor

    d.controller.predictor_factory = make_predictor
    d.plugin.dock.checkpoint_widget.setFilePath(str(tmp_path / "nope.pth"))
    d.click(*d.info["lobe_xy"])
    warnings = d.warnings()
    assert len(warnings) == 1 and "nope.pth" in warnings[0] and "does not exist" in warnings[0]


def test_foreign_checkpoint_is_one_clear_message(digitiser, tmp_path):
    d = digitiser
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor

    bogus = tmp_path / "holiday.pth"
    bogus.write_bytes(b"\xff\xd8\xff\xe0 this is a JPEG, not a checkpoint")
    d.controller.predictor_factory = make_predictor
    d.plugin.dock.checkpoint_widget.setFilePath(str(bogus))
    d.click(*d.info["lobe_xy"])
    warnings = d.warnings()
    assert len(warnings) == 1 and "holiday.pth" in warnings[0]
    assert "Traceback" not in warnings[0]


def test_overlay_opacity_and_radius_follow_the_dock(digitiser):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    dock = d.plugin.dock
    dock.opacity_slider.setValue(80)
    assert d.controller.overlay.mask_item.opacity == pytest.approx(0.8)
    small = d.controller.overlay.markers[0].boundingRect().width()
    dock.radius_spin.setValue(dock.radius_spin.value() + 8)
    assert d.controller.overlay.markers[0].boundingRect().width() == pytest.approx(small + 16)
    assert QgsSettings().value("avalanche_iseg/overlay_opacity", type=float) == pytest.approx(0.8)


# ------------------------------------------------------------------------------------------ layers
@pytest.fixture
def target(digitiser, tmp_path):
    path = tmp_path / "avalanches.gpkg"
    layer = digitiser.controller.target.create(str(path))
    assert layer is not None and digitiser.warnings() == []
    return path


def test_space_finishes_object_into_geopackage(digitiser, target):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    d.click(*d.info["outside_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    features, srs = read_gpkg(target)
    assert len(features) == 1
    fid, attrs, geometry = features[0]
    assert srs.GetAuthorityCode(None) == "2056"
    assert_matches_lobe(geometry, d.info)
    assert attrs["id"] == 1 and attrs["n_pos"] == 1 and attrs["n_neg"] == 1
    assert attrs["source"] == "ortho" and attrs["model"] == "fake"
    assert attrs["threshold"] == pytest.approx(0.49)
    assert attrs["area_m2"] == pytest.approx(d.info["area"], rel=0.01)
    assert attrs["perimeter_m"] > 0 and attrs["created_utc"].endswith("Z")
    assert attrs["method"] == "interactive"
    # the object is done: overlay and clicks cleared, canvas stays with the tool
    c = d.controller
    assert c.state.clicks == [] and len(c.overlay.markers) == 0 and c.rules.unsaved == []
    assert d.canvas.mapTool() is d.plugin.map_tool
    # the next object gets the next id
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    features, _ = read_gpkg(target)
    assert sorted(a["id"] for _, a, _ in features) == [1, 2]


def test_finish_button_in_dock(digitiser, target):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    d.plugin.dock.finish_button.click()
    d.controller.wait_idle(30)
    features, _ = read_gpkg(target)
    assert len(features) == 1


def test_finish_without_target_keeps_clicks(digitiser, tmp_path):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    warnings = d.warnings()
    assert len(warnings) == 1 and "No target layer" in warnings[0]
    assert len(d.controller.state.clicks) == 1
    path = tmp_path / "later.gpkg"
    d.controller.target.create(str(path))
    d.key(Qt.Key_Space)
    features, _ = read_gpkg(path)
    assert len(features) == 1


def test_unwritable_geopackage_path(digitiser, tmp_path):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    assert d.controller.target.create(str(blocker / "avalanches.gpkg")) is None
    warnings = d.warnings()
    assert len(warnings) == 1 and "Cannot create the GeoPackage" in warnings[0]
    assert len(d.controller.state.clicks) == 1 and d.controller.target.layer() is None


def test_non_polygon_target_is_refused(digitiser, target):
    d = digitiser
    lines = QgsVectorLayer("LineString?crs=EPSG:2056", "tracks", "memory")
    QgsProject.instance().addMapLayer(lines)
    assert not d.controller.target.choose(lines)
    warnings = d.warnings()
    assert len(warnings) == 1 and "tracks" in warnings[0] and "not polygons" in warnings[0]
    assert d.controller.target.layer().source().startswith(str(target))


def test_failed_write_keeps_the_object_until_saved(digitiser, tmp_path):
    d = digitiser
    c = d.controller
    # a layer without CRS cannot take georeferenced polygons: the write fails
    from avalanche_iseg_plugin.layers.avalanche_layer import create_avalanche_layer

    no_crs = create_avalanche_layer(str(tmp_path / "nocrs.gpkg"), None)
    QgsProject.instance().addMapLayer(no_crs)
    assert c.target.choose(no_crs)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    warnings = d.warnings()
    assert len(warnings) == 1 and "kept" in warnings[0]
    assert len(c.rules.unsaved) == 1 and no_crs.featureCount() == 0
    # choosing a good layer saves it
    good = tmp_path / "good.gpkg"
    c.target.create(str(good))
    features, _ = read_gpkg(good)
    assert len(features) == 1 and c.rules.unsaved == []
    assert_matches_lobe(features[0][2], d.info)


def test_correct_selected_polygon_keeps_its_id(digitiser, target):
    d = digitiser
    c = d.controller
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    before, _ = read_gpkg(target)
    layer = c.target.layer()
    first_fid = before[0][0]
    layer.selectByIds([first_fid])
    d.iface.setActiveLayer(layer)
    d.plugin.dock.correct_button.click()
    c.wait_idle(30)
    assert d.warnings() == []
    assert c.state.window is not None and c.state.mask is not None and c.state.mask.any()
    # a negative click inside the lobe cuts a disk out of it
    d.iface.setActiveLayer(d.raster)
    d.click(*d.info["lobe_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    after, _ = read_gpkg(target)
    assert len(after) == 2
    by_fid = {fid: (attrs, geom) for fid, attrs, geom in after}
    attrs, geom = by_fid[first_fid]
    assert attrs["id"] == before[0][1]["id"]
    assert attrs["method"] == "corrected"
    assert geom.GetArea() < d.info["area"] - 100 * 0.25   # the negative disk (r = 10 px) is gone
    assert not geom.Contains(ogr.CreateGeometryFromWkt("POINT (%f %f)" % d.info["lobe_xy"]))
    untouched = [a for f, a, _ in after if f != first_fid][0]
    assert untouched["method"] == "interactive"


def test_export_shapefile_and_geopackage(digitiser, target, tmp_path):
    d = digitiser
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    for name in ("export.shp", "export.gpkg"):
        assert d.controller.target.export(str(tmp_path / name))
        features, _ = read_gpkg(tmp_path / name)
        assert len(features) == 1
        assert_matches_lobe(features[0][2], d.info)
    assert d.warnings() == []
    assert not d.controller.target.export(str(tmp_path / "export.kml"))
    assert len(d.warnings()) == 1


def test_photo_without_georeference_in_pixel_units(digitiser, tmp_path):
    d = digitiser
    from gis_fixtures import make_photo_png

    info = make_photo_png(tmp_path / "webcam.png")
    photo = QgsRasterLayer(info["path"], "webcam")
    assert photo.isValid()
    QgsProject.instance().removeMapLayer(d.raster.id())
    QgsProject.instance().addMapLayer(photo)
    d.iface.setActiveLayer(photo)
    d.canvas.setDestinationCrs(photo.crs())   # QGIS draws a CRS-less photo in its pixel units
    d.canvas.setExtent(photo.extent())
    d.canvas.refresh()
    QTest.qWait(20)
    d.to_canvas = type(d.to_canvas)()        # identity: raster units are canvas units
    d.info = info
    path = tmp_path / "webcam_avalanches.gpkg"
    layer = d.controller.target.create(str(path))
    assert layer is not None
    d.click(*info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    features, srs = read_gpkg(path)
    assert len(features) == 1
    assert srs is None or srs.IsLocal() or 'Undefined' in (srs.GetName() or '')   # pixel units, no map CRS
    assert_matches_lobe(features[0][2], info)
    assert features[0][1]["source"] == "webcam"


def test_ctrl_z_beats_a_qgis_undo_shortcut(digitiser):
    """QGIS binds Ctrl+Z to its own Undo action; while the tool is active, Ctrl+Z undoes the last click."""
    from qgis.PyQt.QtGui import QKeySequence
    from qgis.PyQt.QtWidgets import QAction

    d = digitiser
    window = d.iface.mainWindow()
    qgis_undo = QAction("Undo", window)
    qgis_undo.setShortcut(QKeySequence("Ctrl+Z"))
    window.addAction(qgis_undo)
    fired = []
    qgis_undo.triggered.connect(lambda: fired.append(1))
    try:
        window.activateWindow()
        d.click(*d.info["lobe_xy"])
        d.click(*d.info["hole_xy"], button=Qt.RightButton)
        d.key(Qt.Key_Z, Qt.ControlModifier)
        assert fired == []
        assert [p for _, _, p in d.controller.state.clicks] == [True]
        # with another map tool active the shortcut is QGIS's again
        d.canvas.unsetMapTool(d.plugin.map_tool)
        d.key(Qt.Key_Z, Qt.ControlModifier)
        assert fired == [1]
    finally:
        window.removeAction(qgis_undo)


def test_dock_settings_apply_live_and_are_remembered(digitiser, tmp_path):
    from avalanche_iseg_plugin.layers.settings import load_settings

    d = digitiser
    c = d.controller
    dock = d.plugin.dock
    d.click(*d.info["lobe_xy"])
    assert c.state.mask.any()
    dock.threshold_spin.setValue(0.95)      # the stand-in predictor gives 0.9 inside, 0.1 outside
    c.wait_idle(30)
    assert not c.state.mask.any() and len(c.state.clicks) == 1
    dock.threshold_spin.setValue(0.5)
    c.wait_idle(30)
    assert c.state.mask.any()
    dock.max_side_spin.setValue(300)
    d.key(Qt.Key_Escape)
    d.click(*d.info["lobe_xy"])
    assert max(c.state.window.image_shape) <= 300 < max(c.state.window.height, c.state.window.width)
    dock.checkpoint_widget.setFilePath(str(tmp_path / "my_model.pth"))
    saved = load_settings()
    assert (saved.threshold, saved.max_side, saved.checkpoint) == (0.5, 300, str(tmp_path / "my_model.pth"))
    assert "my_model" in dock.status_label.text()


def test_quick_second_click_is_not_lost(digitiser):
    """Qt delivers the second of two quick presses as a double click; it still counts as a click."""
    from qgis.PyQt.QtCore import QEvent
    from qgis.PyQt.QtGui import QMouseEvent

    d = digitiser
    a, b = d.info["lobe_xy"], d.pixel_xy(300, 420)
    d.click(*a, wait=False)
    pb = QPointF(d.screen(*b))
    viewport = d.canvas.viewport()
    QApplication.sendEvent(viewport, QMouseEvent(QEvent.MouseButtonDblClick, pb, Qt.LeftButton, Qt.LeftButton,
                                                 Qt.NoModifier))
    QApplication.sendEvent(viewport, QMouseEvent(QEvent.MouseButtonRelease, pb, Qt.LeftButton, Qt.NoButton,
                                                 Qt.NoModifier))
    d.controller.wait_idle(30)
    assert len(d.controller.state.clicks) == 2


def test_overlay_is_drawn_over_the_lobe(digitiser):
    """The mask image is laid over the right place although the canvas (EPSG:3857) is not the raster's CRS."""
    d = digitiser
    d.click(*d.info["lobe_xy"])
    d.plugin.dock.opacity_slider.setValue(100)
    d.canvas.waitWhileRendering()
    QTest.qWait(50)
    image = d.canvas.viewport().grab().toImage()

    def color(x, y):
        p = d.screen(x, y)
        return image.pixelColor(p.x(), p.y())

    gt = d.info["geotransform"]
    inside = [d.pixel_xy(r, c) for r, c in ((190, 400), (420, 380), (300, 330), (350, 470))]
    hole = d.pixel_xy(240, 400)                        # the rock inside the lobe is not avalanche
    just_outside = [d.pixel_xy(300, 275), d.pixel_xy(300, 525), d.pixel_xy(100, 400), hole]   # lobe cols 288..512
    for x, y in inside:
        c = color(x, y)
        assert (c.red(), c.green(), c.blue()) == (0, 190, 255)
    for x, y in just_outside:
        c = color(x, y)
        assert (c.red(), c.green(), c.blue()) != (0, 190, 255)
    assert gt[1] == 0.5


def test_removing_the_raster_ends_its_object(digitiser):
    d = digitiser
    c = d.controller
    d.click(*d.info["lobe_xy"])
    QgsProject.instance().removeMapLayer(d.raster.id())
    assert c.state.window is None and len(c.overlay.markers) == 0 and c.rules.raster is None
    infos = d.messages.get_messages(0)
    assert any("removed" in m for m in infos)
    assert d.warnings() == []


def test_default_checkpoint_is_the_shipped_model(digitiser):
    from core_model.default_model import DEFAULT_CHECKPOINT

    d = digitiser
    assert d.plugin.dock.settings.checkpoint == str(DEFAULT_CHECKPOINT)
    assert d.plugin.dock.checkpoint_widget.filePath() == str(DEFAULT_CHECKPOINT)
    d.plugin.dock.threshold_spin.setValue(0.6)          # saving other settings keeps "the default" unpinned
    assert QgsSettings().value("avalanche_iseg/checkpoint") == ""
