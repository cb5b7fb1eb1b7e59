"""Issue 13 on a real canvas with real mouse and key events: never a target the user did not choose, keys
wherever the user is in the dock, correction without tool juggling, the digitiser's own raster, units.

The raster is the synthetic lobe (EPSG:2056); predictions come from the deterministic FakePredictor;
what was written is read back from the files on disk.
"""
from __future__ import annotations

import pytest
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsProject,
                       QgsRasterLayer, QgsSettings, QgsVectorLayer)
from qgis.gui import QgsMapToolPan
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QKeySequence
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QAction, QApplication, QDialog, QFileDialog, QPushButton, QToolButton

from canvas_driver import Digitiser, assert_matches_lobe, read_gpkg, answer_modal_dialog


def _inventory(tmp_path, name="inventory"):
    """A real inventory Shapefile with a schema of its own (no avalanche fields) and one polygon."""
    from osgeo import ogr, osr

    path = tmp_path / f"{name}.shp"
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    layer = ds.CreateLayer(name, srs, ogr.wkbPolygon)
    for field, kind in (("obs_name", ogr.OFTString), ("size_cls", ogr.OFTInteger), ("remarks", ogr.OFTString)):
        layer.CreateField(ogr.FieldDefn(field, kind))
    ds = layer = None
    return path


def _add_lobe_polygon(layer, info):
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromWkt(info["outline_wkt"]))
    feature.setAttribute("obs_name", "patrol")
    assert layer.startEditing() and layer.addFeature(feature) and layer.commitChanges()
    return next(layer.getFeatures()).id()


@pytest.fixture
def project_with_inventory(qgis_iface, qgis_new_project, tmp_path):
    """The inventory is in the project (and the active layer) before the digitiser starts."""
    QgsSettings().remove("avalanche_iseg")
    inventory = QgsVectorLayer(str(_inventory(tmp_path)), "inventory", "ogr")
    assert inventory.isValid()
    QgsProject.instance().addMapLayer(inventory)
    d = Digitiser(qgis_iface, tmp_path)
    QTest.qWait(10)
    yield d, inventory
    d.close()
    QgsSettings().remove("avalanche_iseg")


def _pick_in_combo(combo, layer):
    """Pick ``layer`` in a layer combo box with the keyboard, as a user does (arrow keys -> activated)."""
    combo.setFocus()
    target = combo.findText(layer.name())
    assert target >= 0
    key = Qt.Key_Down if target > combo.currentIndex() else Qt.Key_Up
    for _ in range(abs(target - combo.currentIndex())):
        QTest.keyClick(combo, key)
    QTest.qWait(30)


# ------------------------------------------------------------------------------------------ 1. data safety
def test_an_inventory_in_the_project_is_never_written_without_confirmation(project_with_inventory, tmp_path):
    d, inventory = project_with_inventory
    c, dock = d.controller, d.plugin.dock
    assert c.target.layer() is None and dock.layer_combo.currentLayer() is None   # not picked on its own
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    warnings = d.warnings()
    assert len(warnings) == 1 and "No target layer" in warnings[0]
    assert inventory.featureCount() == 0 and len(c.state.clicks) == 1

    # the user picks the inventory: the confirmation names the empty fields; Cancel keeps it out
    replies = []
    answer_modal_dialog(lambda dlg: QTest.mouseClick(dlg.cancel_button, Qt.LeftButton), replies)
    _pick_in_combo(dock.layer_combo, inventory)
    assert len(replies) == 1
    text = replies[0]
    assert "'inventory'" in text and "n_pos" in text and "area_m2" in text and "units" in text
    assert c.target.layer() is None
    QTest.qWait(30)
    assert dock.layer_combo.currentLayer() is None         # the dock shows what really is the target
    d.key(Qt.Key_Space)
    assert inventory.featureCount() == 0

    # picked again and confirmed, with 'source' mapped to the inventory's 'remarks'
    def confirm(dlg):
        combo = dlg.combos["source"]
        combo.setCurrentIndex(combo.findData("remarks"))
        empty = dlg.text.text().split("field(s)")[1].split("will")[0]
        assert "source" not in [name.strip() for name in empty.split(",")] and "n_pos" in empty
        QTest.mouseClick(dlg.use_button, Qt.LeftButton)
    answer_modal_dialog(confirm, replies)
    _pick_in_combo(dock.layer_combo, inventory)
    assert len(replies) == 2 and c.target.layer() is inventory
    d.messages.clear_messages()
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    features = list(inventory.getFeatures())
    assert len(features) == 1 and features[0]["remarks"] == "ortho" and features[0]["obs_name"] in (None, "")
    # the answer is kept with the layer: choosing it again asks nothing
    n = len(replies)
    assert c.target.choose(None) and c.target.choose(inventory)
    QTest.qWait(80)
    assert len(replies) == n


