"""Mask -> polygons in the raster CRS, placed exactly on pixel corners.

``gdal.Polygonize`` runs on an in-memory raster that carries the window's geotransform, so every
vertex is a pixel corner of the model image mapped through the window's affine (raster CRS).
Output: a list of WKT ``POLYGON``s, one per 4-connected part of the mask, largest first, holes kept;
``as_multipolygon_wkt`` joins them into one ``MULTIPOLYGON`` for a feature.

* ``min_area`` (raster-CRS units², e.g. m² or pixel² for photos): parts smaller than it are dropped,
  and holes smaller than it are filled (both are specks).
* ``simplify`` (raster-CRS units): Douglas-Peucker tolerance with topology preserved; 0 keeps the
  exact pixel outline.
* Every polygon returned is valid (GEOS ``MakeValid`` repairs the rare case simplification breaks).
"""

from __future__ import annotations

import numpy as np
from osgeo import gdal, ogr


def _geotransform_of(window):
    if hasattr(window, "geotransform"):
        return tuple(window.geotransform)
    gt = tuple(float(v) for v in window)
    if len(gt) != 6:
        raise ValueError("window must be a RasterWindow or a 6-value GDAL geotransform.")
    return gt


def polygons_in(geom: ogr.Geometry) -> list[ogr.Geometry]:
    """Polygons inside any geometry (Polygon, MultiPolygon, GeometryCollection)."""
    if geom is None or geom.IsEmpty():
        return []
    flat = ogr.GT_Flatten(geom.GetGeometryType())
    if flat == ogr.wkbPolygon:
        return [geom.Clone()]
    if flat in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
        out = []
        for i in range(geom.GetGeometryCount()):
            out.extend(polygons_in(geom.GetGeometryRef(i)))
        return out
    return []


def _ring_area(ring: ogr.Geometry) -> float:
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly.GetArea()


def _without_small_holes(poly: ogr.Geometry, min_area: float) -> ogr.Geometry:
    if min_area <= 0 or poly.GetGeometryCount() <= 1:
        return poly
    out = ogr.Geometry(ogr.wkbPolygon)
    out.AddGeometry(poly.GetGeometryRef(0).Clone())
    for i in range(1, poly.GetGeometryCount()):
        ring = poly.GetGeometryRef(i)
        if _ring_area(ring) >= min_area:
            out.AddGeometry(ring.Clone())
    return out


def _polygonize(mask: np.ndarray, geotransform) -> list[ogr.Geometry]:
    height, width = mask.shape
    raster = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    raster.SetGeoTransform(geotransform)
    band = raster.GetRasterBand(1)
    band.WriteArray(mask.astype(np.uint8))
    vector = ogr.GetDriverByName("Memory").CreateDataSource("mask")
    layer = vector.CreateLayer("parts", geom_type=ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    if gdal.Polygonize(band, band, layer, 0, [], callback=None) != 0:
        raise RuntimeError(f"GDAL could not vectorise the mask ({gdal.GetLastErrorMsg()}).")
    geoms = []
    for feature in layer:
        if feature.GetField(0) == 1:
            geoms.append(feature.GetGeometryRef().Clone())
    return geoms


def mask_to_polygons(mask, window, min_area: float = 0.0, simplify: float = 0.0) -> list[str]:
    """Polygons (WKT, raster CRS) of the True pixels of ``mask`` (the model-image grid of ``window``).

    ``window`` is a RasterWindow (its ``geotransform`` is used) or a GDAL geotransform tuple.
    Returns a list of valid POLYGON WKTs, largest first; empty when nothing survives ``min_area``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"The mask must be 2-D, got shape {mask.shape}.")
    if not mask.any():
        return []
    geotransform = _geotransform_of(window)
    polygons = []
    for poly in _polygonize(mask.astype(bool), geotransform):
        poly = _without_small_holes(poly, min_area)
        if simplify > 0:
            poly = poly.SimplifyPreserveTopology(simplify)
        parts = [poly] if poly.IsValid() else polygons_in(poly.MakeValid())
        for part in parts:
            if not part.IsEmpty() and part.GetArea() > 0 and part.GetArea() >= min_area:
                polygons.append(part)
    polygons.sort(key=lambda g: -g.GetArea())
    return [p.ExportToWkt() for p in polygons]


def as_multipolygon_wkt(polygons_wkt: list[str]) -> str:
    """Join POLYGON WKTs into one MULTIPOLYGON WKT (``MULTIPOLYGON EMPTY`` for an empty list)."""
    multi = ogr.Geometry(ogr.wkbMultiPolygon)
    for wkt in polygons_wkt:
        for part in polygons_in(ogr.CreateGeometryFromWkt(wkt)):
            multi.AddGeometry(part)
    return multi.ExportToWkt()


def total_area(polygons_wkt: list[str]) -> float:
    """Sum of the polygons' planar areas in their CRS's units² (m² for a DEM in metres)."""
    return float(sum(ogr.CreateGeometryFromWkt(w).GetArea() for w in polygons_wkt))


def rasterize_polygons(polygons_wkt: list[str], geotransform, shape: tuple[int, int]) -> np.ndarray:
    """Bool ``shape`` (rows, cols) mask of the pixels of the grid ``geotransform`` whose centre lies in any of
    the polygons (WKT in the grid's CRS; give valid geometries). The inverse of ``mask_to_polygons``."""
    h, w = int(shape[0]), int(shape[1])
    raster = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Byte)
    raster.SetGeoTransform(tuple(geotransform))
    vector = ogr.GetDriverByName("Memory").CreateDataSource("polygons")
    layer = vector.CreateLayer("polygons", geom_type=ogr.wkbUnknown)
    for wkt in polygons_wkt:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # "no spatial reference": polygons and grid share the CRS
    try:
        gdal.RasterizeLayer(raster, [1], layer, burn_values=[1])
    finally:
        gdal.PopErrorHandler()
    return raster.GetRasterBand(1).ReadAsArray().astype(bool)
