"""The headless segmenter `python -m avalanche_iseg_plugin.segment` and scripts/make_sample.py.

Real runs: the CLI as a subprocess (no display, no QT_QPA_PLATFORM given) with the RITM reference
checkpoint (hrnet18s, lightly trained fixture weights: the masks are poor, so the tests check where the
polygons are and what their attributes say, not their exact shape).  Error cases: exit code 2 and one
line on stderr.  A few flows (--keep-going, a negative click that empties the mask, photos in pixel
units) run in-process with the deterministic FakePredictor, whose masks are exact."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from osgeo import ogr

from conftest import REPO, shared_path
from gis_fixtures import make_lobe_geotiff, make_photo_png

MODEL = "hrnet18s_itermask_ref"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def run_cli(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([sys.executable, "-m", "avalanche_iseg_plugin.segment", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def read_gpkg(path, layer_name="avalanches"):
    """[(attributes, ogr geometry)] of the layer on disk, and its EPSG code (None without CRS)."""
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName(layer_name)
    features = [(f.items(), f.GetGeometryRef().Clone()) for f in layer]
    srs = layer.GetSpatialRef()
    code = srs.GetAuthorityCode(None) if srs is not None else None
    ds = None
    return features, code


def write_clicks(path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 320×240 px orthoimage (EPSG:2056, 1.25 m) with the synthetic lobe: small, so the real model is quick."""
    folder = tmp_path_factory.mktemp("segment_cli")
    info = make_lobe_geotiff(folder / "ortho.tif", size=(240, 320), pixel=1.25)
    return folder, info


@pytest.fixture(scope="module")
def checkpoint():
    return shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")


def xy_click(xy, positive=True):
    return {"x": xy[0], "y": xy[1], "positive": positive}


