"""`python -m avalanche_iseg_plugin.webcam fit | project` on real terrain (Ryggfonn DEM, ESRI ASCII grid
without CRS): a synthetic camera photographs the two 2021 release polygons; fit from a GCP CSV, project
a mask and clicked objects back to the map; every refusal is exit code 2 with one line on stderr."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from osgeo import ogr

from conftest import REPO
from gis_fixtures import FakePredictor
from test_webcam_scenes import (RYGGFONN_DEM, RYGGFONN_RELEASE, camera_on, grid_iou, open_dem, read_polygons,
                                render_polygon_mask, shared_path, synthetic_gcps, write_png)

from avalanche_iseg_plugin.cli import webcam

SIZE = (640, 480)


def run_cli(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([sys.executable, "-m", "avalanche_iseg_plugin.webcam", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def write_gcps(path, pixels, xy, z=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["col", "row", "x", "y", "z"])
        for i, ((c, r), (x, y)) in enumerate(zip(pixels, xy)):
            w.writerow([f"{c:.2f}", f"{r:.2f}", f"{x:.3f}", f"{y:.3f}", "" if z is None else f"{z[i]:.2f}"])
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webcam_cli")
    dem_path = shared_path(*RYGGFONN_DEM)
    dem = open_dem(RYGGFONN_DEM)
    polygons = read_polygons(RYGGFONN_RELEASE)
    c = polygons[0].Centroid()
    camera = camera_on(dem, 100, 140, (c.GetX(), c.GetY()), 1000.0, SIZE)
    masks = [render_polygon_mask(camera, dem, p) for p in polygons]
    photo = np.full((SIZE[1], SIZE[0], 3), 70, dtype=np.uint8)  # bright release areas on darker snow
    for m in masks:
        photo[m] = 210
    write_png(folder / "frame.png", photo)
    write_png(folder / "mask.png", masks[0].astype(np.uint8) * 255)
    pixels, xy = synthetic_gcps(camera, dem, 10, 0.7, np.random.default_rng(4))
    write_gcps(folder / "gcps.csv", pixels, xy)
    result = run_cli("fit", "--photo", folder / "frame.png", "--dem", dem_path, "--gcps", folder / "gcps.csv",
                     "--out", folder / "camera.json")
    assert result.returncode == 0, result.stderr
    return dict(folder=folder, dem=dem_path, camera=camera, masks=masks, polygons=polygons, pixels=pixels, xy=xy,
                fit_stdout=result.stdout)


def assert_one_error_line(code, err, *fragments):
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def read_features(path):
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName("avalanches")
    return [(f.items(), f.GetGeometryRef().Clone()) for f in layer]


def test_fit_prints_residuals_rmse_and_leave_one_out_errors(scene):
    out = scene["fit_stdout"]
    assert "10 GCPs on photo frame.png (640×480 px) and DEM dem_5m." in out
    assert out.count(" px  ") >= 10 and "RMSE " in out and "leave-one-out ground error median" in out
    data = json.loads((scene["folder"] / "camera.json").read_text())
    for key in ("position", "heading_deg", "pitch_deg", "roll_deg", "focal_px", "principal_point", "image_size",
                "rmse_px", "residuals_px", "crs", "k1", "k2", "gcps", "loo_ground_error"):
        assert key in data, key
    assert data["image_size"] == [640, 480] and data["crs"] == "" and data["photo"] == "frame.png"
    assert len(data["residuals_px"]) == 10 and data["rmse_px"] < 2.0
    true = scene["camera"]
    assert np.linalg.norm(np.subtract(data["position"], true.position)) < 60.0
    assert abs(data["focal_px"] / true.focal_px - 1.0) < 0.05


def test_project_a_mask_onto_the_terrain(scene):
    folder = scene["folder"]
    out = folder / "from_mask.gpkg"
    result = run_cli("project", "--camera", folder / "camera.json", "--dem", scene["dem"], "--mask",
                     folder / "mask.png", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "object 1 -> id 1:" in result.stdout and "0 hit no terrain" in result.stdout
    features = read_features(out)
    assert len(features) == 1
    attrs, geom = features[0]
    assert ogr.GT_Flatten(geom.GetGeometryType()) == ogr.wkbMultiPolygon
    assert grid_iou(geom, scene["polygons"][0]) >= 0.85  # through the fitted camera, not the true one
    assert attrs["method"] == "webcam" and attrs["photo"] == "mask.png" and attrs["camera_file"] == "camera.json"
    assert attrs["visible_fraction"] == 1.0 and attrs["n_sky_px"] == 0 and 2300 < attrs["mean_distance_m"] < 2550
    assert 1400 < attrs["z_min"] < attrs["z_max"] < 1650


def test_project_clicked_objects(scene, monkeypatch, capsys, tmp_path):
    from avalanche_iseg_plugin.engine import predictor_loader

    monkeypatch.setattr(predictor_loader, "make_predictor", lambda checkpoint, device, threshold: FakePredictor())
    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    clicks = []
    for m in scene["masks"]:
        rows, cols = np.nonzero(m)
        k = len(rows) // 2
        clicks.append([{"row": int(rows[k]), "col": int(cols[k])}])
    (tmp_path / "clicks.json").write_text(json.dumps(clicks))
    out = tmp_path / "clicked.gpkg"
    code = webcam.main(["project", "--camera", str(scene["folder"] / "camera.json"), "--dem", str(scene["dem"]),
                        "--clicks", str(tmp_path / "clicks.json"), "--checkpoint", str(checkpoint), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    features = read_features(out)
    assert [a["id"] for a, _ in features] == [1, 2]
    for (attrs, geom), polygon in zip(features, scene["polygons"]):
        assert grid_iou(geom, polygon) >= 0.7  # the smaller one is only ~550 px in the photo
        assert attrs["n_pos"] == 1 and attrs["n_neg"] == 0 and attrs["model"] == "fake"
        assert attrs["photo"] == "frame.png"  # found through the camera file


def test_project_clicks_with_a_preset(scene, monkeypatch, capsys, tmp_path):
    """--preset and the single settings reach the predictor factory; the preset's threshold is the objects'."""
    from avalanche_iseg_plugin.engine import predictor_loader

    made = []
    monkeypatch.setattr(predictor_loader, "make_predictor",
                        lambda checkpoint, device, threshold, **kw: made.append((threshold, kw)) or FakePredictor(
                            threshold=threshold))
    rows, cols = np.nonzero(scene["masks"][0])
    (tmp_path / "clicks.json").write_text(json.dumps([{"row": int(rows[len(rows) // 2]),
                                                       "col": int(cols[len(rows) // 2])}]))
    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    out = tmp_path / "preset.gpkg"
    code = webcam.main(["project", "--camera", str(scene["folder"] / "camera.json"), "--dem", str(scene["dem"]),
                        "--clicks", str(tmp_path / "clicks.json"), "--checkpoint", str(checkpoint), "--out", str(out),
                        "--preset", "aval_slf", "--max-longest-side", "0"])
    assert code == 0, capsys.readouterr().err
    assert made == [(0.5, {"settings": {"zoom_in": False, "max_longest_side": 800},
                           "overrides": {"max_longest_side": None}})]
    assert len(read_features(out)) == 1
    assert webcam.main(["project", "--camera", str(scene["folder"] / "camera.json"), "--dem", str(scene["dem"]),
                        "--clicks", str(tmp_path / "clicks.json"), "--out", str(out), "--preset", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_project_with_the_real_default_model(scene, tmp_path):
    from core_model.default_model import DEFAULT_CHECKPOINT

    assert DEFAULT_CHECKPOINT.is_file()   # the default model ships in the repository
    rows, cols = np.nonzero(scene["masks"][0])
    (tmp_path / "clicks.json").write_text(json.dumps([{"row": int(rows[len(rows) // 2]), "col": int(cols[len(rows) // 2])}]))
    out = tmp_path / "real.gpkg"
    result = run_cli("project", "--camera", scene["folder"] / "camera.json", "--dem", scene["dem"],
                     "--clicks", tmp_path / "clicks.json", "--photo", scene["folder"] / "frame.png", "--out", out)
    assert result.returncode == 0, result.stderr
    (attrs, geom), = read_features(out)
    assert attrs["model"] == "avalanche_iseg_default"
    assert geom.Intersects(scene["polygons"][0])


# -- refusals -----------------------------------------------------------------------------------------------
def _fit(scene, tmp_path, capsys, gcps_text=None, pixels=None, xy=None, photo=None, extra=()):
    gcps = tmp_path / "g.csv"
    if gcps_text is not None:
        gcps.write_text(gcps_text)
    else:
        write_gcps(gcps, pixels, xy)
    code = webcam.main(["fit", "--photo", str(photo or scene["folder"] / "frame.png"), "--dem", str(scene["dem"]),
                        "--gcps", str(gcps), "--out", str(tmp_path / "c.json"), *extra])
    err = capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
    return code, err


def test_fit_refusals(scene, tmp_path, capsys):
    px, xy = scene["pixels"], scene["xy"]
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px[:5], xy=xy[:5]), "5 GCPs given", "at least 6")
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px[:3], xy=xy[:3], extra=("--focal-px", "1000")),
                          "3 GCPs given", "at least 4")
    t = np.linspace(0, 1, 7)[:, None]
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px[0] + t * (px[1] - px[0]), xy=xy[:7]),
                          "on one line in the photo")
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px[:7], xy=xy[0] + t * (xy[1] - xy[0])),
                          "on one line")
    far = xy.copy()
    far[2] = (0.0, 0.0)
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px, xy=far), "GCP 3", "outside the DEM")
    assert_one_error_line(*_fit(scene, tmp_path, capsys, gcps_text="col,row,x,y,z\n1,2,x,4,\n"),
                          "Line 2 of the GCP file has 'x' in column 'x'")
    assert_one_error_line(*_fit(scene, tmp_path, capsys, gcps_text="col,row,east,north\n1,2,3,4\n"),
                          "lacks the column(s) x, y, z")
    assert_one_error_line(*_fit(scene, tmp_path, capsys, pixels=px, xy=xy, photo=tmp_path / "none.jpg"),
                          "The photo", "does not exist")


def test_fit_refusal_as_a_subprocess_has_no_traceback(scene, tmp_path):
    write_gcps(tmp_path / "g.csv", scene["pixels"][:4], scene["xy"][:4])
    result = run_cli("fit", "--photo", scene["folder"] / "frame.png", "--dem", scene["dem"], "--gcps",
                     tmp_path / "g.csv", "--out", tmp_path / "c.json")
    assert_one_error_line(result.returncode, result.stderr, "4 GCPs given")


def _project(scene, tmp_path, capsys, camera=None, mask=None, out=None, extra=()):
    code = webcam.main(["project", "--camera", str(camera or scene["folder"] / "camera.json"), "--dem",
                        str(scene["dem"]), "--mask", str(mask or scene["folder"] / "mask.png"),
                        "--out", str(out or tmp_path / "o.gpkg"), *extra])
    return code, capsys.readouterr().err


def test_project_refusals(scene, tmp_path, capsys):
    small = tmp_path / "small.png"
    write_png(small, np.full((240, 320), 255, np.uint8))
    assert_one_error_line(*_project(scene, tmp_path, capsys, mask=small),
                          "The mask 'small.png' is 320×240 px but 'camera.json' was fitted on 640×480 px")
    empty = tmp_path / "empty.png"
    write_png(empty, np.zeros((480, 640), np.uint8))
    assert_one_error_line(*_project(scene, tmp_path, capsys, mask=empty), "is empty")
    data = json.loads((scene["folder"] / "camera.json").read_text())
    data["focal_px"] = "long"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert_one_error_line(*_project(scene, tmp_path, capsys, camera=bad), "\"focal_px\" as a number")
    assert_one_error_line(*_project(scene, tmp_path, capsys, camera=tmp_path / "none.json"), "does not exist")
    assert_one_error_line(*_project(scene, tmp_path, capsys, out=tmp_path / "o.shp"), "must be a GeoPackage")
    assert_one_error_line(*_project(scene, tmp_path, capsys, extra=("--resolution", "-1")), "--resolution must be")
    assert not (tmp_path / "o.gpkg").exists()


def test_clicks_on_a_photo_of_another_size_are_refused(scene, tmp_path, capsys):
    photo = tmp_path / "other.png"
    write_png(photo, np.zeros((240, 320, 3), np.uint8))
    (tmp_path / "clicks.json").write_text('[{"row": 10, "col": 10}]')
    code = webcam.main(["project", "--camera", str(scene["folder"] / "camera.json"), "--dem", str(scene["dem"]),
                        "--clicks", str(tmp_path / "clicks.json"), "--photo", str(photo), "--out", str(tmp_path / "o.gpkg")])
    assert_one_error_line(code, capsys.readouterr().err, "The photo 'other.png' is 320×240 px", "640×480")


def test_missing_mask_or_clicks_is_a_usage_error(scene, tmp_path):
    result = run_cli("project", "--camera", scene["folder"] / "camera.json", "--dem", scene["dem"], "--out",
                     tmp_path / "o.gpkg")
    assert_one_error_line(result.returncode, result.stderr, "one of the arguments --mask --clicks is required")


def test_fit_and_project_need_no_qgis(scene, tmp_path):
    folder = scene["folder"]
    code = ("import sys; sys.modules['qgis'] = None\n"  # any import of qgis now fails
            "from avalanche_iseg_plugin.cli import webcam\n"
            f"assert webcam.main(['fit', '--photo', {str(folder / 'frame.png')!r}, '--dem', {str(scene['dem'])!r}, "
            f"'--gcps', {str(folder / 'gcps.csv')!r}, '--out', {str(tmp_path / 'c.json')!r}]) == 0\n"
            f"sys.exit(webcam.main(['project', '--camera', {str(tmp_path / 'c.json')!r}, '--dem', {str(scene['dem'])!r}, "
            f"'--mask', {str(folder / 'mask.png')!r}, '--out', {str(tmp_path / 'o.gpkg')!r}]))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(read_features(tmp_path / "o.gpkg")) == 1
