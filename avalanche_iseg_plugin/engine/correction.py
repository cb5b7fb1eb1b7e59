"""Correcting an existing polygon: it becomes the initial mask of the window, and its parts beyond the
window (beyond the raster) survive the correction."""
from __future__ import annotations

import numpy as np
from osgeo import ogr

from .errors import SessionError
from .raster_window import RasterWindow
from .vectorize import polygons_in, rasterize_polygons


def rasterize_polygon(wkt: str, window: RasterWindow) -> np.ndarray:
    """Bool mask (window.image_shape) of the pixels whose centre lies in the polygon (raster CRS)."""
    geom = ogr.CreateGeometryFromWkt(wkt)
    if geom is None:
        raise SessionError("The polygon to correct is not a valid geometry.")
    return rasterize_polygons([wkt], window.geotransform, window.image_shape)


def _extent_polygon(extent) -> ogr.Geometry:
    xmin, ymin, xmax, ymax = extent
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)):
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def keep_parts_outside_window(original_wkt: str, window: RasterWindow, polygons: list[str]) -> list[str]:
    """The corrected ``polygons`` plus the parts of the original polygon outside the window (i.e. beyond
    the raster), so correcting never cuts an inventory polygon at the image edge."""
    original = ogr.CreateGeometryFromWkt(original_wkt)
    outside = original.Difference(_extent_polygon(window.extent))
    if outside is None or outside.IsEmpty() or outside.GetArea() <= 0:
        return polygons
    merged = outside
    for wkt in polygons:
        merged = merged.Union(ogr.CreateGeometryFromWkt(wkt))
    if not merged.IsValid():
        merged = merged.MakeValid()
    parts = sorted(polygons_in(merged), key=lambda g: -g.GetArea())
    return [p.ExportToWkt() for p in parts if p.GetArea() > 0]
