"""training.gis_samples: windows of a raster around avalanche outlines stored in another CRS."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
from osgeo import ogr, osr
from rasterio.transform import from_origin
from rasterio.features import rasterize

from training.data_spec import build_datasets
from training.datasets import DataError
from training.gis_samples import GisWindowDataset

RASTER_EPSG = 32632  # UTM 32N, 2 m pixels
ORIGIN = (600000.0, 5200000.0)
PIXEL = 2.0
SIZE = 400

# Outlines in raster CRS (metres): (polygon, split value)
OUTLINES = [
    (shapely.Polygon([(600100, 5199900), (600260, 5199880), (600240, 5199700), (600120, 5199720)]), "train"),
    (shapely.Polygon([(600300, 5199850), (600380, 5199850), (600380, 5199760), (600300, 5199760)]), "train"),
    (shapely.Polygon([(600500, 5199500), (600620, 5199500), (600560, 5199380)]), "val"),
]


def _srs(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def write_raster(path, dtype="uint8", count=3):
    """Dark background; the outlines are painted bright, so image and mask must line up."""
    transform = from_origin(ORIGIN[0], ORIGIN[1], PIXEL, PIXEL)
    inside = rasterize([(g, 1) for g, _ in OUTLINES], out_shape=(SIZE, SIZE), transform=transform, fill=0)
    value = 200 if dtype == "uint8" else 20000
    low = 20 if dtype == "uint8" else 2000
    band = np.where(inside > 0, value, low).astype(dtype)
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=count, dtype=dtype,
                       crs=f"EPSG:{RASTER_EPSG}", transform=transform) as dst:
        for i in range(count):
            dst.write(band, i + 1)
    return path


def write_polygons(path, epsg, driver="GPKG"):
    """The outlines reprojected to EPSG `epsg`, with a 'split' attribute."""
    ct = osr.CoordinateTransformation(_srs(RASTER_EPSG), _srs(epsg))
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    layer = ds.CreateLayer("avalanches", _srs(epsg), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("split", ogr.OFTString))
    for geom, split in OUTLINES:
        dense = shapely.segmentize(geom, 5.0)
        g = ogr.CreateGeometryFromWkb(shapely.to_wkb(dense))
        g.Transform(ct)
        feat = ogr.Feature(layer.GetLayerDefn())
        feat.SetGeometry(g)
        feat.SetField("split", split)
        layer.CreateFeature(feat)
    ds = None
    return path


def _pixel_in_window(ds, window, x, y):
    col, row = ~ds.window_transform(window) * (x, y)
    return int(row), int(col)


@pytest.mark.parametrize("epsg,driver,ext", [(4326, "GPKG", "gpkg"), (3857, "ESRI Shapefile", "shp")])
def test_window_mask_lines_up_with_outline_in_another_crs(tmp_path, epsg, driver, ext):
    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / f"avalanches.{ext}", epsg, driver)
    ds = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=128)
    assert len(ds) == 3
    for index in range(3):
        rng = np.random.default_rng(index)
        window, obj = ds.window_of(index, np.random.default_rng(index))
        sample = ds.get(index, rng)
        h, w = sample.labels.shape
        assert sample.image.shape == (h, w, 3) and max(h, w) <= 128
        # the window holds the whole outline (the plugin's window: whole native pixels, clipped to the raster)
        assert ds.all_pixel_geoms[obj].within(shapely.box(window.col0 - 1e-6, window.row0 - 1e-6,
                                                          window.col0 + window.width + 1e-6,
                                                          window.row0 + window.height + 1e-6))
        outline = OUTLINES[obj][0]
        inside = outline.representative_point()
        r, c = _pixel_in_window(ds, window, inside.x, inside.y)
        assert sample.labels[r, c] == 1  # a point inside the polygon is the object
        outside = shapely.Point(outline.bounds[0] - 6, outline.bounds[1] - 6)  # 3 px beyond its bounding box
        r, c = _pixel_in_window(ds, window, outside.x, outside.y)
        if 0 <= r < h and 0 <= c < w:
            assert sample.labels[r, c] != 1
        # the image was painted bright exactly where the outlines are: mask and image agree
        obj_px = sample.image[sample.labels == 1][:, 0]
        bg_px = sample.image[sample.labels == 0][:, 0]
        assert obj_px.mean() > 170 and bg_px.mean() < 80
        assert abs((sample.labels == 1).mean() - (sample.image[..., 0] > 110)[sample.labels != 2].mean()) < 0.05


def test_neighbouring_outlines_are_other_objects(tmp_path):
    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    ds = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=128, context=(4.0, 4.0))
    sample = ds.get(0, np.random.default_rng(0))  # outline 0 with 4× context reaches outline 1
    assert sample.target == 1
    assert set(np.unique(sample.labels)) == {0, 1, 2}


def test_split_by_attribute_and_negative_windows(tmp_path):
    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    train = GisWindowDataset(raster, polys, split="train", split_field="split", negatives=1.0, window_size=64)
    val = GisWindowDataset(raster, polys, split="val", split_field="split", negatives=0.0, window_size=64)
    assert train.objects == [0, 1] and val.objects == [2]
    assert len(train) == 4  # 2 outlines + 2 negative windows
    for index in (2, 3):
        sample = train.get(index)
        assert sample.target is None and not (sample.labels > 0).any()
        assert sample.image[..., 0].max() < 100  # no avalanche in it
    with pytest.raises(DataError, match="no attribute 'season'"):
        GisWindowDataset(raster, polys, split_field="season")


def test_non_8bit_single_band_raster_is_stretched(tmp_path):
    raster = write_raster(tmp_path / "dem.tif", dtype="uint16", count=1)
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    ds = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=64)
    sample = ds.get(0)
    assert sample.image.dtype == np.uint8 and sample.image.shape[:2] == sample.labels.shape
    assert max(sample.labels.shape) == 64            # the outline's window is larger: averaged down to 64
    assert sample.image[sample.labels == 1].mean() > 200 and sample.image[sample.labels == 0].mean() < 50
    # one 2–98 % cut for the whole raster (2000 → 0, 20000 → 255), not one per window
    assert ds.cuts == ((2000.0, 20000.0),) * 3
    background = ds.read_window(ds.native_window(380, 0, 20, 20))   # no outline there
    assert background.shape == (20, 20, 3) and np.all(background == 0)


def test_windows_at_the_raster_edge_are_clipped_not_shifted(tmp_path):
    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    ds = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=100)
    window = ds.native_window(-50.5, -50, 100, 100.2)  # upper-left part lies outside the raster
    assert (window.row0, window.col0, window.height, window.width) == (0, 0, 50, 51)
    image = ds.read_window(window)
    assert image.shape == (50, 51, 3) and np.all(image == 20)          # the raster's own corner pixels
    x0, y0 = ds.window_transform(window) * (0, 0)
    assert (x0, y0) == ORIGIN                                          # its grid starts at the raster's corner
    with pytest.raises(DataError, match="outside"):
        ds.native_window(-300, 0, 100, 100)


def test_bad_gis_input_is_one_sentence(tmp_path):
    raster = write_raster(tmp_path / "ortho.tif")
    (tmp_path / "junk.gpkg").write_text("not a layer")
    with pytest.raises(DataError, match="not a polygon layer"):
        GisWindowDataset(raster, tmp_path / "junk.gpkg")
    far = tmp_path / "far.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(far))
    layer = ds.CreateLayer("x", _srs(4326), ogr.wkbPolygon)
    feat = ogr.Feature(layer.GetLayerDefn())
    feat.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON ((100 10, 100.1 10, 100.1 10.1, 100 10))"))
    layer.CreateFeature(feat)
    ds = None
    with pytest.raises(DataError, match="no outline"):
        GisWindowDataset(raster, far)
    with pytest.raises(DataError, match="not a raster"):
        GisWindowDataset(tmp_path / "junk.gpkg", far)


def test_gis_spec_trains_a_step(tmp_path):
    from training.train import main

    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    train, val = build_datasets(f"gis:{raster},{polys},split_field=split", window_size=64)
    assert train.objects == [0, 1] and val.objects == [2]
    out = tmp_path / "run"
    assert main(["--data", f"gis:{raster},{polys},split_field=split", "--out", str(out), "--crop-size", "64",
                 "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "1", "--max-points", "4",
                 "--val-clicks", "2", "--threads", "1", "--no-progress"]) == 0
    assert (out / "checkpoints" / "best_checkpoint.pth").is_file()
