"""Terrain attributes of an avalanche polygon from a DEM (pure: GDAL/OGR + numpy).

``terrain_attributes(dem_path, polygons_wkt, crs_wkt)`` resamples the DEM with GDAL (``gdal.Warp``) onto
a grid in the polygon's CRS (the DEM's own grid when the CRSs agree; bilinear at about the DEM's cell
size otherwise), rasterizes the polygon on it (cell centres inside) and returns:

* ``elev_min_m`` / ``elev_max_m``: lowest and highest DEM cell in the polygon (runout and release);
* ``slope_mean_deg``: mean slope (Horn's 3×3 gradient, as ``gdaldem slope``);
* ``aspect_deg``: circular mean of the aspect of the sloping cells (0 = grid north, clockwise, the
  direction the slope faces, as ``gdaldem aspect``);
* ``area_3d_m2``: surface area, the polygon's area × the mean of 1 / cos(slope) over its cells.

A polygon in geographic coordinates is measured in the DEM's CRS (when that is projected).  A DEM
without CRS is taken to be in the polygon's CRS.  Every value is None, with ``problem`` saying why,
when the DEM cannot be read, the polygon has no CRS, or any cell of the polygon lies outside the DEM
(or on its no-data cells).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr, osr

from .avalanche_schema import TERRAIN_NAMES
from .gdal_open import open_quietly
from .grid import Grid


@dataclass(frozen=True)
class Terrain:
    values: dict = field(default_factory=lambda: dict.fromkeys(TERRAIN_NAMES))   # name -> float | None
    problem: str | None = None


def _empty(problem: str) -> Terrain:
    return Terrain(dict.fromkeys(TERRAIN_NAMES), problem)


def _srs(wkt: str) -> osr.SpatialReference | None:
    if not wkt:
        return None
    srs = osr.SpatialReference()
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        if srs.SetFromUserInput(wkt) != 0:
            return None
    except RuntimeError:      # where the application made GDAL raise (gdal/osr.UseExceptions)
        return None
    finally:
        gdal.PopErrorHandler()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _geometry(polygons_wkt) -> ogr.Geometry:
    if isinstance(polygons_wkt, str):
        polygons_wkt = [polygons_wkt]
    multi = ogr.Geometry(ogr.wkbMultiPolygon)
    for wkt in polygons_wkt:
        geom = ogr.CreateGeometryFromWkt(wkt)
        for i in range(geom.GetGeometryCount()) if geom.GetGeometryType() in (ogr.wkbMultiPolygon,
                                                                              ogr.wkbMultiPolygon25D) else [None]:
            multi.AddGeometry(geom if i is None else geom.GetGeometryRef(i))
    return multi


def _grid_of(ds) -> Grid:
    return Grid.of(ds.GetGeoTransform(), ds.RasterYSize, ds.RasterXSize)


def _cell_size_in(ds, dem_srs, work_srs) -> float:
    """The DEM's cell size at its centre, measured in ``work_srs`` units."""
    grid = _grid_of(ds)
    row, col = grid.height / 2, grid.width / 2
    to_work = osr.CoordinateTransformation(dem_srs, work_srs)
    x0, y0, _ = to_work.TransformPoint(*grid.xy_of(row, col))
    x1, y1, _ = to_work.TransformPoint(*grid.xy_of(row, col + 1))
    x2, y2, _ = to_work.TransformPoint(*grid.xy_of(row + 1, col))
    return (math.hypot(x1 - x0, y1 - y0) + math.hypot(x2 - x0, y2 - y0)) / 2


def _same_coordinates(dem_srs, work_srs, ds) -> bool:
    """True when the two CRSs give the DEM's corners the same coordinates (to 1 % of a cell): the same
    CRS, written differently (e.g. a .prj's WKT and a GeoTIFF's)."""
    if work_srs.IsSame(dem_srs):
        return True
    grid = _grid_of(ds)
    to_work = osr.CoordinateTransformation(dem_srs, work_srs)
    for row, col in ((0, 0), (0, grid.width), (grid.height, 0), (grid.height, grid.width)):
        x, y = grid.xy_of(row, col)
        tx, ty, _ = to_work.TransformPoint(x, y)
        if math.hypot(tx - x, ty - y) > 0.01 * grid.pixel_size[0]:
            return False
    return True