def assert_one_error_line(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- real model -----------------------------------------------------------------------------------------
def test_real_run_creates_then_appends(scene, checkpoint):
    folder, info = scene
    out = folder / "avalanches.gpkg"
    lobe_x, lobe_y = info["lobe_xy"]
    # run 1: one object as a flat list of map-coordinate clicks, into a new GeoPackage
    clicks = write_clicks(folder / "one.json", [xy_click(info["lobe_xy"]), xy_click(info["outside_xy"], False)])
    started = time.monotonic()
    first = run_cli("--raster", info["path"], "--clicks", clicks, "--out", out, "--checkpoint", checkpoint)
    elapsed = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert "object 1 -> id 1: " in first.stdout and "2 clicks (1 positive, 1 negative)" in first.stdout
    assert f"Wrote 1 avalanche to {out}" in first.stdout
    features, epsg = read_gpkg(out)
    assert epsg == "2056" and len(features) == 1
    attrs, geometry = features[0]
    assert attrs["id"] == 1 and attrs["model"] == MODEL and attrs["threshold"] == pytest.approx(0.49)
    assert (attrs["n_pos"], attrs["n_neg"]) == (1, 1)
    assert attrs["source"] == "ortho" and attrs["method"] == "interactive"
    assert ISO_UTC.match(attrs["created_utc"])
    assert attrs["area_m2"] == pytest.approx(geometry.GetArea(), rel=1e-6) and attrs["area_m2"] > 0
    assert attrs["perimeter_m"] == pytest.approx(geometry.Boundary().Length(), rel=1e-6)
    assert geometry.GetGeometryName() == "MULTIPOLYGON" and geometry.IsValid()
    # near the clicks: inside the raster, within the model's window around the positive click
    assert geometry.Distance(ogr.CreateGeometryFromWkt(f"POINT ({lobe_x} {lobe_y})")) < 50.0
    xmin, xmax, ymin, ymax = geometry.GetEnvelope()
    assert 2_600_000 <= xmin and xmax <= 2_600_400 and 1_199_700 <= ymin and ymax <= 1_200_000
    first_wkt = geometry.ExportToWkt()

    # run 2: a list of two objects, one given in pixels (row/col), appended to the same layer
    row, col = info["lobe_pixel"]
    clicks = write_clicks(folder / "two.json", [[{"row": row, "col": col, "positive": True}],
                                                [xy_click(info["lobe_xy"])]])
    second = run_cli("--raster", info["path"], "--clicks", clicks, "--out", out, "--checkpoint", checkpoint)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert "object 1 -> id 2: " in second.stdout and "object 2 -> id 3: " in second.stdout
    assert "after 1 already there; 3 in all" in second.stdout
    features, _ = read_gpkg(out)
    assert [a["id"] for a, _ in features] == [1, 2, 3]
    assert features[0][1].ExportToWkt() == first_wkt            # the earlier feature is untouched
    assert features[0][0]["created_utc"] == attrs["created_utc"]
    by_pixel, by_xy = features[1], features[2]
    for new_attrs, new_geometry in (by_pixel, by_xy):
        assert (new_attrs["n_pos"], new_attrs["n_neg"]) == (1, 0) and new_attrs["model"] == MODEL
        assert new_geometry.Distance(ogr.CreateGeometryFromWkt(f"POINT ({lobe_x} {lobe_y})")) < 50.0
    # a row/col click is the centre of that pixel: the same click as its x/y, so the same polygon
    assert by_pixel[1].ExportToWkt() == by_xy[1].ExportToWkt()
    assert elapsed < 240


# -- errors: one line on stderr, exit code 2 --------------------------------------------------------------
@pytest.fixture(scope="module")
def good_clicks(scene):
    folder, info = scene
    return write_clicks(folder / "good.json", [xy_click(info["lobe_xy"])])


def test_missing_raster(scene, good_clicks, checkpoint, tmp_path):
    result = run_cli("--raster", tmp_path / "nope.tif", "--clicks", good_clicks, "--out", tmp_path / "a.gpkg",
                     "--checkpoint", checkpoint)
    assert_one_error_line(result, "nope.tif", "does not exist")


def test_missing_clicks(scene, checkpoint, tmp_path):
    _, info = scene
    result = run_cli("--raster", info["path"], "--clicks", tmp_path / "nope.json", "--out", tmp_path / "a.gpkg",
                     "--checkpoint", checkpoint)
    assert_one_error_line(result, "nope.json", "does not exist")


def test_missing_checkpoint(scene, good_clicks, tmp_path):
    _, info = scene
    result = run_cli("--raster", info["path"], "--clicks", good_clicks, "--out", tmp_path / "a.gpkg",
                     "--checkpoint", tmp_path / "nope.pth")
    assert_one_error_line(result, "nope.pth", "does not exist", "--checkpoint")
    assert not (tmp_path / "a.gpkg").exists()


def test_corrupt_checkpoint_leaves_no_empty_geopackage(scene, good_clicks, tmp_path):
    """The model is loaded (and every object segmented) before the GeoPackage is created: no file is left."""
    _, info = scene
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"PK\x03\x04 not really a checkpoint")
    out = tmp_path / "a.gpkg"
    result = run_cli("--raster", info["path"], "--clicks", good_clicks, "--out", out, "--checkpoint", broken)
    assert_one_error_line(result, "broken.pth")
    assert not out.exists()


def test_missing_required_option(scene):
    _, info = scene
    assert_one_error_line(run_cli("--raster", info["path"]), "--clicks", "--out", "--help")


