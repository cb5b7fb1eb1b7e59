"""The avalanche layer: GeoPackage creation, attributes and coordinates read back from disk,
CRS transforms, correction keeping the feature id, export, and the bad-input messages."""

import gc
import os
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from osgeo import ogr
from shapely import wkt as shapely_wkt
from shapely.geometry import box as shapely_box
from shapely.ops import transform as shapely_transform

from avalanche_iseg_plugin.engine.errors import LayerError
from avalanche_iseg_plugin.engine.raster_window import RasterSource
from avalanche_iseg_plugin.engine.session import DigitisingSession
from gis_fixtures import FakePredictor, make_lobe_geotiff, make_photo_png, xy_transformer

pytestmark = pytest.mark.usefixtures("qgis_app")


@pytest.fixture(autouse=True)
def _free_layers_before_qgis_exits():
    """Layers caught in reference cycles (e.g. pytest.raises tracebacks) must be freed while QGIS is
    still up: one freed after QgsApplication.exitQgis() crashes the interpreter at exit."""
    yield
    gc.collect()
SIZE = (120, 160)
FIELDS = ["id", "area_m2", "perimeter_m", "source", "n_pos", "n_neg", "model", "threshold", "created_utc", "method", "units",
          "aval_type", "size", "moisture", "trigger", "release_date", "date_uncert_d", "outline_certainty",
          "observer", "comment", "source_type", "elev_min_m", "elev_max_m", "slope_mean_deg", "aspect_deg",
          "area_3d_m2", "corrected_utc"]


@pytest.fixture
def lobe(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=SIZE)
    session = DigitisingSession(RasterSource.open(info["path"]), FakePredictor(), margin_px=100)
    session.add_click(*info["lobe_xy"], True)
    session.add_click(*info["outside_xy"], False)
    info["finished"] = session.finish()
    info["session"] = session
    return info


def _read_back(path, layer_name="avalanches"):
    """Features from the file on disk (OGR, independent of QGIS): list of (attrs dict, shapely geom)."""
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName(layer_name) if layer_name else ds.GetLayer(0)
    out = []
    for f in layer:
        attrs = {layer.GetLayerDefn().GetFieldDefn(i).GetName(): f.GetField(i) for i in range(f.GetFieldCount())}
        attrs["fid"] = f.GetFID()
        out.append((attrs, shapely_wkt.loads(f.GetGeometryRef().ExportToWkt())))
    srs = layer.GetSpatialRef()
    return out, srs