def test_a_layer_added_later_is_not_taken_as_target(digitiser, tmp_path):
    d = digitiser
    later = QgsVectorLayer(str(_inventory(tmp_path, "later")), "later", "ogr")
    QgsProject.instance().addMapLayer(later)
    QTest.qWait(30)
    assert d.controller.target.layer() is None and d.plugin.dock.layer_combo.currentLayer() is None
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert later.featureCount() == 0 and "No target layer" in d.warnings()[0]


# ------------------------------------------------------------------------------------------ 2. correction
def test_correcting_a_foreign_inventory_writes_back_there_and_keeps_the_target(project_with_inventory, tmp_path):
    d, inventory = project_with_inventory
    c = d.controller
    fid = _add_lobe_polygon(inventory, d.info)
    target_path = tmp_path / "avalanches.gpkg"
    target = c.target.create(str(target_path))
    remembered = QgsSettings().value("avalanche_iseg/target_layer")
    project_entry = QgsProject.instance().readEntry("avalanche_iseg", "target_layer_id")[0]
    # QGIS's pan tool is active (as after selecting with another tool); Ctrl+click picks the polygon
    d.canvas.setMapTool(QgsMapToolPan(d.canvas))
    d.plugin.dock.correct_button.click()                  # nothing selected: a message, no crash
    assert d.canvas.mapTool() is not d.plugin.map_tool or d.warnings()
    d.canvas.setMapTool(d.plugin.map_tool)
    x, y = d.info["lobe_xy"]
    QTest.mouseClick(d.canvas.viewport(), Qt.LeftButton, Qt.ControlModifier, d.screen(x, y))
    c.wait_idle(30)
    assert inventory.selectedFeatureIds() == [fid]
    assert c.rules.correction_fid == fid and c.rules.correction_layer == inventory.id()
    assert c.state.window is not None and c.state.mask.any()
    d.click(x, y, button=Qt.RightButton)                   # cut a disk out of it
    d.key(Qt.Key_Space)
    corrected = inventory.getFeature(fid)
    assert corrected.geometry().area() < QgsGeometry.fromWkt(d.info["outline_wkt"]).area() - 20
    assert corrected["obs_name"] == "patrol"               # its own attributes stay
    assert read_gpkg(target_path)[0] == []                 # nothing went into the target
    assert c.target.layer() is target
    assert QgsSettings().value("avalanche_iseg/target_layer") == remembered
    assert QgsProject.instance().readEntry("avalanche_iseg", "target_layer_id")[0] == project_entry == target.id()


def test_correct_button_switches_the_digitising_tool_on(digitiser, tmp_path):
    d = digitiser
    c = d.controller
    target = c.target.create(str(tmp_path / "avalanches.gpkg"))
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    fid = next(target.getFeatures()).id()
    select_tool = QgsMapToolPan(d.canvas)               # stands for QGIS's Select tool
    d.canvas.setMapTool(select_tool)
    target.selectByIds([fid])
    d.iface.setActiveLayer(target)
    QTest.mouseClick(d.plugin.dock.correct_button, Qt.LeftButton)
    c.wait_idle(30)
    assert d.canvas.mapTool() is d.plugin.map_tool and d.plugin.action.isChecked()
    d.click(*d.info["lobe_xy"], button=Qt.RightButton)   # the next click refines, it does not deselect
    assert [p for _, _, p in c.state.clicks] == [False]
    d.key(Qt.Key_Space)
    features, _ = read_gpkg(tmp_path / "avalanches.gpkg")
    assert len(features) == 1 and features[0][1]["method"] == "corrected"


def test_the_remembered_target_is_per_project_and_a_stale_one_is_dropped(digitiser, tmp_path):
    d = digitiser
    c = d.controller
    layer = c.target.create(str(tmp_path / "avalanches.gpkg"))
    project = QgsProject.instance()
    assert project.readEntry("avalanche_iseg", "target_layer_id")[0] == layer.id()
    assert project.readEntry("avalanche_iseg", "target_layer_source")[0] == layer.source()
    c.target.layer_id = None
    c.target.restore()                                   # e.g. the project is read again: still there
    assert c.target.layer() is layer
    project.removeMapLayer(layer.id())
    d.messages.clear_messages()
    c.target.restore()
    assert c.target.layer() is None
    infos = d.messages.get_messages(0)
    assert any("no longer in the project" in m for m in infos)
    assert project.readEntry("avalanche_iseg", "target_layer_id")[0] == ""