@pytest.mark.parametrize("text, fragments", [
    ('[{"x": 1, "y": 2', ("not valid JSON", "line 1")),
    ('{"x": 1, "y": 2}', ("non-empty JSON list",)),
    ('[]', ("non-empty JSON list",)),
    ('[[{"row": 1, "col": 2}], []]', ("Object 2 has no clicks",)),
    ('[{"row": 1, "col": 2, "positive": false}]', ("Object 1 has no positive click",)),
    ('[{"row": 1, "colum": 2}]', ("Click 1 of object 1", "unknown: colum")),
    ('[{"row": 1.5, "col": 2}]', ("whole numbers",)),
    ('[{"x": 2600010, "y": 1199990, "positive": "yes"}]', ('"positive": "yes"',)),
    ('[{"row": 5, "col": 5}, [{"row": 5, "col": 5}]]', ("mixes clicks and objects",)),
    ('[[{"row": 5, "col": 5}], 7]', ("Item 2 of the clicks file is 7",)),
    ('[{}]', ("Click 1 of object 1 is empty",)),
])
def test_bad_clicks_file(scene, checkpoint, tmp_path, text, fragments):
    _, info = scene
    clicks = tmp_path / "bad.json"
    clicks.write_text(text, encoding="utf-8")
    result = run_cli("--raster", info["path"], "--clicks", clicks, "--out", tmp_path / "a.gpkg",
                     "--checkpoint", checkpoint)
    assert_one_error_line(result, *fragments)


def test_clicks_outside_the_raster(scene, checkpoint, tmp_path):
    _, info = scene
    outside = write_clicks(tmp_path / "xy.json", [[xy_click(info["lobe_xy"])], [xy_click((2_600_500.0, 1_199_900.0))]])
    line = assert_one_error_line(run_cli("--raster", info["path"], "--clicks", outside, "--out", tmp_path / "a.gpkg",
                                         "--checkpoint", checkpoint),
                                 "Click 1 of object 2", "outside the raster 'ortho'")
    assert "2600000.00 to 2600400.00" in line            # the raster's extent, to compare with
    pixel = write_clicks(tmp_path / "rc.json", [{"row": 5, "col": 5}, {"row": 240, "col": 5}])
    assert_one_error_line(run_cli("--raster", info["path"], "--clicks", pixel, "--out", tmp_path / "a.gpkg",
                                  "--checkpoint", checkpoint),
                          "Click 2 of object 1", "row 240", "rows 0-239 and columns 0-319")


def test_rotated_raster(checkpoint, tmp_path):
    info = make_lobe_geotiff(tmp_path / "rotated.tif", size=(60, 80), rotation=0.1)
    clicks = write_clicks(tmp_path / "c.json", [{"row": 30, "col": 40}])
    result = run_cli("--raster", info["path"], "--clicks", clicks, "--out", tmp_path / "a.gpkg",
                     "--checkpoint", checkpoint)
    assert_one_error_line(result, "rotated.tif", "rotated")


def test_unwritable_output(scene, good_clicks, checkpoint, tmp_path):
    _, info = scene
    common = ("--raster", info["path"], "--clicks", good_clicks, "--checkpoint", checkpoint)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("field notes", encoding="utf-8")
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "missing" / "a.gpkg"), "does not exist")
    assert_one_error_line(run_cli(*common, "--out", a_file / "a.gpkg"), "does not exist")
    fake = tmp_path / "notes.gpkg"
    fake.write_text("not a database", encoding="utf-8")
    assert_one_error_line(run_cli(*common, "--out", fake), "is not a GeoPackage")
    assert fake.read_text(encoding="utf-8") == "not a database"      # never overwritten
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "a.shp"), "ending in .gpkg")
    (tmp_path / "folder.gpkg").mkdir()
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "folder.gpkg"), "is a folder")


def test_bad_options(scene, good_clicks, checkpoint, tmp_path):
    _, info = scene
    common = ("--raster", info["path"], "--clicks", good_clicks, "--out", tmp_path / "a.gpkg",
              "--checkpoint", checkpoint)
    assert_one_error_line(run_cli(*common, "--threshold", "1.5"), "--threshold")
    assert_one_error_line(run_cli(*common, "--max-side", "10"), "--max-side")
    assert_one_error_line(run_cli(*common, "--device", "tpu"), "--device")


