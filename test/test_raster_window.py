"""RasterSource / RasterWindow: georeference, windows, 8-bit stretch, downsampling, bad rasters."""

import math

import numpy as np
import pytest
from osgeo import gdal

from avalanche_iseg_plugin.engine.errors import RasterError
from avalanche_iseg_plugin.engine.grid import PHOTO_GEOTRANSFORM
from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow
from gis_fixtures import make_lobe_geotiff, make_photo_png, xy_transformer

SIZE = (120, 160)  # small rasters keep the tests fast


@pytest.fixture
def tif8(tmp_path):
    return make_lobe_geotiff(tmp_path / "lobe8.tif", size=SIZE)


def test_open_georeferenced_geotiff(tif8):
    src = RasterSource.open(tif8["path"])
    assert src.name == "lobe8"
    assert (src.height, src.width) == SIZE
    assert src.is_georeferenced
    assert src.geotransform == (2600000.0, 0.5, 0.0, 1200000.0, 0.0, -0.5)
    assert 'ID["EPSG",2056]' in src.crs_wkt or 'AUTHORITY["EPSG","2056"]' in src.crs_wkt
    assert src.grid.extent == (2600000.0, 1200000.0 - 60.0, 2600000.0 + 80.0, 1200000.0)
    # corners and centres map both ways
    assert src.grid.xy_of(0, 0) == (2600000.0, 1200000.0)
    assert src.grid.xy_of(10, 20) == (2600010.0, 1199995.0)
    assert src.grid.pixel_of(2600010.25, 1199994.75) == (10.5, 20.5)
    assert src.grid.contains(2600000.0, 1200000.0)
    assert not src.grid.contains(2600080.0, 1199990.0)  # right edge is outside (half-open)
    assert not src.grid.contains(2599999.9, 1199990.0)


def test_window_reads_native_block_exactly(tif8):
    src = RasterSource.open(tif8["path"])
    win = RasterWindow(src, 10, 20, 50, 70)
    assert win.image_shape == (50, 70) and win.scale == 1.0
    rgb = win.read_rgb()
    assert rgb.dtype == np.uint8 and rgb.shape == (50, 70, 3)
    expected = np.stack([d[10:60, 20:90] for d in tif8["data"]], axis=-1)
    np.testing.assert_array_equal(rgb, expected)
    assert win.geotransform == (2600010.0, 0.5, 0.0, 1199995.0, 0.0, -0.5)
    assert win.image_to_xy(0, 0) == (2600010.0, 1199995.0)
    assert win.to_image(2600010.0 + 0.75, 1199995.0 - 0.25) == (0, 1)
    assert win.contains(2600010.0, 1199995.0) and not win.contains(2600009.9, 1199995.0)


def test_window_is_clipped_to_raster(tif8):
    src = RasterSource.open(tif8["path"])
    win = RasterWindow(src, -10, 150, 30, 30)
    assert win.native_box == (0, 150, 20, 10)
    with pytest.raises(RasterError, match="outside"):
        RasterWindow(src, 200, 0, 10, 10)


def test_around_and_from_box(tif8):
    src = RasterSource.open(tif8["path"])
    x, y = src.grid.xy_of(50.5, 60.5)
    win = RasterWindow.around(src, [(x, y)], margin_px=10)
    assert win.native_box == (40, 50, 21, 21)
    x2, y2 = src.grid.xy_of(70.5, 100.5)
    win2 = RasterWindow.around(src, [(x, y), (x2, y2)], margin_px=5)
    assert win2.native_box == (45, 55, 31, 51)
    # margin clipped at the raster border
    win3 = RasterWindow.around(src, [src.grid.xy_of(1.5, 1.5)], margin_px=10)
    assert win3.native_box == (0, 0, 12, 12)
    box = RasterWindow.from_box(src, *src.grid.xy_of(30, 40), *src.grid.xy_of(20.2, 10.7), margin_px=2)
    assert box.native_box == (18, 8, 14, 34)
    assert win.union(win2).native_box == (40, 50, 36, 56)
    with pytest.raises(RasterError, match="outside the raster"):
        RasterWindow.around(src, [(2599990.0, 1199990.0)], margin_px=10)
    with pytest.raises(RasterError, match="outside the raster"):
        RasterWindow.from_box(src, 2500000, 1100000, 2500010, 1100010)


