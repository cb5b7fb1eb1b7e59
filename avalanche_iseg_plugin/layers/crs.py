"""Coordinate reference systems and point transforms between the map canvas and a raster (qgis.core).

A layer or raster with no CRS (a webcam photo in pixel units) is never transformed: its coordinates
are taken as they are, which is what QGIS does when it draws such a layer.
"""

from __future__ import annotations

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsCoordinateTransformContext,
                       QgsCsException, QgsPointXY, QgsProject)

from ..engine.errors import RasterError


def is_defined(crs: QgsCoordinateReferenceSystem) -> bool:
    """False for an invalid CRS and for the placeholders of "no CRS": GeoPackage's "Undefined
    Cartesian/geographic SRS" and other local (engineering) systems."""
    if not crs.isValid():
        return False
    wkt = crs.toWkt().lstrip().upper()
    if wkt.startswith(("LOCAL_CS", "ENGCRS", "ENGINEERINGCRS")):
        return False
    return not crs.description().lower().startswith("undefined")


def crs_from(value) -> QgsCoordinateReferenceSystem:
    """A QgsCoordinateReferenceSystem from a QgsCoordinateReferenceSystem, 'EPSG:xxxx', WKT, or ''/None.
    "No CRS" (''/None, or an undefined/local CRS, see is_defined) gives an invalid CRS: pixel units."""
    if isinstance(value, QgsCoordinateReferenceSystem):
        crs = value
    elif not value:
        crs = QgsCoordinateReferenceSystem()
    else:
        text = str(value)
        if text.strip().upper().startswith(("EPSG:", "ESRI:", "IGNF:", "OGC:", "PROJ:", "USER:")):
            crs = QgsCoordinateReferenceSystem(text)
        else:
            crs = QgsCoordinateReferenceSystem.fromWkt(text)
    return crs if is_defined(crs) else QgsCoordinateReferenceSystem()


def needs_transform(src, dst) -> bool:
    """True when both CRS are valid and differ."""
    src, dst = crs_from(src), crs_from(dst)
    return src.isValid() and dst.isValid() and src != dst


def make_transform(src, dst, context: QgsCoordinateTransformContext | None = None):
    """A QgsCoordinateTransform src -> dst, or None when no transform is needed (see needs_transform)."""
    src, dst = crs_from(src), crs_from(dst)
    if not needs_transform(src, dst):
        return None
    if context is None:
        context = QgsProject.instance().transformContext()
    return QgsCoordinateTransform(src, dst, context)


def transform_point(x: float, y: float, src, dst, context: QgsCoordinateTransformContext | None = None):
    """(x, y) in ``src`` -> (x, y) in ``dst``; unchanged when either CRS is missing or both are equal.

    Raises RasterError with one sentence when the point cannot be transformed (e.g. far outside
    the area of use of the target CRS)."""
    transform = make_transform(src, dst, context)
    if transform is None:
        return float(x), float(y)
    try:
        point = transform.transform(QgsPointXY(x, y))
    except QgsCsException as exc:
        raise RasterError(f"The point ({x:.3f}, {y:.3f}) cannot be transformed from "
                          f"{crs_from(src).authid() or 'the map CRS'} to {crs_from(dst).authid() or 'the raster CRS'} "
                          "(it is probably outside the area of use of one of them).") from exc
    return point.x(), point.y()


def canvas_to_raster(x: float, y: float, canvas_crs, raster_crs, context=None):
    """A click in map-canvas coordinates -> raster-CRS coordinates (see transform_point)."""
    return transform_point(x, y, canvas_crs, raster_crs, context)