def test_missing_default_model(scene, good_clicks, tmp_path, monkeypatch, capsys):
    """No --checkpoint and no default model installed: says so and how to pass --checkpoint."""
    import core_model.default_model as default_model
    from avalanche_iseg_plugin.cli import segment

    _, info = scene
    monkeypatch.setattr(default_model, "DEFAULT_CHECKPOINT", tmp_path / "weights" / "avalanche_iseg_default.pth")
    code = segment.main(["--raster", info["path"], "--clicks", str(good_clicks), "--out", str(tmp_path / "a.gpkg")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert "default model" in err and "not installed" in err and "--checkpoint" in err
    assert not (tmp_path / "a.gpkg").exists()


def test_help_documents_the_clicks_format():
    result = run_cli("--help")
    assert result.returncode == 0
    for fragment in ('"x"', '"row"', '"positive"', "--checkpoint", "--max-side", "--layer-name", "--min-area",
                     "--simplify", "--threshold", "--device", "Exit codes"):
        assert fragment in result.stdout


def test_click_file_formats(scene, tmp_path):
    """One object or a list of objects, x/y or row/col, "positive" defaulting to true, a Windows BOM."""
    from avalanche_iseg_plugin.engine.click_file import read_click_file
    from avalanche_iseg_plugin.engine.raster_window import RasterSource

    _, info = scene
    source = RasterSource.open(info["path"])
    x, y = info["lobe_xy"]
    row, col = info["lobe_pixel"]
    one = tmp_path / "one.json"
    one.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"x": x, "y": y}, {"row": row, "col": col, "positive": 0}]).encode())
    (clicks,) = read_click_file(one, source)
    assert [(c.x, c.y, c.is_positive) for c in clicks] == [(x, y, True), (x, y, False)]
    many = write_clicks(tmp_path / "many.json", [[{"row": 0, "col": 0}], [{"x": x, "y": y, "positive": True}]])
    objects = read_click_file(many, source)
    assert len(objects) == 2
    gt = info["geotransform"]
    assert (objects[0][0].x, objects[0][0].y) == (gt[0] + 0.5 * gt[1], gt[3] + 0.5 * gt[5])


# -- in-process flows with the deterministic FakePredictor -------------------------------------------------
@pytest.fixture
def fake_model(monkeypatch, tmp_path, qgis_app):
    from avalanche_iseg_plugin.cli import segment
    from gis_fixtures import FakePredictor

    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    monkeypatch.setattr(segment, "make_predictor", lambda path, device, threshold: FakePredictor(threshold=threshold))
    return segment, checkpoint


def test_negative_click_emptying_the_mask_and_keep_going(scene, fake_model, tmp_path, capsys):
    segment, checkpoint = fake_model
    _, info = scene
    out = tmp_path / "fake.gpkg"
    outside = info["outside_xy"]
    clicks = write_clicks(tmp_path / "c.json", [[xy_click(info["lobe_xy"])],
                                               [xy_click(outside), xy_click(outside, False)]])
    args = ["--raster", info["path"], "--clicks", str(clicks), "--out", str(out), "--checkpoint", str(checkpoint)]
    assert segment.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: Click 2 of object 2") and "negative click removed the whole mask" in err
    assert "nothing was written" in err and not out.exists()

    assert segment.main(args + ["--keep-going"]) == 3
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("warning: skipped: Click 2 of object 2")
    assert "Skipped objects: 2." in captured.out
    features, epsg = read_gpkg(out)
    assert epsg == "2056" and len(features) == 1
    attrs, geometry = features[0]
    # the stand-in predictor returns the lobe exactly (its rock is a hole)
    assert attrs["area_m2"] == pytest.approx(info["area"], rel=1e-6)
    assert geometry.GetGeometryRef(0).GetGeometryCount() == 2
    assert attrs["model"] == "fake" and attrs["method"] == "interactive"


def test_empty_mask_names_the_click_and_writes_nothing(scene, fake_model, tmp_path, capsys):
    segment, checkpoint = fake_model
    _, info = scene
    out = tmp_path / "empty.gpkg"
    clicks = write_clicks(tmp_path / "c.json", [xy_click(info["lobe_xy"]), xy_click(info["hole_xy"])])
    # the stand-in's probabilities are 0.9 / 0.1: with a threshold of 0.95 every mask is empty
    assert segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(out),
                         "--checkpoint", str(checkpoint), "--threshold", "0.95"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: Click 1 of object 1 ") and "gave an empty mask" in err
    assert "the clicks after it did not bring it back" in err and "--threshold (now 0.95)" in err
    assert "nothing was written" in err
    assert not out.exists()                                   # segmenting failed before any file was created


