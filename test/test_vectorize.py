"""mask_to_polygons: exact pixel-corner placement, holes, specks, simplification, validity."""

import numpy as np
import pytest
from shapely import wkt as shapely_wkt
from shapely.geometry import MultiPolygon

from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow
from avalanche_iseg_plugin.engine.vectorize import as_multipolygon_wkt, mask_to_polygons
from gis_fixtures import make_lobe_geotiff, make_photo_png

PHOTO_GT = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def test_exact_corners_and_hole():
    m = np.zeros((6, 6), bool)
    m[1:5, 1:5] = True
    m[2, 2] = False
    gt = (2600000.0, 0.5, 0.0, 1200000.0, 0.0, -0.5)
    polys = mask_to_polygons(m, gt)
    assert len(polys) == 1
    poly = shapely_wkt.loads(polys[0])
    assert poly.bounds == (2600000.5, 1199997.5, 2600002.5, 1199999.5)
    assert len(poly.interiors) == 1
    assert poly.interiors[0].bounds == (2600001.0, 1199998.5, 2600001.5, 1199999.0)
    assert poly.area == pytest.approx(15 * 0.25)


def test_parts_sorted_specks_and_small_holes_dropped():
    m = np.zeros((20, 20), bool)
    m[2:12, 2:12] = True
    m[5, 5] = False  # 1-pixel hole
    m[15:17, 15:17] = True  # 4-pixel speck
    polys = mask_to_polygons(m, PHOTO_GT)
    assert [round(shapely_wkt.loads(p).area) for p in polys] == [99, 4]
    kept = mask_to_polygons(m, PHOTO_GT, min_area=5.0)
    assert len(kept) == 1
    big = shapely_wkt.loads(kept[0])
    assert big.area == 100 and len(big.interiors) == 0  # the 1-px hole is a speck too
    assert mask_to_polygons(np.zeros((5, 5), bool), PHOTO_GT) == []


def test_diagonal_pixels_and_random_masks_give_valid_polygons_of_exact_area():
    rng = np.random.default_rng(3)
    for _ in range(5):
        m = rng.random((40, 50)) > 0.55
        polys = mask_to_polygons(m, PHOTO_GT)
        shapes = [shapely_wkt.loads(p) for p in polys]
        assert all(s.is_valid and s.geom_type == "Polygon" for s in shapes)
        assert sum(s.area for s in shapes) == pytest.approx(m.sum())
        multi = shapely_wkt.loads(as_multipolygon_wkt(polys))
        assert isinstance(multi, MultiPolygon) and multi.is_valid


def test_lobe_outline_is_exact_at_native_resolution(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=(120, 160))
    src = RasterSource.open(info["path"])
    win = RasterWindow(src, 0, 0, 120, 160)
    polys = mask_to_polygons(info["mask"], win)
    assert len(polys) == 1
    got = shapely_wkt.loads(polys[0])
    truth = shapely_wkt.loads(info["outline_wkt"])
    assert len(got.interiors) == 1
    assert got.symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    assert got.area == pytest.approx(info["area"])


def test_lobe_outline_within_one_pixel_when_downsampled(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=(240, 320))
    src = RasterSource.open(info["path"])
    win = RasterWindow(src, 20, 40, 200, 240, max_side=80)  # 2.5 native px per image px
    assert win.image_shape == (67, 80)
    mask = win.read_rgb().astype(float).mean(axis=2) >= 128
    polys = mask_to_polygons(mask, win, min_area=1.0)
    got = shapely_wkt.loads(polys[0])
    truth = shapely_wkt.loads(info["outline_wkt"])
    image_pixel = 0.5 * max(win.row_step, win.col_step)  # metres
    assert got.exterior.hausdorff_distance(truth.exterior) <= image_pixel + 1e-9
    assert abs(got.area - truth.area) / truth.area < 0.05


def test_simplify_tolerance(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=(120, 160))
    exact = shapely_wkt.loads(mask_to_polygons(info["mask"], info["geotransform"])[0])
    simple = shapely_wkt.loads(mask_to_polygons(info["mask"], info["geotransform"], simplify=1.0)[0])
    assert simple.is_valid
    assert len(simple.exterior.coords) < len(exact.exterior.coords) / 2
    assert simple.exterior.hausdorff_distance(exact.exterior) <= 1.0 + 1e-9


def test_photo_polygons_in_pixel_units(tmp_path):
    info = make_photo_png(tmp_path / "cam.png", size=(48, 64))
    win = RasterWindow(RasterSource.open(info["path"]), 0, 0, 48, 64)
    got = shapely_wkt.loads(mask_to_polygons(info["mask"], win)[0])
    rows, cols = np.nonzero(info["mask"])
    assert got.bounds == (cols.min(), -(rows.max() + 1), cols.max() + 1, -rows.min())