# ------------------------------------------------------------------------------------------ 3. unsaved
def test_unwritable_avalanches_stay_visible_and_can_be_saved_elsewhere(digitiser, tmp_path, monkeypatch):
    from avalanche_iseg_plugin.layers.avalanche_layer import create_avalanche_layer

    d = digitiser
    c, dock = d.controller, d.plugin.dock
    no_crs = create_avalanche_layer(str(tmp_path / "nocrs.gpkg"), None)   # refuses georeferenced polygons
    QgsProject.instance().addMapLayer(no_crs)
    assert c.target.choose(no_crs)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert len(c.rules.unsaved) == 1 and no_crs.featureCount() == 0
    assert dock.unsaved_row.isVisible() and "1 finished avalanche(s) not saved" in dock.unsaved_row.label.text()
    assert len(c.dock_sync._bands) == 1                  # drawn dashed on the map
    QgsProject.instance().removeMapLayer(no_crs.id())    # even the target going away loses nothing
    d.key(Qt.Key_Space)
    assert len(c.rules.unsaved) == 1
    elsewhere = tmp_path / "elsewhere.gpkg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(elsewhere), "")))
    QTest.mouseClick(dock.unsaved_row.button, Qt.LeftButton)
    features, _ = read_gpkg(elsewhere)
    assert len(features) == 1 and c.rules.unsaved == [] and not dock.unsaved_row.isVisible()
    assert_matches_lobe(features[0][2], d.info)
    assert c.dock_sync._bands == {}


# ------------------------------------------------------------------------------------------ 4. keys
def test_keys_work_while_a_dock_widget_has_focus(digitiser, tmp_path, monkeypatch):
    d = digitiser
    c, dock = d.controller, d.plugin.dock
    window = d.iface.mainWindow()
    qgis_undo = QAction("Undo", window)
    qgis_undo.setShortcut(QKeySequence("Ctrl+Z"))
    window.addAction(qgis_undo)
    fired = []
    qgis_undo.triggered.connect(lambda: fired.append(1))
    asked = []
    path = tmp_path / "avalanches.gpkg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (asked.append(1), (str(path), ""))[1]))
    try:
        window.activateWindow()
        assert all(b.focusPolicy() == Qt.NoFocus for b in dock.findChildren(QPushButton))
        QTest.mouseClick(dock.new_layer_button, Qt.LeftButton)       # 'New…' then Space, as the message says
        assert asked == [1] and c.target.layer() is not None
        d.click(*d.info["lobe_xy"])
        d.click(*d.info["hole_xy"], button=Qt.RightButton)
        combo = dock.refinement_combo                                # a widget of the dock has focus
        combo.setFocus()
        QApplication.processEvents()
        assert QApplication.focusWidget() is combo
        QTest.keyClick(combo, Qt.Key_Z, Qt.ControlModifier)
        c.wait_idle(30)
        assert [p for _, _, p in c.state.clicks] == [True] and fired == []
        QTest.keyClick(combo, Qt.Key_Space)
        c.wait_idle(30)
        assert asked == [1]                                          # no file dialog again
        assert len(read_gpkg(path)[0]) == 1 and c.state.clicks == []
        d.click(*d.info["lobe_xy"])
        dock.layer_combo.setFocus()
        QTest.keyClick(dock.layer_combo, Qt.Key_Escape)
        c.wait_idle(30)
        assert c.state.clicks == [] and len(read_gpkg(path)[0]) == 1
        # a text field keeps Backspace for its text
        d.click(*d.info["lobe_xy"])
        spin = dock.threshold_spin
        spin.setFocus()
        QTest.keyClick(spin, Qt.Key_Backspace)
        c.wait_idle(30)
        assert len(c.state.clicks) == 1
        QTest.keyClick(spin, Qt.Key_Escape)                          # Esc is the digitiser's there too
        c.wait_idle(30)
        assert c.state.clicks == []
        # a name field keeps Space for its text
        d.click(*d.info["lobe_xy"])
        edit = dock.export_name_edit
        edit.setFocus()
        edit.setCursorPosition(len(edit.text()))
        QTest.keyClick(edit, Qt.Key_Space)
        c.wait_idle(30)
        assert edit.text() == "avalanches " and len(c.state.clicks) == 1
        QTest.keyClick(edit, Qt.Key_Backspace)
        QTest.keyClick(edit, Qt.Key_Escape)
        c.wait_idle(30)
        assert edit.text() == "avalanches" and c.state.clicks == []
        # with the tool off, the dock's keys are the widgets' again
        d.canvas.setMapTool(QgsMapToolPan(d.canvas))
        combo.setFocus()
        QTest.keyClick(combo, Qt.Key_Z, Qt.ControlModifier)
        assert fired == [1]
    finally:
        window.removeAction(qgis_undo)