def test_create_add_and_read_back_from_disk(tmp_path, lobe):
    from qgis.core import QgsWkbTypes

    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, create_avalanche_layer
    from avalanche_iseg_plugin.layers.measure import area_units

    path = tmp_path / "inventory.gpkg"
    layer = create_avalanche_layer(path, "EPSG:2056")
    assert [f.name() for f in layer.fields()][1:] == FIELDS  # fid first (GeoPackage primary key)
    assert layer.wkbType() == QgsWkbTypes.MultiPolygon and layer.crs().authid() == "EPSG:2056"
    assert area_units(layer) == "m²"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    fid = add_finished(layer, lobe["finished"])
    assert not layer.isEditable()
    rows, srs = _read_back(path)
    assert srs.GetAuthorityCode(None) == "2056"
    assert len(rows) == 1
    attrs, geom = rows[0]
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    assert attrs["fid"] == fid
    assert attrs["id"] == 1 and attrs["source"] == "lobe" and attrs["model"] == "fake"
    assert (attrs["n_pos"], attrs["n_neg"]) == (1, 1)
    assert attrs["threshold"] == pytest.approx(0.49) and attrs["method"] == "interactive"
    assert attrs["area_m2"] == pytest.approx(truth.area, rel=1e-9)
    assert attrs["perimeter_m"] == pytest.approx(truth.length, rel=1e-9)
    created = datetime.strptime(attrs["created_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before - timedelta(seconds=1) <= created <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert geom.symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    # the next object gets id 2; reopening the file ("created on first use") keeps both
    fid2 = add_finished(layer, lobe["finished"])
    assert fid2 != fid
    again = create_avalanche_layer(path, "EPSG:4326")  # existing layer is opened, not replaced
    assert again.featureCount() == 2 and again.crs().authid() == "EPSG:2056"
    assert sorted(a["id"] for a, _ in _read_back(path)[0]) == [1, 2]


def test_layer_in_other_crs_gets_transformed_coordinates(tmp_path, lobe):
    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, create_avalanche_layer

    truth = shapely_wkt.loads(lobe["outline_wkt"])
    for epsg in (4326, 3857):
        path = tmp_path / f"inv{epsg}.gpkg"
        layer = create_avalanche_layer(path, f"EPSG:{epsg}")
        add_finished(layer, lobe["finished"])
        (attrs, geom), = _read_back(path)[0]
        expected = shapely_transform(xy_transformer("EPSG:2056", f"EPSG:{epsg}"), truth)
        tol = 1e-7 if epsg == 4326 else 1e-3
        assert geom.geoms[0].exterior.hausdorff_distance(expected.exterior) < tol
        # ellipsoidal areas (geographic, and Web Mercator whose planar area is ~2x at 47° N)
        # agree with the planar LV95 area to within LV95's scale distortion
        assert attrs["area_m2"] == pytest.approx(truth.area, rel=2e-3)
        assert attrs["perimeter_m"] == pytest.approx(truth.length, rel=2e-3)


def test_photo_layer_without_crs_in_pixel_units(tmp_path):
    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, create_avalanche_layer
    from avalanche_iseg_plugin.layers.measure import area_units

    info = make_photo_png(tmp_path / "cam.png", size=(120, 160))
    session = DigitisingSession(RasterSource.open(info["path"]), FakePredictor(), margin_px=100)
    session.add_click(*info["lobe_xy"], True)
    finished = session.finish()
    layer = create_avalanche_layer(tmp_path / "cam_avalanches.gpkg", None)
    assert area_units(layer) == "pixel²"
    db = sqlite3.connect(tmp_path / "cam_avalanches.gpkg")  # GeoPackage's "undefined Cartesian SRS"
    assert db.execute("SELECT srs_id FROM gpkg_geometry_columns").fetchall() == [(-1,)]
    db.close()
    add_finished(layer, finished)
    (attrs, geom), = _read_back(tmp_path / "cam_avalanches.gpkg")[0]
    truth = shapely_wkt.loads(info["outline_wkt"])
    assert attrs["area_m2"] == pytest.approx(info["mask"].sum())  # pixel²
    assert geom.symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-9)
    assert attrs["source"] == "cam"
    # photo polygons never go silently into a georeferenced layer
    geo = create_avalanche_layer(tmp_path / "geo.gpkg", "EPSG:2056")
    with pytest.raises(LayerError, match="no georeference"):
        add_finished(geo, finished)
    assert geo.featureCount() == 0 and not geo.isEditable()


def test_replace_geometry_keeps_fid_and_attributes(tmp_path, lobe):
    from avalanche_iseg_plugin.layers.avalanche_layer import (add_finished, create_avalanche_layer, feature_wkt_in_crs,
                                                       replace_geometry, selected_polygon_id)

    path = tmp_path / "inv.gpkg"
    layer = create_avalanche_layer(path, "EPSG:4326")
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    old = truth.buffer(-4.0, join_style=2)
    fid = add_finished(layer, type(lobe["finished"])(**{**lobe["finished"].__dict__, "polygons_wkt": [old.wkt]}))
    before = dict(_read_back(path)[0][0][0])
    layer.selectByIds([fid])
    assert selected_polygon_id(layer) == fid
    # correction: the layer's polygon (EPSG:4326) back in the raster CRS, refined by a click
    src_crs = lobe["finished"].raster_crs_wkt
    wkt = feature_wkt_in_crs(layer, fid, src_crs)
    assert shapely_wkt.loads(wkt).symmetric_difference(old).area < 1e-3 * old.area
    session = lobe["session"]
    session.start_from_polygon(wkt)
    session.add_click(*lobe["lobe_xy"], True)
    finished = session.finish()
    replace_geometry(layer, fid, finished.polygons_wkt, src_crs)
    (attrs, geom), = _read_back(path)[0]
    assert attrs["fid"] == fid
    for key in ("id", "source", "created_utc", "model", "n_pos", "n_neg", "threshold"):
        assert attrs[key] == before[key]
    assert attrs["method"] == "corrected"
    assert attrs["area_m2"] == pytest.approx(truth.area, rel=2e-3) and before["area_m2"] < 0.9 * truth.area
    with pytest.raises(LayerError, match="no longer exists"):
        replace_geometry(layer, 999, finished.polygons_wkt, src_crs)
    layer.selectByIds([])
    with pytest.raises(LayerError, match="Select exactly one polygon"):
        selected_polygon_id(layer)


def test_existing_single_polygon_layer_without_our_fields(lobe):
    from qgis.core import QgsVectorLayer

    from avalanche_iseg_plugin.layers.avalanche_layer import add_object, replace_geometry

    layer = QgsVectorLayer("Polygon?crs=EPSG:2056&field=name:string&field=method:string", "old", "memory")
    layer.startEditing()  # the user is editing already: stays in editing mode
    parts = lobe["finished"].polygons_wkt + ["POLYGON ((2600001 1199999,2600002 1199999,2600002 1199998,"
                                              "2600001 1199998,2600001 1199999))"]
    fid = add_object(layer, parts, "EPSG:2056", {"method": "interactive", "n_pos": 3})
    assert layer.isEditable()
    feats = {f.id(): f for f in layer.getFeatures()}
    assert len(feats) == 2  # single-polygon layer: one feature per part
    assert feats[fid].geometry().area() == pytest.approx(shapely_wkt.loads(lobe["outline_wkt"]).area)
    assert feats[fid]["method"] == "interactive"
    with pytest.raises(LayerError, match="2 separate parts"):
        replace_geometry(layer, fid, parts, "EPSG:2056")
    replace_geometry(layer, fid, parts[:1], "EPSG:2056")
    assert layer.getFeature(fid)["method"] == "corrected"


def test_bad_layers_and_paths(tmp_path):
    from qgis.core import QgsVectorLayer

    from avalanche_iseg_plugin.layers.avalanche_layer import add_object, create_avalanche_layer, open_avalanche_layer

    points = QgsVectorLayer("Point?crs=EPSG:2056", "stations", "memory")
    with pytest.raises(LayerError, match="'stations' holds points, not polygons"):
        add_object(points, ["POLYGON ((0 0,1 0,1 1,0 0))"], "EPSG:2056")
    lines = tmp_path / "lines.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(lines))
    ds.CreateLayer("tracks", geom_type=ogr.wkbLineString)
    ds = None
    with pytest.raises(LayerError, match="holds lines, not polygons"):
        open_avalanche_layer(lines)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(LayerError, match="does not exist; choose another location"):
        create_avalanche_layer(blocker / "inv.gpkg", "EPSG:2056")
    with pytest.raises(LayerError, match="must be a GeoPackage"):
        create_avalanche_layer(tmp_path / "inv.shp", "EPSG:2056")
    with pytest.raises(LayerError, match="does not exist"):
        open_avalanche_layer(tmp_path / "missing.gpkg")


def test_export_shapefile_and_geopackage(tmp_path, lobe):
    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, create_avalanche_layer
    from avalanche_iseg_plugin.layers.export import export_layer

    layer = create_avalanche_layer(tmp_path / "inv.gpkg", "EPSG:2056")
    add_finished(layer, lobe["finished"])
    add_finished(layer, lobe["finished"])
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    shp = export_layer(layer, tmp_path / "out" / ".." / "export.shp")
    rows, srs = _read_back(shp, None)
    assert len(rows) == 2 and srs.GetAuthorityCode(None) == "2056"
    names = set(rows[0][0])
    assert {"id", "area_m2", "perim_m", "created", "method", "source", "units"} <= names
    ds = ogr.Open(str(shp))
    columns = [d.GetName() for d in ds.GetLayer(0).schema]
    ds = None
    assert "fid" not in columns and rows[0][0]["units"] == "m"   # no stray GeoPackage key column (issue 13)
    assert rows[0][0]["perim_m"] == pytest.approx(truth.length, rel=1e-6)
    assert rows[0][1].symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    gpkg = export_layer(layer, tmp_path / "export.gpkg")
    rows, _ = _read_back(gpkg, "avalanches")          # the layer is 'avalanches' by default, not the file's name
    assert [r[0]["id"] for r in rows] == [1, 2] and rows[1][0]["perimeter_m"] == pytest.approx(truth.length)
    named = export_layer(layer, tmp_path / "named.gpkg", layer_name="tirol_2026")
    assert len(_read_back(named, "tirol_2026")[0]) == 2
    with pytest.raises(LayerError, match=r"not '\.csv'"):
        export_layer(layer, tmp_path / "export.csv")
    with pytest.raises(LayerError, match="not writable"):
        export_layer(layer, tmp_path / "afile" / "x.shp")
    with pytest.raises(LayerError, match="own file"):
        export_layer(layer, tmp_path / "inv.gpkg")
    assert os.path.exists(tmp_path / "export.shp")


def test_failed_commit_is_reported_and_rolled_back(tmp_path, lobe):
    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, open_avalanche_layer

    path = tmp_path / "strict.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    layer = ds.CreateLayer("strict", srs, geom_type=ogr.wkbMultiPolygon)
    observer = ogr.FieldDefn("observer", ogr.OFTString)
    observer.SetNullable(False)  # the inventory demands an observer: our insert cannot fill it
    layer.CreateField(observer)
    ds = None
    strict = open_avalanche_layer(path)
    with pytest.raises(LayerError, match="Could not save to the layer 'strict'.*NOT NULL.*still on the map") as err:
        add_finished(strict, lobe["finished"])
    assert "\n" not in str(err.value)
    assert not strict.isEditable() and strict.featureCount() == 0
    assert _read_back(path, "strict")[0] == []


def test_fields_in_another_order_get_their_values_by_name(tmp_path, lobe):
    """An inventory whose fields come in another order (plus one of its own) gets every value in the
    field of that name, on adding and on correcting."""
    from osgeo import osr

    from avalanche_iseg_plugin.engine.avalanche_schema import FIELDS
    from avalanche_iseg_plugin.layers.avalanche_layer import add_finished, open_avalanche_layer, replace_geometry

    path = tmp_path / "reordered.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    layer = ds.CreateLayer("inventory", srs, geom_type=ogr.wkbMultiPolygon)
    kinds = {"int": ogr.OFTInteger, "real": ogr.OFTReal, "text": ogr.OFTString, "date": ogr.OFTDate}
    layer.CreateField(ogr.FieldDefn("observer", ogr.OFTString))
    FIELDS = [spec for spec in FIELDS if spec.name != "observer"]   # the inventory's own "observer" first
    for spec in reversed(FIELDS):
        layer.CreateField(ogr.FieldDefn(spec.name, kinds[spec.kind]))
    ds = None
    inventory = open_avalanche_layer(path)
    assert inventory.fields().names() == ["fid", "observer"] + [s.name for s in reversed(FIELDS)]
    fid = add_finished(inventory, lobe["finished"])
    (attrs, geom), = [(a, g) for a, g in _read_back(path, "inventory")[0]]
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    assert attrs["id"] == 1 and attrs["source"] == "lobe" and attrs["model"] == "fake"
    assert (attrs["n_pos"], attrs["n_neg"]) == (1, 1) and attrs["threshold"] == pytest.approx(0.49)
    assert attrs["method"] == "interactive" and attrs["observer"] is None
    assert attrs["area_m2"] == pytest.approx(truth.area, rel=1e-6)
    assert attrs["perimeter_m"] == pytest.approx(truth.length, rel=1e-6)
    assert datetime.strptime(attrs["created_utc"], "%Y-%m-%dT%H:%M:%SZ")
    xmin, ymin, xmax, ymax = truth.bounds
    half = truth.intersection(shapely_box(xmin, ymin, xmax, (ymin + ymax) / 2))
    replace_geometry(inventory, fid, half.wkt, lobe["crs_wkt"])
    (attrs, _), = _read_back(path, "inventory")[0]
    assert attrs["method"] == "corrected" and attrs["area_m2"] == pytest.approx(half.area, rel=1e-6)
    assert attrs["id"] == 1 and attrs["source"] == "lobe"
