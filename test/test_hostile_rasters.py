"""Hostile rasters (issue 16, D9 D11 D12 D13): refused at open or at the window with one sentence, never an
avalanche written from impossible coordinates or from no data.  Every raster is made in the test's tmp dir;
end-to-end cases run the segment CLI in-process with the deterministic FakePredictor."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal, ogr

from avalanche_iseg_plugin.engine.errors import RasterError
from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow
from gis_fixtures import make_lobe_geotiff

SIZE = (120, 160)


@pytest.fixture
def fake_segment(monkeypatch, tmp_path, qgis_app):
    """segment.main with the FakePredictor; returns run(raster, clicks, out) -> (exit code, stdout, stderr)."""
    from avalanche_iseg_plugin.cli import segment
    from gis_fixtures import FakePredictor

    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    monkeypatch.setattr(segment, "make_predictor", lambda path, device, threshold: FakePredictor(threshold=threshold))

    def run(capsys, raster, clicks, out):
        path = tmp_path / "clicks.json"
        path.write_text(clicks if isinstance(clicks, str) else json.dumps(clicks), encoding="utf-8")
        code = segment.main(["--raster", str(raster), "--clicks", str(path), "--out", str(out),
                             "--checkpoint", str(checkpoint)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def lobe_click(info):
    return {"x": info["lobe_xy"][0], "y": info["lobe_xy"][1]}


def assert_one_error(code, err, *fragments):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "unexpected failure" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def fill_bands(path, value, nodata=None):
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        band.WriteArray(np.full((ds.RasterYSize, ds.RasterXSize), value, dtype=band.ReadAsArray().dtype))
        if nodata is not None:
            band.SetNoDataValue(nodata)
    ds = None


# -- D9: a geographic CRS with projected coordinates ----------------------------------------------------
def test_geographic_crs_with_projected_coordinates_is_refused_at_open(tmp_path):
    info = make_lobe_geotiff(tmp_path / "fluchthorn.tif", crs="EPSG:4326", size=SIZE, pixel=1.25)
    with pytest.raises(RasterError) as caught:
        RasterSource.open(info["path"])
    text = str(caught.value)
    assert "EPSG:4326" in text and "impossible in degrees" in text and text.count(". ") == 0


def test_geographic_crs_in_degrees_still_opens(tmp_path):
    info = make_lobe_geotiff(tmp_path / "wgs84.tif", crs="EPSG:4326", size=SIZE, pixel=1e-5, origin=(10.2, 46.9))
    source = RasterSource.open(info["path"])
    assert source.grid.extent[0] == pytest.approx(10.2) and source.grid.extent[3] == pytest.approx(46.9)


def test_geographic_crs_with_projected_coordinates_writes_nothing(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "fluchthorn.tif", crs="EPSG:4326", size=SIZE, pixel=1.25)
    out = tmp_path / "out.gpkg"
    code, _, err = fake_segment(capsys, info["path"], [[lobe_click(info)], [lobe_click(info)]], out)
    assert_one_error(code, err, "declares the geographic CRS EPSG:4326", "Assign Projection")
    assert not out.exists()


# -- D13: NaN geotransform ------------------------------------------------------------------------------
@pytest.mark.parametrize("geotransform", [(float("nan"), 1.25, 0, 1.2e6, 0, -1.25),
                                          (2.6e6, float("inf"), 0, 1.2e6, 0, -1.25),
                                          (2.6e6, 1.25, 0, 1.2e6, 0, float("nan")),
                                          (2.6e6, 1e308, 0, 1.2e6, 0, -1.25)])
def test_non_finite_geotransform_is_refused_at_open(tmp_path, geotransform):
    info = make_lobe_geotiff(tmp_path / "nan_gt.tif", size=SIZE)
    ds = gdal.Open(info["path"], gdal.GA_Update)
    ds.SetGeoTransform(geotransform)
    ds = None
    with pytest.raises(RasterError, match="(not numbers|not finite)"):
        RasterSource.open(info["path"])


# -- D12: no data under the clicks ----------------------------------------------------------------------
def test_all_nodata_raster_refuses_the_click(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "nodata.tif", size=SIZE)
    fill_bands(info["path"], 0, nodata=0)
    out = tmp_path / "out.gpkg"
    code, _, err = fake_segment(capsys, info["path"], [lobe_click(info)], out)
    assert_one_error(code, err, "hold no data", "nothing was written")
    assert not out.exists()


def test_all_nan_raster_refuses_the_click(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "nan.tif", size=SIZE, dtype="float32")
    fill_bands(info["path"], np.nan)                          # NaN without a nodata value: still no data
    out = tmp_path / "out.gpkg"
    code, _, err = fake_segment(capsys, info["path"], [lobe_click(info)], out)
    assert_one_error(code, err, "hold no data")
    assert not out.exists()


def test_windows_need_valid_pixels_under_the_clicks(tmp_path):
    info = make_lobe_geotiff(tmp_path / "strip.tif", size=SIZE, nodata=0, nodata_cols=40)
    source = RasterSource.open(info["path"])
    on_strip, on_lobe = source.grid.xy_of(60.5, 10.5), info["lobe_xy"]
    with pytest.raises(RasterError, match="hold no data"):
        RasterWindow.around(source, [on_strip], 8)
    assert RasterWindow.around(source, [on_strip, on_lobe], 8).contains(*on_lobe)   # one valid click is enough
    with pytest.raises(RasterError, match="box covers only pixels"):
        RasterWindow.from_box(source, *source.grid.xy_of(10, 2), *source.grid.xy_of(100, 30))
    assert RasterWindow.from_box(source, *source.grid.xy_of(10, 2), *source.grid.xy_of(100, 60)).width == 58


# -- D11: a geotransform but no CRS: map units, not pixels -------------------------------------------------
def test_geotransform_without_crs_reports_map_units(tmp_path, fake_segment, capsys):
    info = make_lobe_geotiff(tmp_path / "nocrs.tif", crs=None, size=SIZE, pixel=1.25)
    out = tmp_path / "out.gpkg"
    code, stdout, err = fake_segment(capsys, info["path"], [lobe_click(info)], out)
    assert code == 0, err
    assert "pixel" not in stdout.split("object 1 ->")[1]
    assert "map units²" in stdout and "a geotransform but no CRS" in stdout
    ds = ogr.Open(str(out))
    feature = next(iter(ds.GetLayerByName("avalanches")))
    assert feature["area_m2"] == pytest.approx(info["area"], rel=1e-6)    # map units² (1.25² per pixel)
    ds = None


def test_area_units_words(qgis_app):
    from avalanche_iseg_plugin.layers.measure import area_units

    assert area_units("EPSG:2056") == "m²"
    assert area_units("", georeferenced=True) == "map units²"
    assert area_units("") == "pixel²"