# ------------------------------------------------------------------------------------------ 6. tool on/off
def test_toolbar_button_and_closing_the_dock_switch_the_tool_off(digitiser):
    d = digitiser
    plugin = d.plugin
    button = plugin.toolbar.widgetForAction(plugin.action)
    assert isinstance(button, QToolButton) and plugin.action.isChecked()
    QTest.mouseClick(button, Qt.LeftButton)
    assert d.canvas.mapTool() is not plugin.map_tool and not plugin.action.isChecked()
    QTest.mouseClick(button, Qt.LeftButton)
    assert d.canvas.mapTool() is plugin.map_tool and plugin.action.isChecked() and plugin.dock.isVisible()
    plugin.dock.close()
    assert d.canvas.mapTool() is not plugin.map_tool and not plugin.action.isChecked()
    QTest.mouseClick(button, Qt.LeftButton)
    assert plugin.dock.isVisible() and d.canvas.mapTool() is plugin.map_tool


# ------------------------------------------------------------------------------------------ 7. the raster
def test_the_digitisers_raster_does_not_follow_a_vector_layer(digitiser, tmp_path):
    d = digitiser
    c, dock = d.controller, d.plugin.dock
    assert dock.raster_row.layer() is d.raster
    layer = c.target.create(str(tmp_path / "avalanches.gpkg"))
    d.iface.setActiveLayer(layer)                       # 'New…' makes the new layer active
    d.click(*d.info["lobe_xy"])
    assert d.warnings() == [] and len(c.state.clicks) == 1 and c.rules.raster.name == "ortho"
    d.key(Qt.Key_Space)
    assert len(read_gpkg(tmp_path / "avalanches.gpkg")[0]) == 1
    # without any raster active, the dock's choice is what counts
    from gis_fixtures import make_lobe_geotiff

    info = make_lobe_geotiff(tmp_path / "second.tif")
    second = QgsRasterLayer(info["path"], "second")
    QgsProject.instance().addMapLayer(second)
    _pick_in_combo(dock.raster_row.combo, second)
    assert dock.raster_row.layer() is second
    d.click(*d.pixel_xy(300, 420))
    assert c.rules.raster.name == "second"


# ------------------------------------------------------------------------------------------ 8/9. photo and units
def test_photo_in_a_geographic_project_digitises_in_pixels_without_a_transform_error(digitiser, tmp_path):
    from gis_fixtures import make_photo_png

    d = digitiser
    c, dock = d.controller, d.plugin.dock
    assert dock.min_area_spin.suffix() == " m²" and dock.simplify_spin.suffix() == " m"
    QgsProject.instance().setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    info = make_photo_png(tmp_path / "webcam.png")
    photo = QgsRasterLayer(info["path"], "webcam")
    QgsProject.instance().removeMapLayer(d.raster.id())
    QgsProject.instance().addMapLayer(photo)
    d.iface.setActiveLayer(photo)
    d.canvas.setDestinationCrs(photo.crs())
    d.canvas.setExtent(photo.extent())
    d.canvas.refresh()
    QTest.qWait(20)
    d.to_canvas = type(d.to_canvas)()
    d.info = info
    d.click(*info["lobe_xy"])
    assert dock.raster_row.layer() is photo
    assert dock.min_area_spin.suffix() == " px²" and dock.simplify_spin.suffix() == " px"
    assert "pixel units" in dock.units_label.text()
    logged = []
    log = QgsApplication.messageLog()
    log.messageReceived.connect(lambda text, tag, level: logged.append((text, level)))
    path = tmp_path / "photo.gpkg"
    layer = c.target.create(str(path))
    assert layer is not None and not layer.crs().isValid()   # no "Undefined Cartesian SRS": nothing to transform
    d.canvas.refresh()
    d.canvas.waitWhileRendering()
    d.key(Qt.Key_Space)
    assert not any("transform" in t.lower() for t, _ in logged) and d.warnings() == []
    features, _ = read_gpkg(path)
    assert len(features) == 1 and features[0][1]["units"] == "px"