def test_photo_in_pixel_units(fake_model, tmp_path, capsys):
    segment, checkpoint = fake_model
    info = make_photo_png(tmp_path / "webcam.png", size=(240, 320))
    row, col = info["lobe_pixel"]
    x, y = info["lobe_xy"]
    assert (x, y) == (col + 0.5, -(row + 0.5))               # QGIS's pixel map units for a photo
    clicks = write_clicks(tmp_path / "c.json", [[xy_click((x, y))], [{"row": row, "col": col}]])
    out = tmp_path / "photo.gpkg"
    assert segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(out),
                         "--checkpoint", str(checkpoint), "--layer-name", "webcam_avalanches"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "pixel²" in captured.out and "no georeference" in captured.out
    features, epsg = read_gpkg(out, "webcam_avalanches")
    assert epsg is None and len(features) == 2
    for attrs, geometry in features:
        assert attrs["area_m2"] == pytest.approx(info["area"], rel=1e-6) and attrs["source"] == "webcam"
    # a georeferenced raster cannot go into this pixel-unit layer
    ortho = make_lobe_geotiff(tmp_path / "ortho.tif", size=(120, 160))
    assert segment.main(["--raster", ortho["path"], "--clicks", str(write_clicks(tmp_path / "o.json", [{"row": 5, "col": 5}])),
                         "--out", str(out), "--checkpoint", str(checkpoint), "--layer-name", "webcam_avalanches"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no CRS" in err


def test_make_sample_then_segment_with_fake_model(fake_model, tmp_path, capsys):
    segment, checkpoint = fake_model
    sample = tmp_path / "ava"
    started = time.monotonic()
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample.py"), str(sample)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert time.monotonic() - started < 10
    objects = json.loads((sample / "clicks.json").read_text(encoding="utf-8"))
    assert len(objects) == 2 and "x" in objects[0][0] and "row" in objects[1][0]
    out = sample / "avalanches.gpkg"
    assert segment.main(["--raster", str(sample / "ortho.tif"), "--clicks", str(sample / "clicks.json"),
                         "--out", str(out), "--checkpoint", str(checkpoint)]) == 0
    assert capsys.readouterr().err == ""
    features, epsg = read_gpkg(out)
    assert epsg == "2056" and [a["id"] for a, _ in features] == [1, 2]
    # the stand-in segments the bright debris: the sample's two avalanches, the big one first
    assert features[0][0]["area_m2"] > 10_000 and 1_000 < features[1][0]["area_m2"] < 5_000


def test_nothing_segmented_creates_no_geopackage(scene, fake_model, tmp_path, capsys, monkeypatch):
    """Every object fails (--keep-going): exit 2, and the GeoPackage was never even created, since the
    layer is created or opened only after segmenting."""
    from avalanche_iseg_plugin.layers import avalanche_layer

    segment, checkpoint = fake_model
    _, info = scene
    opened = []
    monkeypatch.setattr(avalanche_layer, "create_avalanche_layer", lambda *a, **k: opened.append(a) or 1 / 0)
    out = tmp_path / "none.gpkg"
    outside = info["outside_xy"]
    clicks = write_clicks(tmp_path / "c.json", [[xy_click(outside), xy_click(outside, False)],
                                               [xy_click(info["lobe_xy"]), xy_click(info["lobe_xy"], False)]])
    assert segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(out), "--checkpoint",
                         str(checkpoint), "--keep-going", "--min-area", "1e9"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[0].startswith("warning: skipped: Click 2 of object 1 ")
    assert err[1].startswith("warning: skipped: Object 2: Nothing is left of the mask")
    assert err[2] == "error: No object could be segmented (2 skipped); nothing was written."
    assert opened == [] and not out.exists() and list(tmp_path.glob("none.gpkg*")) == []
