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
from training.gis_samples import GisWindowDataset, stretch_to_uint8

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
    row0, col0, side = window
    col, row = ~ds.window_transform(row0, col0, side) * (x, y)
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
        assert sample.image.shape == (128, 128, 3) and sample.labels.shape == (128, 128)
        outline = OUTLINES[obj][0]
        inside = outline.representative_point()
        r, c = _pixel_in_window(ds, window, inside.x, inside.y)
        assert sample.labels[r, c] == 1  # a point inside the polygon is the object
        outside = shapely.Point(outline.bounds[0] - 6, outline.bounds[1] - 6)  # 3 px beyond its bounding box
        r, c = _pixel_in_window(ds, window, outside.x, outside.y)
        if 0 <= r < 128 and 0 <= c < 128:
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
    sample = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=64).get(0)
    assert sample.image.dtype == np.uint8 and sample.image.shape == (64, 64, 3)
    assert sample.image[sample.labels == 1].mean() > 200 and sample.image[sample.labels == 0].mean() < 50
    out = stretch_to_uint8(np.array([[[0, 10], [20, 30]]], np.float32), np.ones((1, 2, 2), bool))
    assert out.min() == 0 and out.max() == 255


def test_windows_at_the_raster_edge_are_padded_not_shifted(tmp_path):
    raster = write_raster(tmp_path / "ortho.tif")
    polys = write_polygons(tmp_path / "avalanches.gpkg", 4326)
    ds = GisWindowDataset(raster, polys, split="all", negatives=0.0, window_size=100)
    image = ds.read_window(-50, -50, 100)  # upper-left quarter lies outside the raster
    assert np.all(image[:45, :45] == 0) and np.all(image[55:, 55:] == 20)


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