def _horn(z: np.ndarray, res: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (degrees) and aspect (degrees from grid north, clockwise; nan where flat) of a north-up grid."""
    p = np.full(z.shape, np.nan)
    q = np.full(z.shape, np.nan)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    p[1:-1, 1:-1] = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)     # dz/dx, east
    q[1:-1, 1:-1] = ((a + 2 * b + c) - (g + 2 * h + i)) / (8 * res)     # dz/dy, north
    slope = np.degrees(np.arctan(np.hypot(p, q)))
    aspect = np.degrees(np.arctan2(-p, -q)) % 360.0
    aspect[~(np.hypot(p, q) > 0)] = np.nan
    return slope, aspect


def terrain_attributes(dem_path: str, polygons_wkt, crs_wkt: str, dem_name: str | None = None,
                       dem_crs_wkt: str = "") -> Terrain:
    """Terrain of the polygon(s) ``polygons_wkt`` (WKT, CRS ``crs_wkt``) on the DEM ``dem_path``;
    ``dem_crs_wkt``: the DEM's CRS where its file has none (e.g. set on the QGIS layer)."""
    name = dem_name or os.path.basename(str(dem_path))
    ds, _message = open_quietly(dem_path)
    if ds is None or ds.RasterCount < 1:
        return _empty(f"The DEM '{name}' cannot be read as a raster; the terrain fields are left empty.")
    poly_srs, dem_srs = _srs(crs_wkt), _srs(ds.GetProjection() or dem_crs_wkt)
    if poly_srs is None:
        return _empty("The avalanche has no map coordinates (photo pixels), so the terrain fields are left empty.")
    dem_srs = dem_srs or poly_srs
    work_srs = poly_srs if poly_srs.IsProjected() or not dem_srs.IsProjected() else dem_srs
    if not work_srs.IsProjected():
        return _empty(f"Neither the avalanche nor the DEM '{name}' is in a projected CRS; the terrain fields "
                      "are left empty.")
    geom = _geometry(polygons_wkt)
    if not work_srs.IsSame(poly_srs):
        geom.Transform(osr.CoordinateTransformation(poly_srs, work_srs))
    grid = _grid_of(ds)
    same = _same_coordinates(dem_srs, work_srs, ds)
    res = grid.pixel_size[0] if same else _cell_size_in(ds, dem_srs, work_srs)
    ox, oy = grid.xy_of(0, 0) if same else (0.0, 0.0)
    xmin, xmax, ymin, ymax = geom.GetEnvelope()
    x0 = ox + (math.floor((xmin - ox) / res) - 2) * res
    x1 = ox + (math.ceil((xmax - ox) / res) + 2) * res
    y0 = oy + (math.floor((ymin - oy) / res) - 2) * res
    y1 = oy + (math.ceil((ymax - oy) / res) + 2) * res
    grid = gdal.Warp("", ds, format="MEM", srcSRS=dem_srs.ExportToWkt(), dstSRS=work_srs.ExportToWkt(), outputBounds=(x0, y0, x1, y1),
                     xRes=res, yRes=res, resampleAlg="near" if same else "bilinear", dstNodata=np.nan,
                     outputType=gdal.GDT_Float64)
    if grid is None:
        return _empty(f"The DEM '{name}' cannot be resampled to the avalanche's CRS ({gdal.GetLastErrorMsg()}); "
                      "the terrain fields are left empty.")
    z = grid.GetRasterBand(1).ReadAsArray().astype(float)
    nodata = ds.GetRasterBand(1).GetNoDataValue()
    if nodata is not None and not math.isnan(nodata):
        z[z == nodata] = np.nan
    inside = _rasterize(geom, grid, work_srs)
    if not inside.any():                       # smaller than a cell: the cell under its centre
        centre = geom.Centroid()
        inside[int((y1 - centre.GetY()) // res), int((centre.GetX() - x0) // res)] = True
    if np.isnan(z[inside]).any():
        return _empty(f"The avalanche reaches beyond the DEM '{name}' (or onto its no-data cells); the terrain "
                      "fields are left empty.")
    slope, aspect = _horn(z, res)
    slopes = slope[inside & np.isfinite(slope)]
    aspects = np.radians(aspect[inside & np.isfinite(aspect)])
    values = {"elev_min_m": float(z[inside].min()), "elev_max_m": float(z[inside].max()),
              "slope_mean_deg": float(slopes.mean()) if slopes.size else None, "aspect_deg": None,
              "area_3d_m2": float(geom.GetArea() * np.mean(1.0 / np.cos(np.radians(slopes)))) if slopes.size
              else float(geom.GetArea())}
    if aspects.size and math.hypot(np.sin(aspects).sum(), np.cos(aspects).sum()) > 1e-9 * aspects.size:
        values["aspect_deg"] = float(math.degrees(math.atan2(np.sin(aspects).sum(), np.cos(aspects).sum())) % 360)
    return Terrain({k: None if v is None else round(v, 2) for k, v in values.items()}, None)   # cm, 0.01°


def _rasterize(geom: ogr.Geometry, grid, srs) -> np.ndarray:
    """Cells of ``grid`` whose centre lies in ``geom``."""
    mask = gdal.GetDriverByName("MEM").Create("", grid.RasterXSize, grid.RasterYSize, 1, gdal.GDT_Byte)
    mask.SetGeoTransform(grid.GetGeoTransform())
    source = ogr.GetDriverByName("Memory").CreateDataSource("")
    layer = source.CreateLayer("polygon", srs, ogr.wkbMultiPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(geom)
    layer.CreateFeature(feature)
    gdal.RasterizeLayer(mask, [1], layer, burn_values=[1])
    return mask.GetRasterBand(1).ReadAsArray().astype(bool)
