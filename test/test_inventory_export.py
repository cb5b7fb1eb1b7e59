"""The avalanche record in files: a Shapefile export round-trips every field under its ≤ 10-character
name; an exported Shapefile used as target again is filled by those names; an existing inventory layer
gets the record's fields on request, its own fields untouched. Read back with OGR."""
from __future__ import annotations

import datetime

import pytest
from osgeo import ogr, osr
from qgis.PyQt.QtCore import QDate

from avalanche_iseg_plugin.engine.avalanche_schema import FIELD_NAMES, FIELDS, SHAPEFILE_NAMES
from avalanche_iseg_plugin.layers.attribute_form import NULL_VALUE
from gis_fixtures import make_lobe_geotiff

RECORD = {"aval_type": "slab", "size": 4, "moisture": "wet", "trigger": "human", "release_date": QDate(2021, 4, 11),
          "date_uncert_d": 3, "outline_certainty": "estimated", "observer": "Ö. Beobachterin",
          "comment": "Gleitschnee, 2 Äste", "source_type": "satellite", "elev_min_m": 2042.37,
          "elev_max_m": 2323.1, "slope_mean_deg": 38.34, "aspect_deg": 206.7, "area_3d_m2": 52672.5,
          "corrected_utc": "2026-12-01T11:00:00Z"}


def _read(path):
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = [f.items() for f in layer]
    return names, rows


def _square(info):
    x0, y0, x1, y1 = info["lobe_bounds"]
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def test_shapefile_export_round_trips_every_field(tmp_path):
    from avalanche_iseg_plugin.layers.avalanche_layer import add_object, create_avalanche_layer
    from avalanche_iseg_plugin.layers.export import export_layer

    info = make_lobe_geotiff(tmp_path / "lobe.tif")
    layer = create_avalanche_layer(tmp_path / "inv.gpkg", "EPSG:2056")
    attrs = {"source": "ortho", "n_pos": 2, "n_neg": 1, "model": "m", "threshold": 0.49, **RECORD}
    add_object(layer, _square(info), "EPSG:2056", attrs)
    _, (stored,) = _read(tmp_path / "inv.gpkg")
    names, (row,) = _read(export_layer(layer, tmp_path / "inv.shp"))
    names = [n for n in names if n != "fid"]       # the GeoPackage's fid column (issue 13 drops it from exports)
    assert names == [SHAPEFILE_NAMES.get(n, n) for n in FIELD_NAMES] and max(len(n) for n in names) <= 10
    kinds = {f.name: f.kind for f in FIELDS}
    for name in FIELD_NAMES:
        value, expected = row[SHAPEFILE_NAMES.get(name, name)], stored[name]
        if kinds[name] == "real":
            assert value == pytest.approx(expected, rel=1e-9), name
        else:
            assert value == expected, name
    assert row["rel_date"] == "2021/04/11" and row["outl_cert"] == "estimated" and row["src_type"] == "satellite"
    assert row["observer"] == "Ö. Beobachterin" and row["comment"] == "Gleitschnee, 2 Äste"
    assert row["slope_deg"] == pytest.approx(38.34) and row["corrected"] == "2026-12-01T11:00:00Z"


def test_exported_shapefile_as_target_is_filled_by_its_short_names(tmp_path):
    from avalanche_iseg_plugin.layers.attribute_form import apply_form
    from avalanche_iseg_plugin.layers.avalanche_layer import add_object, create_avalanche_layer, open_avalanche_layer, replace_geometry
    from avalanche_iseg_plugin.layers.export import export_layer

    info = make_lobe_geotiff(tmp_path / "lobe.tif")
    layer = create_avalanche_layer(tmp_path / "inv.gpkg", "EPSG:2056")
    add_object(layer, _square(info), "EPSG:2056", RECORD)
    shp = open_avalanche_layer(export_layer(layer, tmp_path / "inv.shp"))
    fid = add_object(shp, _square(info), "EPSG:2056", {**RECORD, "aval_type": "loose", "corrected_utc": None})
    replace_geometry(shp, fid, _square(info), "EPSG:2056", {"aval_type": "glide", "size": 1})
    _, rows = _read(tmp_path / "inv.shp")
    assert len(rows) == 2
    assert rows[1]["rel_date"] == "2021/04/11" and rows[1]["date_unc_d"] == 3 and rows[1]["aval_type"] == "loose"
    assert rows[1]["size"] == 4 and rows[1]["method"] == "corrected" and rows[1]["corrected"].endswith("Z")
    assert rows[1]["perim_m"] > 0 and rows[1]["created"].endswith("Z")
    apply_form(shp)
    assert shp.editorWidgetSetup(shp.fields().indexOf("outl_cert")).type() == "ValueMap"
    assert shp.attributeAlias(shp.fields().indexOf("rel_date")) == "Release date"


def test_existing_inventory_gets_the_record_fields_on_request(tmp_path):
    from avalanche_iseg_plugin.layers.attribute_form import apply_form
    from avalanche_iseg_plugin.layers.avalanche_fields import add_avalanche_fields
    from avalanche_iseg_plugin.layers.avalanche_layer import add_object, open_avalanche_layer

    path = tmp_path / "foreign.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    foreign = ds.CreateLayer("lawinen", srs, ogr.wkbPolygon)
    foreign.CreateField(ogr.FieldDefn("Typ", ogr.OFTString))
    foreign.CreateField(ogr.FieldDefn("size", ogr.OFTInteger))
    feature = ogr.Feature(foreign.GetLayerDefn())
    feature.SetField("Typ", "Staub")
    feature.SetField("size", 3)
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON((0 0,1 0,1 1,0 0))"))
    foreign.CreateFeature(feature)
    ds = None
    layer = open_avalanche_layer(path, "lawinen")
    added = add_avalanche_fields(layer)
    assert "size" not in added and "aval_type" in added and "elev_max_m" in added and "corrected_utc" in added
    assert add_avalanche_fields(layer) == []
    apply_form(layer)
    setup = layer.editorWidgetSetup(layer.fields().indexOf("aval_type"))
    assert setup.type() == "ValueMap" and setup.config()["map"][0] == {"(empty)": NULL_VALUE}
    info = make_lobe_geotiff(tmp_path / "lobe.tif")
    add_object(layer, _square(info), "EPSG:2056", {"aval_type": "slab", "release_date": QDate(2021, 4, 11)})
    _, rows = _read(path)
    assert rows[0]["Typ"] == "Staub" and rows[0]["size"] == 3 and rows[0]["aval_type"] is None
    assert rows[1]["aval_type"] == "slab" and rows[1]["release_date"] == "2021/04/11"
    assert datetime.date(2021, 4, 11)   # the date field is a real DATE: OGR reads it back as one
