"""One raster → model-RGB path: the plugin (RasterSource / RasterWindow.read_rgb) and training's GIS samples
(GisWindowDataset.read_window) give the same pixels for the same window of a 16-bit orthoimage."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow
from conftest import REPO
from training.gis_samples import GisWindowDataset

WIDTH, HEIGHT = 420, 300
ORIGIN, PIXEL, EPSG = (600000.0, 5200000.0), 2.0, 32632
NODATA = 0


def _srs():
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    return srs


def write_ortho16(path):
    """A 3-band uint16 GeoTIFF with texture on all scales (so that averaging differs from picking), a bright
    lobe, a few nodata pixels and a long tail of outliers (so that the 2–98 % cut clips)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    lobe = ((yy - 150) / 60.0) ** 2 + ((xx - 200) / 90.0) ** 2 < 1
    ds = gdal.GetDriverByName("GTiff").Create(str(path), WIDTH, HEIGHT, 3, gdal.GDT_UInt16)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0, ORIGIN[1], 0, -PIXEL))
    ds.SetProjection(_srs().ExportToWkt())
    bands = []
    for b in range(3):
        data = 9000 + 1500 * b + 800 * np.sin(xx / (7.0 + b)) + 600 * np.cos(yy / 5.0) + rng.normal(0, 300, xx.shape)
        data[lobe] += 14000
        data[rng.random(xx.shape) < 0.01] = 64000                  # outliers above the 98 % cut
        data = np.clip(data, 1, 65535).astype(np.uint16)
        data[rng.random(xx.shape) < 0.002] = NODATA
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(data)
        band.SetNoDataValue(NODATA)
        bands.append(data)
    ds = None
    return path, np.stack(bands)


def write_outline(path):
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("avalanches", _srs(), ogr.wkbPolygon)
    x0, y0 = ORIGIN[0] + 200 * PIXEL, ORIGIN[1] - 150 * PIXEL
    ring = f"{x0 - 80} {y0 - 60}, {x0 + 80} {y0 - 60}, {x0 + 80} {y0 + 60}, {x0 - 80} {y0 + 60}, {x0 - 80} {y0 - 60}"
    feat = ogr.Feature(layer.GetLayerDefn())
    feat.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON (({ring}))"))
    layer.CreateFeature(feat)
    ds = None
    return path


@pytest.fixture(scope="module")
def ortho(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ortho16")
    raster, data = write_ortho16(tmp / "ortho 16bit.tif")
    return raster, write_outline(tmp / "outline.gpkg"), data


# (row0, col0, height, width, max_side): native; downsampled by the longest side; clipped at the edge and
# downsampled; a window of the whole raster downsampled to a thumbnail
WINDOWS = [(40, 60, 120, 90, 400), (10, 20, 260, 380, 128), (-30, 300, 200, 200, 64), (0, 0, HEIGHT, WIDTH, 50)]


@pytest.mark.parametrize("row0,col0,height,width,max_side", WINDOWS)
def test_plugin_and_training_read_the_same_pixels(ortho, row0, col0, height, width, max_side):
    raster, outline, data = ortho
    plugin_window = RasterWindow(RasterSource.open(raster), row0, col0, height, width, max_side)
    plugin_rgb = plugin_window.read_rgb()

    training = GisWindowDataset(raster, outline, split="all", negatives=0.0, window_size=max_side)
    window = training.native_window(row0, col0, height, width)
    training_rgb = training.read_window(window)

    assert (window.row0, window.col0, window.height, window.width) == plugin_window.native_box
    assert training_rgb.shape == plugin_rgb.shape == plugin_window.image_shape + (3,)
    np.testing.assert_array_equal(training_rgb, plugin_rgb)
    assert tuple(training.window_transform(window).to_gdal()) == pytest.approx(plugin_window.geotransform)
    # not a trivial equality: a stretched image with texture, clipped highlights and black nodata
    assert len(np.unique(plugin_rgb)) > 50 and (plugin_rgb == 255).any()
    if plugin_window.scale == 1.0:
        nodata = (data[:, window.row0:window.row0 + window.height, window.col0:window.col0 + window.width]
                  == NODATA)
        assert nodata.any() and np.all(plugin_rgb.transpose(2, 0, 1)[nodata] == 0)


def test_downsampling_averages_with_the_raster_wide_cut(ortho):
    """What both paths compute, from the raw values: the raster-wide 2–98 % cut of band 1 and GDAL's
    pixel average over each output pixel's native pixels (not bilinear, not per window)."""
    raster, outline, data = ortho
    training = GisWindowDataset(raster, outline, split="all", negatives=0.0, window_size=60)
    assert training.cuts == RasterSource.open(raster).cuts
    low, high = training.cuts[0]
    band = data[0].astype(np.float64)
    assert low == pytest.approx(np.percentile(band[band != NODATA], 2), rel=0.02)
    assert high == pytest.approx(np.percentile(band[band != NODATA], 98), rel=0.02)
    window = training.native_window(0, 0, 120, 120)            # 120² native → 60², 2×2 native per pixel
    rgb = training.read_window(window)
    block = data[0, :120, :120].astype(np.float64).reshape(60, 2, 60, 2)
    valid = block != NODATA
    mean = (block * valid).sum(axis=(1, 3)) / np.maximum(valid.sum(axis=(1, 3)), 1)
    expected = np.clip(np.rint((mean - low) * 255.0 / (high - low)), 0, 255)
    close = np.abs(rgb[..., 0].astype(np.float64) - expected) <= 1
    assert close.mean() > 0.98


def test_training_and_plugin_do_not_import_each_other():
    code = ("import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            "import training.gis_samples, training.datasets, training.points_sampler, training.validate\n"
            "print(sorted(m for m in sys.modules if m.startswith('avalanche_iseg_plugin')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"   # training never imports the plugin
    engine_code = ("import sys\n"
                   f"sys.path.insert(0, {str(REPO)!r})\n"
                   "import avalanche_iseg_plugin.engine.raster_window, avalanche_iseg_plugin.engine.stretch\n"
                   "print(sorted(m for m in sys.modules if m.split('.')[0] in ('training', 'torch')))\n")
    result = subprocess.run([sys.executable, "-c", engine_code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"   # nor torch: the shared path is numpy + GDAL
