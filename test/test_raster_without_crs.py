"""A raster with a georeference but no CRS (a GeoTIFF on a local grid, an orthophoto with a world file but
no .prj): polygons and areas are in the geotransform's map units, and everything says so ("u"), never
metres nor pixels. The dock is driven with real clicks on a real canvas (FakePredictor); the GeoPackage
is read back from disk. Also: the CRS the user sets on such a layer in QGIS is the one used."""
from __future__ import annotations

import json

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsSettings
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest

from avalanche_iseg_plugin.engine import target_rules as tr
from canvas_driver import Digitiser, assert_matches_lobe, read_gpkg
from gis_fixtures import make_lobe_geotiff, make_photo_png

PIXEL = 1.25            # map units per pixel: pixel² and map units² differ by 1.5625


def test_units_rules():
    assert tr.raster_units(False, False) == "px"                        # a webcam photo
    assert tr.raster_units(True, False) == "u"                          # geotransform, no CRS
    assert tr.raster_units(True, True) == "m" and tr.raster_units(True, True, True) == "°"
    assert tr.unit_suffixes("u") == (" u²", " u")
    assert tr.units_field(False, raster_georeferenced=True) == "u"
    assert tr.units_field(False) == "px" and tr.units_field(True, True) == "m" and tr.units_field(True) == "m"
    note = tr.units_note("u")
    assert "no CRS" in note and "map units" in note and "Photo" not in note and note.count(".") == 1
    assert "Photo" in tr.units_note("px") and tr.units_note("m") == "Map units: metres."


@pytest.fixture
def local_grid(qgis_iface, qgis_new_project, tmp_path):
    """The plugin started, with a CRS-less GeoTIFF (LV95-like numbers, 1.25 map units pixels) chosen in the
    dock and shown on a canvas without CRS (as QGIS draws such a layer)."""
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path)
    info = make_lobe_geotiff(tmp_path / "local.tif", crs=None, pixel=PIXEL, size=(240, 320))
    raster = QgsRasterLayer(info["path"], "local")
    assert raster.isValid() and not raster.crs().isValid()
    QgsProject.instance().removeMapLayer(d.raster.id())
    QgsProject.instance().addMapLayer(raster)
    d.iface.setActiveLayer(raster)
    d.controller.dock.raster_row.set_layer(raster)
    d.canvas.setDestinationCrs(raster.crs())
    d.canvas.setExtent(raster.extent())
    d.canvas.refresh()
    QTest.qWait(20)
    d.to_canvas = type(d.to_canvas)()          # identity: map units are canvas units
    d.info, d.raster = info, raster
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def test_dock_and_layer_say_map_units(local_grid, tmp_path):
    d = local_grid
    dock = d.controller.dock
    assert (dock.min_area_spin.suffix(), dock.simplify_spin.suffix()) == (" u²", " u")
    assert "no CRS" in dock.units_label.text() and "Photo" not in dock.units_label.text()
    path = tmp_path / "local_avalanches.gpkg"
    layer = d.controller.target.create(str(path))
    assert layer is not None and not layer.crs().isValid()       # nothing says which CRS: none is invented
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    features, srs = read_gpkg(path)
    assert len(features) == 1
    assert srs is None or srs.IsLocal()
    _fid, attrs, geometry = features[0]
    assert_matches_lobe(geometry, d.info)                         # in the geotransform's coordinates
    x0, x1, y0, y1 = geometry.GetEnvelope()
    assert 2_600_000 < x0 < x1 < 2_600_400 and 1_199_700 < y0 < y1 < 1_200_000
    assert attrs["area_m2"] == pytest.approx(d.info["area"], rel=1e-9)     # map units², not pixel²
    assert attrs["area_m2"] == pytest.approx(geometry.GetArea(), rel=1e-9)
    assert attrs["perimeter_m"] == pytest.approx(geometry.Boundary().Length(), rel=1e-9)
    assert attrs["units"] == "u"                                   # was "px"


def test_min_area_is_in_map_units(local_grid, tmp_path):
    d = local_grid
    spin = d.controller.dock.min_area_spin
    path = tmp_path / "a.gpkg"
    d.controller.target.create(str(path))
    spin.setValue(0.0)
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    features, _ = read_gpkg(path)
    area = features[0][1]["area_m2"]
    spin.setValue(area / PIXEL ** 2 * 1.1)        # above the avalanche's area in pixel², below it in u²: kept
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert len(read_gpkg(path)[0]) == 2 and d.warnings() == []
    spin.setValue(area * 1.3)                     # above its area in u²: dropped, with a message
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert len(read_gpkg(path)[0]) == 2 and any("smaller than" in w for w in d.warnings())