def test_downsampling_keeps_exact_corners(tif8):
    src = RasterSource.open(tif8["path"])
    win = RasterWindow(src, 0, 0, 120, 160, max_side=40)
    assert win.image_shape == (30, 40) and win.scale == 4.0
    rgb = win.read_rgb()
    assert rgb.shape == (30, 40, 3)
    # corners of the image are the corners of the window
    assert win.image_to_xy(0, 0) == src.grid.xy_of(0, 0)
    assert win.image_to_xy(30, 40) == src.grid.xy_of(120, 160)
    assert win.geotransform[1] == 2.0 and win.geotransform[5] == -2.0
    # averaging: a downsampled pixel is the mean of its 4×4 native block (GDAL average resampling)
    native = tif8["data"][0][8:12, 20:24].astype(float).mean()
    assert abs(int(rgb[2, 5, 0]) - native) <= 1
    # the lobe centre falls in a bright pixel of the small image
    r, c = win.to_image(*tif8["lobe_xy"])
    assert (r, c) == (tif8["lobe_pixel"][0] // 4, tif8["lobe_pixel"][1] // 4)
    assert rgb[r, c].mean() > 150
    # non-square windows keep their aspect
    tall = RasterWindow(src, 0, 0, 120, 30, max_side=60)
    assert tall.image_shape == (60, 15)


def _expected_stretch(values, low, high):
    return np.clip(np.rint((values.astype(float) - low) * 255.0 / (high - low)), 0, 255).astype(np.uint8)


def test_uint16_with_nodata_is_cut_2_98_and_nodata_black(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe16.tif", size=SIZE, dtype="uint16", nodata=0, nodata_cols=20)
    src = RasterSource.open(info["path"])
    assert src.data_type == "UInt16"
    cuts = src.cuts
    for band, (low, high) in zip(info["data"], cuts):
        valid = band[band != 0].astype(float)
        assert low == pytest.approx(np.percentile(valid, 2))
        assert high == pytest.approx(np.percentile(valid, 98))
    rgb = RasterWindow(src, 0, 0, *SIZE).read_rgb()
    assert (rgb[:, :20] == 0).all()
    low, high = cuts[0]
    np.testing.assert_array_equal(rgb[:, 20:, 0], _expected_stretch(info["data"][0][:, 20:], low, high))
    lobe = info["mask"]
    assert rgb[lobe].mean() > 200 and rgb[~lobe][:, 0][rgb[~lobe][:, 0] > 0].mean() < 90


def test_float_with_nan_nodata(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobef.tif", size=SIZE, dtype="float32", nodata=float("nan"))
    src = RasterSource.open(info["path"])
    low, high = src.cuts[1]
    band = info["data"][1]
    assert low == pytest.approx(np.nanpercentile(band, 2), rel=1e-6)
    assert high == pytest.approx(np.nanpercentile(band, 98), rel=1e-6)
    rgb = RasterWindow(src, 0, 0, *SIZE).read_rgb()
    assert (rgb[:, :40] == 0).all()
    np.testing.assert_array_equal(rgb[:, 40:, 1], _expected_stretch(band[:, 40:], low, high))


def test_one_band_is_grey_and_four_bands_use_first_three(tmp_path):
    one = make_lobe_geotiff(tmp_path / "grey.tif", size=SIZE, bands=1)
    rgb = RasterWindow(RasterSource.open(one["path"]), 0, 0, *SIZE).read_rgb()
    np.testing.assert_array_equal(rgb[..., 0], one["data"][0])
    np.testing.assert_array_equal(rgb[..., 1], one["data"][0])
    np.testing.assert_array_equal(rgb[..., 2], one["data"][0])
    four = make_lobe_geotiff(tmp_path / "rgbn.tif", size=SIZE, bands=4)
    rgb4 = RasterWindow(RasterSource.open(four["path"]), 0, 0, *SIZE).read_rgb()
    np.testing.assert_array_equal(rgb4, np.stack(four["data"][:3], axis=-1))


def test_large_tiled_raster_read_by_window(tmp_path):
    info = make_lobe_geotiff(tmp_path / "big.tif", size=(1500, 2000), tiled=True)
    src = RasterSource.open(info["path"])
    win = RasterWindow.around(src, [info["lobe_xy"]], margin_px=600, max_side=300)
    assert win.native_box == (300, 400, 1200, 1201)
    assert win.image_shape == (300, 300)
    rgb = win.read_rgb()
    assert rgb.shape == (300, 300, 3)
    r, c = win.to_image(*info["lobe_xy"])
    assert rgb[r, c].mean() > 150


def test_rotated_geotransform_refused(tmp_path):
    info = make_lobe_geotiff(tmp_path / "rot.tif", size=SIZE, rotation=0.1)
    with pytest.raises(RasterError, match="rotated geotransform"):
        RasterSource.open(info["path"])


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(RasterError, match="does not exist"):
        RasterSource.open(tmp_path / "nope.tif")
    bad = tmp_path / "notes.tif"
    bad.write_text("this is not an image")
    with pytest.raises(RasterError, match="cannot read 'notes.tif' as a raster"):
        RasterSource.open(bad)


def test_photo_uses_qgis_pixel_geotransform(tmp_path, qgis_app):
    from qgis.core import QgsRasterLayer

    info = make_photo_png(tmp_path / "cam.png", size=(48, 64))
    src = RasterSource.open(info["path"])
    assert not src.is_georeferenced and src.crs_wkt == ""
    assert src.geotransform == PHOTO_GEOTRANSFORM
    layer = QgsRasterLayer(info["path"], "cam")
    assert layer.isValid()
    ext = layer.extent()
    assert (ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()) == src.grid.extent == (0.0, -48.0, 64.0, 0.0)
    # map units are pixels: x = column, y = -row
    assert src.grid.pixel_of(10.5, -3.5) == (3.5, 10.5)
    rgb = RasterWindow(src, 0, 0, 48, 64).read_rgb()
    np.testing.assert_array_equal(rgb, info["rgb"])


def test_click_in_web_mercator_hits_the_right_pixel(tif8, qgis_app):
    from avalanche_iseg_plugin.layers.crs import canvas_to_raster, transform_point

    src = RasterSource.open(tif8["path"])
    row, col = tif8["lobe_pixel"]
    x, y = src.grid.xy_of(row + 0.5, col + 0.5)
    mx, my = xy_transformer("EPSG:2056", "EPSG:3857")(x, y)
    rx, ry = canvas_to_raster(mx, my, "EPSG:3857", src.crs_wkt)
    assert math.hypot(rx - x, ry - y) < 0.01
    pr, pc = src.grid.pixel_of(rx, ry)
    assert (math.floor(pr), math.floor(pc)) == (row, col)
    bx, by = transform_point(x, y, src.crs_wkt, "EPSG:3857")
    assert math.hypot(bx - mx, by - my) < 0.01
    # no CRS on either side: coordinates pass unchanged (photos in pixel units)
    assert canvas_to_raster(12.5, -3.0, "EPSG:3857", "") == (12.5, -3.0)


def test_alpha_band_zero_is_black(tmp_path):
    info = make_lobe_geotiff(tmp_path / "rgba.tif", size=SIZE, bands=4)
    ds = gdal.Open(info["path"], gdal.GA_Update)
    ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
    ds = None
    rgb = RasterWindow(RasterSource.open(info["path"]), 0, 0, *SIZE).read_rgb()
    transparent = info["data"][3] == 0
    assert transparent.any()
    assert (rgb[transparent] == 0).all()
    np.testing.assert_array_equal(rgb[~transparent], np.stack(info["data"][:3], axis=-1)[~transparent])


def test_stretch_of_large_raster_without_overviews_is_sampled(tmp_path, monkeypatch):
    from avalanche_iseg_plugin.engine import stretch

    info = make_lobe_geotiff(tmp_path / "l16.tif", size=SIZE, dtype="uint16")
    monkeypatch.setattr(stretch, "MAX_DECIMATED_PIXELS", 1000)  # "large": sample windows instead
    monkeypatch.setattr(stretch, "SAMPLE_WINDOW", 8)
    monkeypatch.setattr(stretch, "SAMPLE_GRID", 8)
    reads = []
    original = gdal.Band.ReadAsArray

    def spy(self, *args, **kwargs):
        reads.append(args[:4])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gdal.Band, "ReadAsArray", spy)
    low, high = RasterSource.open(info["path"]).cuts[0]
    assert len(reads) == 3 * 64 and all(r[2:] == (8, 8) for r in reads)  # 64 windows of 8×8 per band
    band = info["data"][0].astype(float)
    assert np.percentile(band, 1) <= low <= np.percentile(band, 5)
    assert np.percentile(band, 95) <= high <= np.percentile(band, 99.5)
