"""Huge orthoimages: a window that must be downsampled to Window max side is read from the GeoTIFF's
overviews when it has them (GDAL picks the overview with the right read call), from the full resolution
otherwise; the first click reads only the window. The overview here holds other values than the full
resolution, so the test sees which one was read. (scripts/bench_big_raster.py times 20 000 px rasters.)"""
from __future__ import annotations

import numpy as np
from osgeo import gdal, osr

from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow

SIDE = 4096


def _raster(path, overviews: bool):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), SIDE, SIDE, 3, gdal.GDT_Byte,
                                              ["TILED=YES", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform((2_600_000.0, 0.25, 0.0, 1_200_000.0, 0.0, -0.25))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(1, 4):
        ds.GetRasterBand(b).Fill(50)
    if overviews:
        ds.BuildOverviews("NEAREST", [2, 4])
        for b in range(1, 4):
            ds.GetRasterBand(b).GetOverview(0).Fill(200)    # level 2 says "read from the overview"
    ds = None
    return RasterSource.open(str(path))


def _box_read(source):
    """A box of 3200 × 3200 native px: downsampled by 2 to 1600 px."""
    x0, y0 = source.grid.xy_of(400, 400)
    x1, y1 = source.grid.xy_of(3600, 3600)
    window = RasterWindow.from_box(source, x0, y0, x1, y1, 0, 1600)
    assert window.image_shape == (1600, 1600)
    return window.read_rgb()


def test_downsampled_window_reads_the_overview(tmp_path):
    with_overviews = _box_read(_raster(tmp_path / "ovr.tif", True))
    without = _box_read(_raster(tmp_path / "plain.tif", False))
    assert np.all(with_overviews == 200)
    assert np.all(without == 50)


def test_first_click_window_is_native_and_small(tmp_path):
    source = _raster(tmp_path / "ovr.tif", True)
    window = RasterWindow.around(source, [source.grid.xy_of(2000.5, 2000.5)], 256, 1600)
    assert window.native_box == (1744, 1744, 513, 513) and window.image_shape == (513, 513)
    assert np.all(window.read_rgb() == 50)       # native pixels, not the overview's
