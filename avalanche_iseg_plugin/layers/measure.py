"""Area and perimeter of avalanche polygons, in m² / m (qgis.core).

QgsDistanceArea in the layer's CRS: ellipsoidal on the CRS's ellipsoid when the CRS is geographic or a
Mercator projection (Web Mercator's planar areas are ~2x too large at 47° N), planar otherwise (national
grids, UTM), converted to m² / m.  A layer without CRS is measured in its own units: pixels for webcam
photos, the geotransform's map units for a raster with a geotransform but no CRS; ``area_m2`` then
holds pixel² (map units²) and ``perimeter_m`` pixels (map units); ``area_units`` says which, for
messages.
"""
from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsDistanceArea, QgsGeometry, QgsProject, QgsUnitTypes

from .crs import crs_from


def area_units(layer_or_crs, georeferenced: bool = False) -> str:
    """'m²' for layers with a CRS; without one, 'map units²' when the raster had a geotransform
    (``georeferenced``: a GeoTIFF without CRS) and 'pixel²' when it had none (photos)."""
    crs = crs_from(layer_or_crs.crs() if hasattr(layer_or_crs, "crs") else layer_or_crs)
    if crs.isValid():
        return "m²"
    return "map units²" if georeferenced else "pixel²"


def _is_mercator(crs: QgsCoordinateReferenceSystem) -> bool:
    return "+proj=merc" in crs.toProj()


def measure(geometry: QgsGeometry, crs, transform_context=None) -> tuple[float, float]:
    """(area in m², perimeter in m) of a geometry in ``crs`` (see the module doc for the rules;
    pixel² and pixels when the CRS is missing)."""
    crs = crs_from(crs)
    if not crs.isValid():
        return geometry.area(), geometry.length()
    da = QgsDistanceArea()
    da.setSourceCrs(crs, transform_context or QgsProject.instance().transformContext())
    if crs.isGeographic() or _is_mercator(crs):
        da.setEllipsoid(crs.ellipsoidAcronym() or "EPSG:7030")
    else:
        da.setEllipsoid("NONE")
    area = da.measureArea(geometry) * QgsUnitTypes.fromUnitToUnitFactor(da.areaUnits(), QgsUnitTypes.AreaSquareMeters)
    perimeter = da.measurePerimeter(geometry) * QgsUnitTypes.fromUnitToUnitFactor(
        da.lengthUnits(), QgsUnitTypes.DistanceMeters)
    return area, perimeter
