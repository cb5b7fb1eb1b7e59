"""``--dem`` on the headless segmenter: terrain attributes of each avalanche (in-process, FakePredictor),
empty with one warning line where the avalanche leaves the DEM, and a missing DEM as bad input."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from gis_fixtures import FakePredictor, make_lobe_geotiff

SLOPE = 0.5    # rises to the north: slope 26.57°, facing south (180°)


def _dem(path, info, rows=None):
    gt = info["geotransform"]
    x0, y0 = gt[0] - 20, gt[3] + 20
    height = rows or 200
    y = y0 - (np.arange(height)[:, None] * 2.0 + 1.0)                  # cell centres' northing
    z = 1000 + SLOPE * (y - (y0 - 400)) + np.zeros((height, 240))
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 240, height, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((x0, 2.0, 0, y0, 0, -2.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(z)
    ds = None
    return path


@pytest.fixture
def run(monkeypatch, tmp_path, qgis_app):
    from avalanche_iseg_plugin.cli import segment

    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    monkeypatch.setattr(segment, "make_predictor", lambda path, device, threshold: FakePredictor(threshold=threshold))
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320), pixel=1.25)
    clicks = tmp_path / "c.json"
    clicks.write_text(json.dumps([{"x": info["lobe_xy"][0], "y": info["lobe_xy"][1]}]))

    def run_with(dem, out):
        return segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(out),
                             "--checkpoint", str(checkpoint), "--dem", str(dem)])
    return run_with, info


def _row(path):
    ds = ogr.Open(str(path))
    rows = [f.items() for f in ds.GetLayer(0)]
    ds = None
    return rows


def test_dem_gives_terrain_attributes(run, tmp_path, capsys):
    run_with, info = run
    assert run_with(_dem(tmp_path / "dem.tif", info), tmp_path / "a.gpkg") == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "slope 26.6°, aspect 180°" in captured.out
    (row,) = _row(tmp_path / "a.gpkg")
    assert row["slope_mean_deg"] == pytest.approx(math.degrees(math.atan(SLOPE)), abs=0.1)
    assert row["aspect_deg"] == pytest.approx(180, abs=0.5)
    assert row["elev_max_m"] - row["elev_min_m"] == pytest.approx(SLOPE * (info["lobe_bounds"][3] - info["lobe_bounds"][1]),
                                                                  abs=2)
    assert row["area_3d_m2"] == pytest.approx(row["area_m2"] * math.sqrt(1 + SLOPE ** 2), rel=0.01)


def test_avalanche_leaving_the_dem_is_written_without_terrain(run, tmp_path, capsys):
    run_with, info = run
    north_only = _dem(tmp_path / "north.tif", info, rows=int((info["geotransform"][3] + 20 - info["lobe_xy"][1]) / 2))
    assert run_with(north_only, tmp_path / "b.gpkg") == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: object 1: The avalanche reaches beyond the DEM 'north.tif'")
    (row,) = _row(tmp_path / "b.gpkg")
    assert row["elev_min_m"] is None and row["area_3d_m2"] is None and row["area_m2"] > 0


def test_missing_dem_is_bad_input(run, tmp_path, capsys):
    run_with, _ = run
    assert run_with(tmp_path / "nowhere.tif", tmp_path / "c.gpkg") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "The DEM" in err and "does not exist" in err and not (tmp_path / "c.gpkg").exists()
