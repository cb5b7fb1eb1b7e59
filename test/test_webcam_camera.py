"""The webcam camera, DEM, GCP CSV, camera file and GeoPackage writer on synthetic data (no ../shared)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from osgeo import ogr, osr

from avalanche_iseg_plugin.engine.errors import AvalancheError, CameraError
from avalanche_iseg_plugin.engine.webcam.camera import Camera, angles_of, rotation_matrix
from avalanche_iseg_plugin.engine.webcam.camera_file import (camera_from_dict, check_image_size, load_camera_file,
                                                            save_camera_file, CameraRecord)
from avalanche_iseg_plugin.engine.webcam.dem import Dem
from avalanche_iseg_plugin.engine.webcam.gcp_file import read_gcp_file
from avalanche_iseg_plugin.engine.webcam.projected_layer import WebcamFeature, write_webcam_features
from avalanche_iseg_plugin.engine.webcam.terrain_projection import ProjectedObject


def _camera(**kw) -> Camera:
    args = dict(position=(1000.0, 2000.0, 500.0), heading_deg=0.0, pitch_deg=0.0, roll_deg=0.0, focal_px=800.0,
                principal_point=(320.0, 240.0), image_size=(640, 480))
    args.update(kw)
    return Camera(**args)


def test_conventions_heading_pitch_roll_and_pixel_origin():
    cam = _camera()
    ahead = np.array([[1000.0, 3000.0, 500.0]])  # 1 km north, level: on the optical axis
    col, row, depth = cam.project(ahead)
    assert (col[0], row[0], depth[0]) == pytest.approx((320.0, 240.0, 1000.0))
    east, up = cam.project([[1100.0, 3000.0, 500.0]]), cam.project([[1000.0, 3000.0, 600.0]])
    assert east[0][0] == pytest.approx(320.0 + 80.0) and east[1][0] == pytest.approx(240.0)  # right of centre
    assert up[1][0] == pytest.approx(240.0 - 80.0)  # higher = smaller row (row down)
    east_cam = _camera(heading_deg=90.0)
    assert east_cam.project([[2000.0, 2000.0, 500.0]])[0][0] == pytest.approx(320.0)
    down = _camera(pitch_deg=-10.0)  # the point straight ahead on the level is now above the centre
    assert down.project(ahead)[1][0] == pytest.approx(240.0 - 800.0 * math.tan(math.radians(10.0)))
    rolled = _camera(roll_deg=10.0)  # clockwise from behind: a point to the right moves up in the photo
    assert rolled.project([[1100.0, 3000.0, 500.0]])[1][0] < 240.0
    behind = cam.project([[1000.0, 1000.0, 500.0]])
    assert behind[2][0] < 0 and np.isnan(behind[0][0])


@pytest.mark.parametrize("angles", [(10.0, -5.0, 3.0), (200.0, -30.0, -7.0), (359.5, 20.0, 0.0), (90.0, 0.0, 45.0)])
def test_angles_round_trip(angles):
    h, p, r = angles_of(rotation_matrix(*angles))
    assert (h, p, r) == pytest.approx(angles, abs=1e-9)
    rot = rotation_matrix(*angles)
    assert rot @ rot.T == pytest.approx(np.eye(3), abs=1e-12) and np.linalg.det(rot) == pytest.approx(1.0)


@pytest.mark.parametrize("k1,k2", [(0.0, 0.0), (-0.12, 0.02), (0.08, -0.01)])
def test_ray_and_project_are_inverse(k1, k2):
    cam = _camera(heading_deg=35.0, pitch_deg=-12.0, roll_deg=2.0, k1=k1, k2=k2, principal_point=(330.0, 235.0))
    cols, rows = np.meshgrid(np.linspace(0, 640, 9), np.linspace(0, 480, 7))
    origin, dirs = cam.ray(cols.ravel(), rows.ravel())
    points = origin + 750.0 * dirs
    col, row, depth = cam.project(points)
    assert col == pytest.approx(cols.ravel(), abs=1e-6) and row == pytest.approx(rows.ravel(), abs=1e-6)
    assert np.all(depth > 0)


def test_distorted_points_far_outside_the_photo_do_not_fold_back_into_it():
    cam = _camera(k1=-0.3)
    col, row, _ = cam.project([[1000.0 + 3000.0, 3000.0, 500.0]])  # 72° off the axis
    assert np.isnan(col[0]) and np.isnan(row[0])


def _slope_dem(shape=(60, 80), cell=10.0) -> Dem:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    z = 100.0 + 2.0 * cols + 0.5 * rows  # rises to the east
    return Dem(z, (5000.0, cell, 0.0, 8000.0, 0.0, -cell), "", "slope")


def test_dem_bilinear_sampling_extent_and_nodata():
    dem = _slope_dem()
    assert dem.extent == (5000.0, 7400.0, 5800.0, 8000.0)
    x, y = dem.cell_centres()
    assert dem.sample(x, y) == pytest.approx(dem.z)
    assert dem.sample(5000.0 + 10 * 10.5 + 3.0, 8000.0 - 10 * 20.5)[()] == pytest.approx(100 + 2 * 10.3 + 0.5 * 20)
    assert np.isnan(dem.sample(4999.0, 7900.0)) and np.isnan(dem.sample(5100.0, 8000.5))
    dem.z[10, 10] = np.nan
    assert np.isnan(dem.sample(x[10, 10] + 2.0, y[10, 10]))


def test_dem_ray_intersection_on_a_plane():
    dem = _slope_dem()
    origin = np.array([5100.0, 7700.0, 600.0])
    target = np.array([5400.0, 7700.0, float(dem.sample(5400.0, 7700.0))])
    d = (target - origin) / np.linalg.norm(target - origin)
    hit = dem.intersect_rays(origin, d[None])[0]
    assert hit == pytest.approx(target, abs=0.01)
    assert np.all(np.isnan(dem.intersect_rays(origin, np.array([[0.0, 0.0, 1.0]]))))


def test_dem_open_refusals(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        Dem.open(tmp_path / "none.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(CameraError, match="cannot read the DEM"):
        Dem.open(bad)


def test_esri_ascii_dem_without_crs(tmp_path):
    path = tmp_path / "dem.asc"
    path.write_text("ncols 3\nnrows 2\nxllcorner 100\nyllcorner 200\ncellsize 5\nNODATA_value -9999\n"
                    "1 2 3\n4 -9999 6\n")
    dem = Dem.open(path)
    assert dem.crs_wkt == "" and dem.extent == (100.0, 200.0, 115.0, 210.0)
    assert dem.z[0].tolist() == [1.0, 2.0, 3.0] and np.isnan(dem.z[1, 1])


# -- GCP CSV --------------------------------------------------------------------------------------------
def test_gcp_csv_with_empty_heights_semicolons_and_a_bom(tmp_path):
    path = tmp_path / "gcps.csv"
    path.write_text("\ufeffname;col;row;x;y;z\na;10.5;20;5100;7700;\nb;30;40.25;5200;7600;333.5\n", encoding="utf-8")
    gcps = read_gcp_file(path)
    assert gcps.pixels.tolist() == [[10.5, 20.0], [30.0, 40.25]]
    assert np.isnan(gcps.world[0, 2]) and gcps.world[1, 2] == 333.5
    assert gcps.z_from_dem.tolist() == [True, False]
    filled = gcps.with_dem_heights(_slope_dem())
    assert filled.world[0, 2] == pytest.approx(float(_slope_dem().sample(5100, 7700))) and filled.world[1, 2] == 333.5


@pytest.mark.parametrize("text,match", [
    ("", "is empty"),
    ("col,row,x,y\n1,2,3,4\n", "lacks the column"),
    ("c,r,x,y,z\n1,2,3,4,5\n", "lacks the column"),
    ("col,row,x,y,z\n", "no GCP"),
    ("col,row,x,y,z\n1,two,3,4,5\n", "'two' in column 'row'"),
    ("col,row,x,y,z\n1,2,,4,5\n", "no value in column 'x'"),
    ("col,row,x,y,z\n1,2,3,4,5,6\n", "more values"),
    ("col,row,x,y,z\n1,2,3,inf,5\n", "finite"),
])
def test_gcp_csv_refusals(tmp_path, text, match):
    path = tmp_path / "gcps.csv"
    path.write_text(text)
    with pytest.raises(CameraError, match=match) as info:
        read_gcp_file(path)
    assert "\n" not in str(info.value) and isinstance(info.value, AvalancheError)


def test_gcp_csv_missing_file(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        read_gcp_file(tmp_path / "none.csv")


# -- camera file ------------------------------------------------------------------------------------------
def test_camera_file_round_trip(tmp_path):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    cam = _camera(heading_deg=123.4, pitch_deg=-8.5, roll_deg=0.7, k1=-0.05, k2=0.01)
    path = save_camera_file(tmp_path / "cam.json", CameraRecord(cam, srs.ExportToWkt(), 0.8, [0.5, 1.1],
                                                                {"photo": "frame.jpg"}))
    data = json.loads(path.read_text())
    for key in ("position", "heading_deg", "pitch_deg", "roll_deg", "focal_px", "principal_point", "image_size",
                "rmse_px", "residuals_px", "crs", "k1", "k2"):
        assert key in data
    record = load_camera_file(path)
    assert record.camera == cam and record.rmse_px == 0.8 and record.extra["photo"] == "frame.jpg"
    assert "UTM zone 32N" in record.crs_wkt


@pytest.mark.parametrize("change,match", [
    ({"position": [1, 2]}, "\"position\" as a list of 3 numbers"),
    ({"focal_px": -5}, "must be positive"),
    ({"focal_px": "big"}, "\"focal_px\" as a number"),
    ({"image_size": [640.5, 480]}, "whole pixels"),
    ({"pitch_deg": 95}, "between -90 and 90"),
    ({"crs": 4326}, "WKT"),
    ({"format": "something-else"}, "not a camera file"),
])
def test_camera_file_refusals(change, match):
    data = {"position": [1.0, 2.0, 3.0], "heading_deg": 10, "pitch_deg": -5, "roll_deg": 0, "focal_px": 800,
            "principal_point": [320, 240], "image_size": [640, 480], "crs": ""}
    camera_from_dict(data)  # the unchanged one is fine
    data.update(change)
    with pytest.raises(CameraError, match=match):
        camera_from_dict(data, "cam.json")


def test_camera_file_not_json(tmp_path):
    path = tmp_path / "cam.json"
    path.write_text("{nope")
    with pytest.raises(CameraError, match="not valid JSON"):
        load_camera_file(path)


def test_another_image_size_is_refused():
    cam = _camera()
    check_image_size(cam, (640, 480), "The photo")
    with pytest.raises(CameraError, match="is 800×600 px but the camera was fitted on 640×480 px"):
        check_image_size(cam, (800, 600), "The photo")


# -- GeoPackage ---------------------------------------------------------------------------------------------
def test_webcam_features_are_written_and_appended(tmp_path):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(31287)
    wkt = srs.ExportToWkt()
    square = "POLYGON ((0 0,10 0,10 10,0 10,0 0))"
    far = "POLYGON ((20 0,25 0,25 5,20 5,20 0))"
    obj = ProjectedObject([square, far], n_mask_px=100, n_sky_px=10, n_cells=5, mean_distance=1234.5,
                          z_min=1500.0, z_max=1600.0)
    path = tmp_path / "out.gpkg"
    assert write_webcam_features(path, [WebcamFeature(obj, "frame.jpg", "cam.json")], wkt) == [1]
    assert write_webcam_features(path, [WebcamFeature(obj, "frame2.jpg", "cam.json", 2, 1, "m", 0.49)], wkt) == [2]
    ds = ogr.Open(str(path))
    layer = ds.GetLayerByName("avalanches")
    features = list(layer)
    assert [f["id"] for f in features] == [1, 2] and features[1]["photo"] == "frame2.jpg"
    f = features[0]
    assert f["area_m2"] == pytest.approx(125.0) and f["visible_fraction"] == pytest.approx(0.9)
    assert (f["mean_distance_m"], f["z_min"], f["z_max"], f["n_sky_px"]) == (1234.5, 1500.0, 1600.0, 10)
    assert f["method"] == "webcam" and f["n_pos"] is None and features[1]["n_pos"] == 2
    assert ogr.GT_Flatten(f.GetGeometryRef().GetGeometryType()) == ogr.wkbMultiPolygon
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "31287"
    other = osr.SpatialReference()
    other.ImportFromEPSG(32632)
    with pytest.raises(AvalancheError, match="another CRS"):
        write_webcam_features(path, [WebcamFeature(obj, "x", "c")], other.ExportToWkt())


def test_mask_images_grey_colour_and_alpha(tmp_path):
    from osgeo import gdal

    from avalanche_iseg_plugin.engine.webcam.photo_masks import polygons_to_photo_mask, read_mask

    def png(name, bands, alpha=False):
        mem = gdal.GetDriverByName("MEM").Create("", 8, 6, len(bands), gdal.GDT_Byte)
        for k, b in enumerate(bands, 1):
            mem.GetRasterBand(k).WriteArray(b)
        if alpha:
            mem.GetRasterBand(len(bands)).SetColorInterpretation(gdal.GCI_AlphaBand)
        gdal.GetDriverByName("PNG").CreateCopy(str(tmp_path / name), mem)
        return tmp_path / name

    zero, blob = np.zeros((6, 8), np.uint8), np.zeros((6, 8), np.uint8)
    blob[1:3, 2:5] = 255
    assert read_mask(png("grey.png", [blob])).sum() == 6
    assert read_mask(png("blue.png", [zero, zero, blob])).sum() == 6  # drawn in blue on black
    opaque_half = np.zeros((6, 8), np.uint8)
    opaque_half[:, :3] = 255
    assert read_mask(png("rgba.png", [blob, blob, blob, opaque_half], alpha=True)).sum() == 2
    with pytest.raises(CameraError, match="does not exist"):
        read_mask(tmp_path / "none.png")
    # photo-space polygons (x = col, y = -row) back onto the pixel grid, pixel-centre rule
    mask = polygons_to_photo_mask(["POLYGON ((2 -1,5 -1,5 -3,2 -3,2 -1))"], (8, 6))
    assert mask.sum() == 6 and mask[1:3, 2:5].all()