# ------------------------------------------------------------------------------------------ 10. checkpoint
def test_checkpoint_shows_the_model_name_and_browses_from_its_folder(digitiser, tmp_path, monkeypatch):
    from core_model.default_model import DEFAULT_CHECKPOINT

    d = digitiser
    chooser = d.plugin.dock.checkpoint_widget
    assert chooser.combo.currentText().startswith("default — ") and chooser.filePath() == str(DEFAULT_CHECKPOINT)
    models = tmp_path / "models"
    models.mkdir()
    mine = models / "tirol_h18_itermask.pth"
    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, title, start, flt: (seen.append(start), (str(mine), ""))[1]))
    chooser.combo.setFocus()
    QTest.keyClick(chooser.combo, Qt.Key_End)          # "Other file…", the last item, opens the file dialog
    assert seen == [str(DEFAULT_CHECKPOINT.parent)]
    assert chooser.combo.currentText() == "tirol_h18_itermask" and d.plugin.dock.settings.checkpoint == str(mine)
    assert d.plugin.dock.settings.model == ""          # a plain file: the settings it recommends itself
    QTest.keyClick(chooser.combo, Qt.Key_End)
    assert seen[-1] == str(models)                     # starts where the last checkpoint was
    assert chooser.combo.currentText() == "tirol_h18_itermask"
    QTest.keyClick(chooser.combo, Qt.Key_Home)          # back to the bundled model with the keyboard
    assert d.plugin.dock.settings.checkpoint == str(DEFAULT_CHECKPOINT)
    assert QgsSettings().value("avalanche_iseg/checkpoint") == ""


def test_preload_warms_the_model_once_when_the_tool_goes_on(digitiser):
    d = digitiser
    c = d.controller
    c.preload_soon(0)
    QTest.qWait(30)
    c.wait_idle(30)
    assert len(d.predictors) == 1 and d.predictors[0].clicks == []     # warmed up, then reset
    c.preload_soon(0)
    QTest.qWait(30)
    c.wait_idle(30)
    assert len(d.predictors) == 1
    d.click(*d.info["lobe_xy"])
    assert len(d.predictors) == 1 and len(c.state.clicks) == 1           # the first click uses the loaded model


# ------------------------------------------------------------------------------------------ 11. export
def test_export_from_the_dock_names_the_geopackage_layer(digitiser, tmp_path, monkeypatch):
    from osgeo import ogr

    d = digitiser
    c, dock = d.controller, d.plugin.dock
    c.target.create(str(tmp_path / "avalanches.gpkg"))
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    out = tmp_path / "export_2026.gpkg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "GeoPackage (*.gpkg)")))
    QTest.mouseClick(dock.export_button, Qt.LeftButton)
    ds = ogr.Open(str(out))
    assert [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())] == ["avalanches"]
    ds = None
    dock.export_name_edit.setFocus()
    dock.export_name_edit.selectAll()
    QTest.keyClicks(dock.export_name_edit, "tirol")
    QTest.keyClick(dock.export_name_edit, Qt.Key_Return)
    assert QgsSettings().value("avalanche_iseg/export_layer_name") == "tirol"
    QTest.mouseClick(dock.export_button, Qt.LeftButton)
    ds = ogr.Open(str(out))
    assert ds.GetLayer(0).GetName() == "tirol" and ds.GetLayer(0).GetFeatureCount() == 1
    ds = None
    shp = tmp_path / "export.shp"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(shp), "")))
    QTest.mouseClick(dock.export_button, Qt.LeftButton)
    ds = ogr.Open(str(shp))
    assert "fid" not in [f.GetName() for f in ds.GetLayer(0).schema]
    ds = None


def test_enter_in_the_confirmation_does_not_choose_the_inventory(project_with_inventory):
    d, inventory = project_with_inventory
    replies = []
    answer_modal_dialog(lambda dlg: QTest.keyClick(dlg, Qt.Key_Return), replies)
    _pick_in_combo(d.plugin.dock.layer_combo, inventory)
    assert len(replies) == 1 and d.controller.target.layer() is None
