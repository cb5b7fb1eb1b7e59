"""Hostile click files and a foreign avalanche layer (issue 16, D14, D6 for click files, D10): one bounded
sentence (ClickFileError; exit 2 from the CLI), never "unexpected failure"; a layer named ``avalanches``
with another schema gets only the fields it has and loses nothing."""
from __future__ import annotations

import json

import pytest
from osgeo import ogr, osr

from avalanche_iseg_plugin.engine.click_file import ClickFileError, read_click_file
from avalanche_iseg_plugin.engine.raster_window import RasterSource
from gis_fixtures import make_lobe_geotiff
from test_hostile_rasters import assert_one_error, fake_segment, lobe_click  # noqa: F401 - fixture

SIZE = (120, 160)
HUGE = 3_000_000


@pytest.fixture
def source(tmp_path):
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=SIZE, pixel=1.25)
    return RasterSource.open(info["path"])


def refusal(tmp_path, source, text) -> str:
    path = tmp_path / "clicks.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClickFileError) as caught:
        read_click_file(path, source)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500, message[:300]
    return message


@pytest.mark.parametrize("text, fragment", [
    ('[{"x": 1e400, "y": 1}]', "too large to be a coordinate"),
    ('[{"row": 1e400, "col": 1}]', "too large to be a coordinate"),
    ('[{"x": -1e999, "y": 1}]', "too large to be a coordinate"),
    ('[{"x": ' + "1" * 5001 + ', "y": 1}]', "5001 digits"),
    ('[{"row": -' + "9" * 5001 + ', "col": 1}]', "5001 digits"),
    ('[{"x": NaN, "y": 1}]', "NaN, which is not a coordinate"),
    ("[" * 100_000 + "]" * 100_000, "nests lists too deeply"),
    ('[[[[[[[[{"x": 1, "y": 1}]]]]]]]]', "not a click"),
])
def test_absurd_numbers_and_nesting_give_one_sentence(tmp_path, source, text, fragment):
    assert fragment in refusal(tmp_path, source, text)


@pytest.mark.parametrize("data", [
    [{"x": "a" * HUGE, "y": 1}],
    [{"a" * HUGE: 1, "y": 1}],
    [{"x": 1, "y": 1, "positive": "p" * HUGE}],
    ["s" * HUGE],
    [[{"x": 1, "y": 1}], "s" * HUGE],
    [{f"k{i}" * 50: 1 for i in range(2000)}],
])
def test_huge_values_are_not_echoed(tmp_path, source, data):
    message = refusal(tmp_path, source, json.dumps(data))
    assert "…" in message or "more" in message


def test_cli_gives_exit_2_for_deep_nesting_and_long_numbers(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=SIZE, pixel=1.25)
    for text, fragment in [("[" * 100_000 + "]" * 100_000, "too deeply"),
                           ('[{"x": ' + "1" * 5001 + ', "y": 1}]', "5001 digits"),
                           (json.dumps([{"x": "a" * HUGE, "y": 1}]), "not a number")]:
        code, _, err = fake_segment(capsys, info["path"], text, tmp_path / "out.gpkg")
        assert_one_error(code, err, fragment)
        assert len(err) < 500


# -- D10: an existing layer named avalanches with a foreign schema ----------------------------------------
def make_foreign_layer(path):
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    layer = ds.CreateLayer("avalanches", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    layer.CreateField(ogr.FieldDefn("n_pos", ogr.OFTInteger))
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("name", "mapped by hand")
    feature.SetGeometry(ogr.CreateGeometryFromWkt(
        "POLYGON ((2600000 1199900, 2600010 1199900, 2600010 1199910, 2600000 1199900))"))
    layer.CreateFeature(feature)
    ds = None


def test_foreign_schema_layer_gets_the_fields_it_has(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=SIZE, pixel=1.25)
    out = tmp_path / "foreign.gpkg"
    make_foreign_layer(out)
    code, stdout, err = fake_segment(capsys, info["path"], [[lobe_click(info)], [lobe_click(info)]], out)
    assert code == 0 and err == "", err
    assert "lacks the fields id, area_m2, perimeter_m" in stdout and "only the fields it has are filled" in stdout
    assert "object 2 -> feature 3" in stdout
    ds = ogr.Open(str(out))
    layer = ds.GetLayerByName("avalanches")
    rows = [(f["name"], f["n_pos"], f.GetGeometryRef().GetArea()) for f in layer]
    ds = None
    assert len(rows) == 3 and rows[0][0] == "mapped by hand"          # nothing lost, both objects written
    assert [r[1] for r in rows[1:]] == [1, 1] and all(r[2] > 100 for r in rows[1:])
