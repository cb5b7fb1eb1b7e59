"""Layers only QGIS can read, on a real canvas: an XYZ layer served from local PNG tiles (EPSG:3857) and a
file raster read "as displayed", digitised on a canvas in EPSG:2056 with real mouse and key events; a VRT
(read by GDAL at native resolution); the service failing or timing out. Also the pure snapshot grid and
the Processing algorithm on the XYZ layer."""
from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsRasterLayer,
                       QgsRectangle)
from qgis.PyQt.QtCore import Qt

from canvas_driver import read_gpkg
from gis_fixtures import make_lobe_geotiff

from avalanche_iseg_plugin.engine.errors import RasterError
from avalanche_iseg_plugin.engine.raster_snapshot import grid_covering, write_snapshot
from avalanche_iseg_plugin.engine.raster_window import RasterSource

HALF_WORLD = 20037508.342789244
ZOOM = 18
TILE_RES = 2 * HALF_WORLD / (256 * 2 ** ZOOM)   # m (EPSG:3857) per tile pixel at zoom 18
TILE0 = (136627, 92480)                         # (x, y) index of the top-left tile: Bernese Oberland


def make_xyz_tiles(folder):
    """The synthetic lobe in EPSG:3857 on the zoom-18 pixel grid, cut into 256 px RGBA PNG tiles
    folder/18/x/y.png; returns (lobe info in EPSG:3857, the layer's URI)."""
    origin = (-HALF_WORLD + TILE0[0] * 256 * TILE_RES, HALF_WORLD - TILE0[1] * 256 * TILE_RES)
    info = make_lobe_geotiff(folder / "lobe_3857.tif", crs="EPSG:3857", pixel=TILE_RES, origin=origin)
    ds = gdal.Open(info["path"])
    rgb = np.dstack([ds.GetRasterBand(b).ReadAsArray() for b in (1, 2, 3)])
    ds = None
    height, width = rgb.shape[:2]
    rows, cols = math.ceil(height / 256), math.ceil(width / 256)
    canvas = np.zeros((rows * 256, cols * 256, 4), np.uint8)
    canvas[:height, :width, :3] = rgb
    canvas[:height, :width, 3] = 255
    png = gdal.GetDriverByName("PNG")
    for r in range(rows):
        for c in range(cols):
            tile_dir = folder / "tiles" / str(ZOOM) / str(TILE0[0] + c)
            tile_dir.mkdir(parents=True, exist_ok=True)
            mem = gdal.GetDriverByName("MEM").Create("", 256, 256, 4, gdal.GDT_Byte)
            for b in range(4):
                mem.GetRasterBand(b + 1).WriteArray(canvas[r * 256:(r + 1) * 256, c * 256:(c + 1) * 256, b])
            png.CreateCopy(str(tile_dir / f"{TILE0[1] + r}.png"), mem)
    url = (folder / "tiles").as_uri() + "/{z}/{x}/{y}.png"
    return info, f"type=xyz&url={url}&zmin={ZOOM}&zmax={ZOOM}"