def test_crs_set_in_qgis_is_used(local_grid, tmp_path):
    """The dock's advice followed: the layer's CRS set in QGIS (Layer Properties > Source) gives metres."""
    d = local_grid
    d.controller.target.create(str(tmp_path / "local.gpkg"))      # one avalanche before the CRS is set
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert read_gpkg(tmp_path / "local.gpkg")[0][0][1]["units"] == "u"
    d.raster.setCrs(QgsCoordinateReferenceSystem("EPSG:2056"))     # the dock follows at once
    assert (d.controller.dock.min_area_spin.suffix(), d.controller.dock.units_label.text()) == (" m²", "Map units: metres.")
    d.canvas.setDestinationCrs(d.raster.crs())
    d.canvas.setExtent(d.raster.extent())
    d.canvas.refresh()
    QTest.qWait(20)
    path = tmp_path / "lv95.gpkg"
    layer = d.controller.target.create(str(path))
    assert layer.crs().authid() == "EPSG:2056"
    d.click(*d.info["lobe_xy"])
    d.key(Qt.Key_Space)
    assert d.warnings() == []                                      # was: "The image has no georeference ..."
    features, srs = read_gpkg(path)
    assert len(features) == 1 and srs.GetAuthorityCode(None) == "2056"
    assert_matches_lobe(features[0][2], d.info)
    assert features[0][1]["units"] == "m" and features[0][1]["area_m2"] == pytest.approx(d.info["area"], rel=1e-6)


def test_photo_and_projected_raster_keep_their_units(local_grid, tmp_path):
    """Unchanged: a photo without georeference is in pixels, a raster with a CRS in metres."""
    d = local_grid
    dock = d.controller.dock
    info = make_photo_png(tmp_path / "webcam.png")
    photo = QgsRasterLayer(info["path"], "webcam")
    QgsProject.instance().addMapLayer(photo)
    d.iface.setActiveLayer(photo)
    dock.raster_row.set_layer(photo)
    assert (dock.min_area_spin.suffix(), dock.simplify_spin.suffix()) == (" px²", " px")
    assert "Photo without georeference" in dock.units_label.text()
    d.canvas.setExtent(photo.extent())
    d.canvas.refresh()
    QTest.qWait(20)
    d.info = info
    path = tmp_path / "webcam.gpkg"
    d.controller.target.create(str(path))
    d.click(*info["lobe_xy"])
    d.key(Qt.Key_Space)
    features, _ = read_gpkg(path)
    assert d.warnings() == []
    assert len(features) == 1 and features[0][1]["units"] == "px"
    assert features[0][1]["area_m2"] == pytest.approx(info["area"], rel=0.01)       # pixel²
    lv95 = QgsRasterLayer(make_lobe_geotiff(tmp_path / "lv95.tif", size=(120, 160))["path"], "lv95")
    QgsProject.instance().addMapLayer(lv95)
    dock.raster_row.set_layer(lv95)
    assert (dock.min_area_spin.suffix(), dock.units_label.text()) == (" m²", "Map units: metres.")


# -- the headless segmenter -------------------------------------------------------------------------------
@pytest.fixture
def fake_segment(monkeypatch, tmp_path, qgis_app):
    from avalanche_iseg_plugin.cli import segment
    from gis_fixtures import FakePredictor

    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    monkeypatch.setattr(segment, "make_predictor", lambda path, device, threshold: FakePredictor(threshold=threshold))

    def run(capsys, info, out):
        clicks = tmp_path / "clicks.json"
        clicks.write_text(json.dumps([{"x": info["lobe_xy"][0], "y": info["lobe_xy"][1]}]), encoding="utf-8")
        code = segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(out),
                             "--checkpoint", str(checkpoint)])
        return code, capsys.readouterr()
    return run


@pytest.mark.parametrize("kind", ["local", "photo", "lv95"])
def test_segment_cli_units_field(fake_segment, tmp_path, capsys, kind):
    if kind == "photo":
        info, units = make_photo_png(tmp_path / "webcam.png"), "px"
    else:
        info = make_lobe_geotiff(tmp_path / f"{kind}.tif", crs=None if kind == "local" else "EPSG:2056",
                                 pixel=PIXEL, size=(120, 160))
        units = "u" if kind == "local" else "m"
    out = tmp_path / "out.gpkg"
    code, captured = fake_segment(capsys, info, out)
    assert code == 0, captured.err
    features, _ = read_gpkg(out)
    assert len(features) == 1
    _fid, attrs, geometry = features[0]
    assert attrs["units"] == units                                 # local was "px"
    assert ("-a_srs" in captured.out) == (kind == "local")         # how to give the file its CRS
    assert attrs["area_m2"] == pytest.approx(info["area"], rel=1e-6) == pytest.approx(geometry.GetArea())
    assert_matches_lobe(geometry, info)


# -- the Processing algorithm ---------------------------------------------------------------------------
def test_processing_units_field(provider, tmp_path):
    import processing
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    info = make_lobe_geotiff(tmp_path / "local.tif", crs=None, pixel=PIXEL, size=(120, 160))
    raster = QgsRasterLayer(info["path"], "local")
    points = QgsVectorLayer("Point", "clicks", "memory")            # no CRS either: the same map units
    feature = QgsFeature(points.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*info["lobe_xy"])))
    points.dataProvider().addFeatures([feature])
    out = tmp_path / "points.gpkg"
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": raster, "POINTS": points, "CHECKPOINT": str(tmp_path / "unused.pth"), "THRESHOLD": 0.49,
        "OUTPUT": str(out)})
    (_, attrs, geometry), = read_gpkg(out)[0]
    assert_matches_lobe(geometry, info)
    assert attrs["units"] == "u"                                   # was "px"
    assert attrs["area_m2"] == pytest.approx(info["area"], rel=1e-6)
