"""The avalanche record in QGIS: the created layer's form survives reopening the GeoPackage in a fresh
project; the dock's "attributes of the next avalanche" land in each finished avalanche (the real map
tool, real mouse and key events); terrain from a DEM in another CRS; the form on finish; correction keeps
the record. Read back from the GeoPackage on disk with OGR."""
from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProject, QgsRasterLayer, QgsSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QDate, Qt
from qgis.PyQt.QtTest import QTest

from canvas_driver import Digitiser, answer_modal_dialog, read_gpkg

SLOPE = 0.6    # the synthetic DEM rises 0.6 m per metre to the east: slope 30.96°, facing west (270°)


@pytest.fixture
def digitiser(qgis_iface, qgis_new_project, tmp_path):
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path)
    yield d
    if d.controller.next_attributes.form is not None:
        d.controller.next_attributes.form.close()
    d.close()
    QgsSettings().remove("avalanche_iseg")


@pytest.fixture
def target(digitiser, tmp_path):
    path = tmp_path / "inventory.gpkg"
    assert digitiser.controller.target.create(str(path)) is not None and digitiser.warnings() == []
    return path


def _plane_dem(path, info, crs="EPSG:4326", west_only=False):
    """A plane z = 1500 + SLOPE * (x - x0) over the lobe raster (EPSG:2056, 2 m cells), warped to ``crs``."""
    gt = info["geotransform"]
    x0, y0 = gt[0] - 50, gt[3] + 50
    width, height = (230 if west_only else 260), 210    # west_only: ends in the middle of the lobe
    if west_only:
        width = int((sum(info["lobe_bounds"][0::2]) / 2 - x0) / 2)
    cols = np.arange(width) * 2.0 + 1.0
    z = np.tile(1500 + SLOPE * cols, (height, 1))
    source = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Float64)
    source.SetGeoTransform((x0, 2.0, 0, y0, 0, -2.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    source.SetProjection(srs.ExportToWkt())
    source.GetRasterBand(1).WriteArray(z)
    gdal.Warp(str(path), source, dstSRS=crs, resampleAlg="bilinear", dstNodata=-9999)
    return x0


def test_form_widgets_survive_reopening_in_a_fresh_project(digitiser, target):
    QgsProject.instance().clear()
    layer = QgsVectorLayer(f"{target}|layername=avalanches", "reopened", "ogr")
    assert layer.isValid()
    fields = layer.fields()

    def widget(name):
        setup = layer.editorWidgetSetup(fields.indexOf(name))
        return setup.type(), setup.config()

    kind, config = widget("aval_type")
    assert kind == "ValueMap"
    assert [list(entry.values())[0] for entry in config["map"]][1:] == ["slab", "loose", "glide", "cornice", "unknown"]
    for name in ("moisture", "trigger", "outline_certainty", "source_type"):
        assert widget(name)[0] == "ValueMap"
    kind, config = widget("size")
    assert kind == "Range" and (config["Min"], config["Max"], config["AllowNull"]) == (1, 5, True)
    assert widget("release_date")[0] == "DateTime" and fields.field("release_date").typeName().lower() == "date"
    assert layer.attributeAlias(fields.indexOf("size")) == "Size (EAWS 1–5)"
    assert layer.defaultValueDefinition(fields.indexOf("aval_type")).expression() == "'unknown'"
    assert layer.editFormConfig().readOnly(fields.indexOf("area_m2"))
    assert not layer.editFormConfig().readOnly(fields.indexOf("comment"))
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "size"
    assert [str(c.value()) for c in renderer.categories()][:5] == ["1", "2", "3", "4", "5"]


def test_next_attributes_carry_over_to_each_avalanche(digitiser, target):
    d = digitiser
    box = d.controller.next_attributes.box
    assert box.parent() is d.plugin.dock.body
    box.set_values({"aval_type": "slab", "size": 3, "moisture": "dry", "trigger": "natural",
                    "release_date": QDate(2021, 4, 11), "date_uncert_d": 2, "outline_certainty": "partly visible",
                    "observer": "A. Analyst", "comment": "cycle of 11 April", "source_type": "orthoimage"})
    for _ in range(2):
        d.click(*d.info["lobe_xy"])
        d.key(Qt.Key_Space)
    box.combos["size"].setCurrentIndex(box.combos["size"].findData(4))
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    features, _ = read_gpkg(target)
    assert len(features) == 3
    for _, attrs, _ in features:
        assert (attrs["aval_type"], attrs["moisture"], attrs["trigger"]) == ("slab", "dry", "natural")
        assert attrs["release_date"] == "2021/04/11" and attrs["date_uncert_d"] == 2
        assert attrs["outline_certainty"] == "partly visible" and attrs["observer"] == "A. Analyst"
        assert attrs["comment"] == "cycle of 11 April" and attrs["source_type"] == "orthoimage"
        assert attrs["elev_min_m"] is None and attrs["slope_mean_deg"] is None   # no DEM chosen
        assert attrs["method"] == "interactive" and attrs["corrected_utc"] is None
    assert [a["size"] for _, a, _ in sorted(features, key=lambda f: f[1]["id"])] == [3, 3, 4]
    # kept for the next session too
    assert QgsSettings().value("avalanche_iseg/next_avalanche/aval_type") == "slab"


def test_terrain_from_a_dem_in_another_crs(digitiser, target, tmp_path):
    d = digitiser
    dem_path = tmp_path / "dem_wgs84.tif"
    x0 = _plane_dem(dem_path, d.info)
    dem = QgsRasterLayer(str(dem_path), "dem")
    assert dem.isValid() and dem.crs().authid() == "EPSG:4326"
    QgsProject.instance().addMapLayer(dem)
    d.iface.setActiveLayer(d.raster)
    d.controller.next_attributes.box.dem_combo.setLayer(dem)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    (_, attrs, geometry), = read_gpkg(target)[0]
    xmin, xmax, _, _ = geometry.GetEnvelope()
    assert attrs["elev_min_m"] == pytest.approx(1500 + SLOPE * (xmin - x0), abs=1.5)
    assert attrs["elev_max_m"] == pytest.approx(1500 + SLOPE * (xmax - x0), abs=1.5)
    assert attrs["slope_mean_deg"] == pytest.approx(math.degrees(math.atan(SLOPE)), abs=0.5)
    assert attrs["aspect_deg"] == pytest.approx(270, abs=1)
    assert attrs["area_3d_m2"] == pytest.approx(attrs["area_m2"] * math.sqrt(1 + SLOPE ** 2), rel=0.01)


def test_avalanche_partly_outside_the_dem_gets_empty_terrain_and_a_message(digitiser, target, tmp_path):
    d = digitiser
    dem_path = tmp_path / "dem_west.tif"
    _plane_dem(dem_path, d.info, crs="EPSG:2056", west_only=True)
    dem = QgsRasterLayer(str(dem_path), "dem_west")
    QgsProject.instance().addMapLayer(dem)
    d.iface.setActiveLayer(d.raster)
    d.controller.next_attributes.box.dem_combo.setLayer(dem)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    warnings = d.warnings()
    assert len(warnings) == 1 and "beyond the DEM 'dem_west'" in warnings[0]
    (_, attrs, _), = read_gpkg(target)[0]        # the avalanche is saved all the same
    assert all(attrs[name] is None for name in ("elev_min_m", "elev_max_m", "slope_mean_deg", "aspect_deg",
                                                "area_3d_m2"))
    assert attrs["area_m2"] > 0


def test_form_opens_on_finish_and_saves_what_the_analyst_enters(digitiser, target):
    d = digitiser
    box = d.controller.next_attributes.box
    box.open_form_check.setChecked(True)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    form = d.controller.next_attributes.form
    assert form is not None and form.isVisible()
    (fid, _, _), = read_gpkg(target)[0]
    assert form.feature().id() == fid
    form.attributeForm().changeAttribute("comment", "seen from the valley")
    form.attributeForm().changeAttribute("size", 2)
    form.accept()
    layer = d.controller.target.layer()
    assert not layer.isEditable()
    (_, attrs, _), = read_gpkg(target)[0]
    assert attrs["comment"] == "seen from the valley" and attrs["size"] == 2


def test_correction_keeps_the_record_and_stamps_corrected_utc(digitiser, target):
    d = digitiser
    c = d.controller
    box = c.next_attributes.box
    box.set_values({"aval_type": "glide", "size": 2, "observer": "first"})
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    (fid, before, _), = read_gpkg(target)[0]
    box.set_values({"aval_type": "loose", "size": 5, "observer": "second"})   # for the next avalanche only
    layer = c.target.layer()
    layer.selectByIds([fid])
    d.iface.setActiveLayer(layer)
    d.plugin.dock.correct_button.click()
    c.wait_idle(30)
    d.iface.setActiveLayer(d.raster)
    d.click(*d.info["lobe_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    (_, after, geometry), = read_gpkg(target)[0]
    assert (after["aval_type"], after["size"], after["observer"]) == ("glide", 2, "first")
    assert after["method"] == "corrected" and after["corrected_utc"].endswith("Z")
    assert after["created_utc"] == before["created_utc"] and after["area_m2"] < before["area_m2"]


def test_add_fields_button_on_an_existing_inventory(digitiser, tmp_path):
    from osgeo import ogr

    path = tmp_path / "foreign.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    layer = ds.CreateLayer("lawinen", srs, ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("Typ", ogr.OFTString))
    ds = None
    foreign = QgsVectorLayer(f"{path}|layername=lawinen", "lawinen", "ogr")
    QgsProject.instance().addMapLayer(foreign)
    d = digitiser
    replies = []                                      # the inventory lacks avalanche fields: confirmed
    answer_modal_dialog(lambda dlg: QTest.mouseClick(dlg.use_button, Qt.LeftButton), replies)
    assert d.controller.target.choose(foreign) and len(replies) == 1
    box = d.controller.next_attributes.box
    box.set_values({"aval_type": "cornice", "size": 1})
    box.add_fields_button.click()
    assert "aval_type" in foreign.fields().names() and foreign.fields().names()[:2] == ["fid", "Typ"]
    assert foreign.editorWidgetSetup(foreign.fields().indexOf("size")).type() == "Range"
    d.iface.setActiveLayer(d.raster)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    (_, attrs, _), = read_gpkg(path)[0]
    assert (attrs["aval_type"], attrs["size"], attrs["Typ"]) == ("cornice", 1, None) and "area_m2" not in attrs
    box.add_fields_button.click()                     # nothing more to add: said so, nothing changed
    assert foreign.fields().names().count("aval_type") == 1


def test_stored_values_that_make_no_sense_are_ignored(qgis_iface, qgis_new_project, tmp_path):
    QgsSettings().setValue("avalanche_iseg/next_avalanche/size", "huge")
    QgsSettings().setValue("avalanche_iseg/next_avalanche/aval_type", "powder")
    try:
        from avalanche_iseg_plugin.gui.next_attributes import NextAttributesBox

        box = NextAttributesBox()
        assert box.values()["size"] is None and box.values()["aval_type"] is None
        assert box.values()["source_type"] == "orthoimage"
    finally:
        QgsSettings().remove("avalanche_iseg")