def to_srs(wkt, src_wkt, dst_srs):
    geometry = ogr.CreateGeometryFromWkt(wkt)
    src = osr.SpatialReference()
    src.ImportFromWkt(src_wkt)
    for s in (src, dst_srs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geometry.Transform(osr.CoordinateTransformation(src, dst_srs))
    return geometry


def assert_outline(geometry, truth, tolerance, area_tolerance=0.03):
    """Every vertex within ``tolerance`` of the truth outline and vice versa, area within 3 %."""
    assert geometry.Difference(truth.Buffer(tolerance)).IsEmpty()
    assert truth.Difference(geometry.Buffer(tolerance)).IsEmpty()
    assert abs(geometry.GetArea() - truth.GetArea()) <= area_tolerance * truth.GetArea()


def show(d, layer, info, canvas_crs="EPSG:2056"):
    """Make ``layer`` active and the canvas show the lobe (info in the layer's CRS) in ``canvas_crs``."""
    QgsProject.instance().addMapLayer(layer)
    d.iface.setActiveLayer(layer)
    crs = QgsCoordinateReferenceSystem(canvas_crs)
    d.canvas.setDestinationCrs(crs)
    d.to_canvas = QgsCoordinateTransform(layer.crs(), crs, QgsProject.instance())
    xmin, ymin, xmax, ymax = info["lobe_bounds"]
    pad = 0.3 * (xmax - xmin)
    d.canvas.setExtent(d.to_canvas.transformBoundingBox(QgsRectangle(xmin - pad, ymin - pad, xmax + pad, ymax + pad)))
    d.canvas.refresh()
    d.canvas.waitWhileRendering()


@pytest.fixture
def xyz(tmp_path):
    info, uri = make_xyz_tiles(tmp_path)
    layer = QgsRasterLayer(uri, "ortho xyz", "wms")
    assert layer.isValid() and layer.crs().authid() == "EPSG:3857"
    return layer, info


def finish_into_new_layer(d, tmp_path):
    """Space after the clicks; the target is created after the first click, so it takes the drawing's CRS."""
    path = tmp_path / "avalanches.gpkg"
    assert d.controller.target.create(str(path)) is not None
    d.key(Qt.Key_Space)
    assert d.warnings() == []
    return read_gpkg(path)


def test_xyz_clicks_make_the_lobe_in_the_canvas_crs(digitiser, xyz, tmp_path):
    d = digitiser
    layer, info = xyz
    show(d, layer, info)
    d.click(*info["lobe_xy"])
    assert d.warnings() == []
    assert d.controller.rasters.crs.authid() == "EPSG:2056"
    d.click(*info["outside_xy"], button=Qt.RightButton)
    (features, srs) = finish_into_new_layer(d, tmp_path)
    assert len(features) == 1 and srs.GetAuthorityCode(None) == "2056"
    _fid, attrs, geometry = features[0]
    truth = to_srs(info["outline_wkt"], info["crs_wkt"], srs)
    ground_px = TILE_RES * math.cos(math.radians(46.7))   # a tile pixel on the ground (3857 scale factor)
    resolution = d.canvas.mapSettings().mapUnitsPerPixel()
    assert_outline(geometry, truth, max(ground_px, resolution) * 1.05)
    assert attrs["n_pos"] == 1 and attrs["n_neg"] == 1
    assert attrs["source"].startswith("ortho xyz (rendered at ") and attrs["source"].endswith(" m/px)")
    assert f"{resolution:.3g}" in attrs["source"]
    # the next avalanche is drawn again (what the canvas shows then)
    d.click(*info["lobe_xy"])
    assert len(d.controller.state.clicks) == 1 and d.controller.rasters.snapshots._count == 2


def test_clicks_while_tiles_load_wait_and_are_replayed(digitiser, xyz, tmp_path):
    d = digitiser
    layer, info = xyz
    show(d, layer, info)
    d.click(*info["lobe_xy"], wait=False)
    d.click(*info["outside_xy"], button=Qt.RightButton, wait=False)
    assert d.controller.rasters.snapshots.busy
    d.controller.wait_idle(30)
    clicks = d.controller.state.clicks
    assert [c[2] for c in clicks] == [True, False]


def test_service_without_tiles_and_timeout_say_so(digitiser, tmp_path):
    d = digitiser
    empty = (tmp_path / "none").as_uri() + "/{z}/{x}/{y}.png"
    layer = QgsRasterLayer(f"type=xyz&url={empty}&zmin={ZOOM}&zmax={ZOOM}", "dead service", "wms")
    info = make_lobe_geotiff(tmp_path / "l.tif", crs="EPSG:3857", pixel=TILE_RES,
                             origin=(-HALF_WORLD + TILE0[0] * 256 * TILE_RES, HALF_WORLD - TILE0[1] * 256 * TILE_RES))
    show(d, layer, info)
    d.click(*info["lobe_xy"])
    warnings = d.warnings()
    assert len(warnings) == 1 and "'dead service' drew nothing" in warnings[0]
    assert d.controller.state.clicks == [] and d.controller.rules.pending == []
    d.messages.clear_messages()
    d.controller.rasters.snapshots.timeout_s = 0.0
    d.click(*info["lobe_xy"])
    warnings = d.warnings()
    assert len(warnings) == 1 and "did not deliver its image within 0 s" in warnings[0]


def test_vrt_is_read_by_gdal_on_a_canvas_in_another_crs(digitiser, tmp_path):
    d = digitiser
    info = make_lobe_geotiff(tmp_path / "lobe.tif")
    vrt = str(tmp_path / "lobe.vrt")
    gdal.BuildVRT(vrt, [info["path"]])
    layer = QgsRasterLayer(vrt, "ortho vrt")
    show(d, layer, info, canvas_crs="EPSG:3857")
    d.click(*info["lobe_xy"])
    (features, srs) = finish_into_new_layer(d, tmp_path)
    _fid, attrs, geometry = features[0]
    assert srs.GetAuthorityCode(None) == "2056" and attrs["source"] == "lobe"
    assert_outline(geometry, ogr.CreateGeometryFromWkt(info["outline_wkt"]), 0.5, 0.01)


def test_as_displayed_reads_the_renderer_on_the_native_grid(digitiser, tmp_path):
    d = digitiser
    info = make_lobe_geotiff(tmp_path / "lobe16.tif", dtype="uint16")
    layer = QgsRasterLayer(info["path"], "lobe16")
    show(d, layer, info, canvas_crs="EPSG:3857")
    d.plugin.dock.raster_look_combo.setCurrentIndex(1)
    assert d.controller.settings.raster_look == "displayed"
    d.click(*info["lobe_xy"])
    assert d.controller.rasters.crs.authid() == "EPSG:2056"
    window = d.controller.state.window
    assert window.geotransform[1] == pytest.approx(0.5)     # the raster's own pixels
    (features, srs) = finish_into_new_layer(d, tmp_path)
    _fid, attrs, geometry = features[0]
    assert srs.GetAuthorityCode(None) == "2056" and attrs["source"] == "lobe16 (rendered at 0.5 m/px)"
    assert_outline(geometry, ogr.CreateGeometryFromWkt(info["outline_wkt"]), 0.5, 0.01)


# ------------------------------------------------------------------------------------------ pure parts
def test_snapshot_grid_and_file(tmp_path):
    grid = grid_covering(10.2, 20.1, 30.9, 25.0, 0.5, 1000)
    assert (grid.xy_of(0, 0), grid.width, grid.height) == ((10.0, 25.0), 42, 10)
    gx0, gy0, gx1, gy1 = grid.extent
    assert gx0 <= 10.2 and gy0 <= 20.1 and 30.9 <= gx1 and 25.0 <= gy1
    coarse = grid_covering(0, 0, 1000, 10, 0.5, 100)
    assert coarse.pixel_size == (10.0, 10.0) and coarse.width == 100
    aligned = grid_covering(3.3, 0, 9, 4, 1.0, 100, origin=(0.25, 10.75))
    assert aligned.xy_of(0, 0) == (3.25, 4.75)
    rgba = np.zeros((grid.height, grid.width, 4), np.uint8)
    with pytest.raises(RasterError, match="drew nothing"):
        write_snapshot(str(tmp_path / "s.tif"), rgba, grid, "", "x")
    rgba[2:5, 3:9] = (200, 100, 50, 255)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    write_snapshot(str(tmp_path / "s.tif"), rgba, grid, srs.ExportToWkt(), "layer (rendered at 0.5 m/px)")
    source = RasterSource.open(str(tmp_path / "s.tif"))
    assert source.name == "layer (rendered at 0.5 m/px)" and source.geotransform == grid.geotransform
    assert source.read_rgb(2, 3, 1, 1)[0, 0].tolist() == [200, 100, 50]
    assert source.read_rgb(0, 0, 1, 1)[0, 0].tolist() == [0, 0, 0]        # transparent: no data


# ------------------------------------------------------------------------------------------ Processing
def test_processing_segments_on_the_xyz_layer(provider, xyz, tmp_path):
    import processing
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsVectorLayer

    layer, info = xyz
    points = QgsVectorLayer("Point?crs=EPSG:2056", "clicks", "memory")   # another CRS than the tiles'
    to_2056 = QgsCoordinateTransform(layer.crs(), QgsCoordinateReferenceSystem("EPSG:2056"), QgsProject.instance())
    feature = QgsFeature(points.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(to_2056.transform(QgsPointXY(*info["lobe_xy"]))))
    points.dataProvider().addFeatures([feature])
    out = tmp_path / "batch.gpkg"
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": layer, "POINTS": points, "CHECKPOINT": str(tmp_path / "unused.pth"), "RESOLUTION": TILE_RES,
        "OUTPUT": str(out)})
    features, srs = read_gpkg(out)
    assert len(features) == 1 and srs.GetAuthorityCode(None) == "3857"
    _fid, attrs, geometry = features[0]
    assert attrs["source"] == "ortho xyz (rendered at 0.597 m/px)"
    assert_outline(geometry, ogr.CreateGeometryFromWkt(info["outline_wkt"]), TILE_RES * 1.01, 0.01)
    with pytest.raises(QgsProcessingException, match="no pixel size of its own"):
        processing.run("avalanche_iseg:segment_from_points", {
            "RASTER": layer, "POINTS": points, "CHECKPOINT": str(tmp_path / "unused.pth"),
            "OUTPUT": str(tmp_path / "b.gpkg")})


def test_click_beyond_the_drawn_area_says_what_to_do(digitiser, xyz):
    d = digitiser
    layer, info = xyz
    show(d, layer, info)
    d.click(*info["lobe_xy"])
    extent = d.canvas.extent()
    extent.setXMinimum(extent.xMinimum() + 3000)
    extent.setXMaximum(extent.xMaximum() + 3000)
    d.canvas.setExtent(extent)
    d.canvas.refresh()
    x, y = info["lobe_xy"]
    d.click(x + 3000 * 1.46, y)
    warnings = d.warnings()
    assert len(warnings) == 1 and "outside the part of 'ortho xyz' read for this avalanche" in warnings[0]
    assert len(d.controller.state.clicks) == 1
