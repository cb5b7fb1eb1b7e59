"""A raster that only QGIS can draw (a WMS/WMTS/XYZ service, a virtual raster, a layer read "as displayed"
with its renderer and contrast stretch) turned into pixels the engine reads like any raster file.

QGIS draws the layer on a north-up pixel grid (``grid_covering``) in the CRS the outline is wanted in; the
drawn RGBA pixels and that grid's geotransform are written by ``write_snapshot`` as a small tiled RGBA
GeoTIFF. ``RasterSource.open`` then reads it as any other raster: alpha 0 (no tile, outside the data) is
no data, the window rules and the outline's georeference are the file raster's. The snapshot records
what the model saw — the layer's name and the ground resolution — in its metadata (``SNAPSHOT_NAME_KEY``),
which becomes the source's name and so the ``source`` attribute of the avalanche.
"""
from __future__ import annotations

import math
import numpy as np
from osgeo import gdal

from .errors import RasterError
from .grid import Grid

#: GeoTIFF metadata item holding the name the source (and the avalanche's ``source`` attribute) gets
SNAPSHOT_NAME_KEY = "AVALANCHE_ISEG_SOURCE"
_CREATION = ["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=2", "ALPHA=YES"]


def grid_covering(xmin: float, ymin: float, xmax: float, ymax: float, resolution: float,
                  max_side: int, origin: tuple[float, float] | None = None) -> Grid:
    """The north-up grid covering the box at ``resolution`` (coarser when the box would need more than
    ``max_side`` pixels along a side). Pixel edges lie on ``origin`` + k × resolution (default: multiples
    of the resolution), so that grids of the same layer line up."""
    if not (resolution > 0 and math.isfinite(resolution)):
        raise RasterError(f"The ground resolution to read the layer at is not a positive number ({resolution}).")
    if not (xmax > xmin and ymax > ymin):
        raise RasterError("The area to read the layer in is empty: click on the layer where it shows the image.")
    longest = max(xmax - xmin, ymax - ymin)
    if longest / resolution > max_side:
        resolution = longest / max_side
        origin = None   # a coarser grid cannot line up with the native one
    ox, oy = origin if origin is not None else (0.0, 0.0)
    col0 = math.floor((xmin - ox) / resolution + 1e-9)
    col1 = math.ceil((xmax - ox) / resolution - 1e-9)
    row0 = math.floor((oy - ymax) / resolution + 1e-9)
    row1 = math.ceil((oy - ymin) / resolution - 1e-9)
    resolution = float(resolution)
    return Grid((ox + col0 * resolution, resolution, 0.0, oy - row0 * resolution, 0.0, -resolution),
                max(1, row1 - row0), max(1, col1 - col0))


def snapshot_name(layer_name: str, resolution: float, unit: str) -> str:
    """What the model saw, e.g. "Orthophoto WMTS (rendered at 0.5 m/px)"."""
    return f"{layer_name} (rendered at {resolution:.3g} {unit}/px)"


def write_snapshot(path: str, rgba: np.ndarray, grid: Grid, crs_wkt: str, name: str,
                   layer_name: str | None = None) -> None:
    """Write the H×W×4 uint8 RGBA pixels drawn on ``grid`` (in CRS ``crs_wkt``) as an RGBA GeoTIFF that
    RasterSource reads with ``name`` as its name. RasterError (naming ``layer_name``) when every pixel is
    transparent (nothing drawn)."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"write_snapshot needs H×W×4 uint8 RGBA pixels, got {rgba.dtype} {rgba.shape}.")
    if rgba.shape[:2] != (grid.height, grid.width):
        raise ValueError(f"The drawn image is {rgba.shape[1]}×{rgba.shape[0]} px but the grid is "
                         f"{grid.width}×{grid.height} px.")
    if not rgba[..., 3].any():
        raise RasterError(f"'{layer_name or name}' drew nothing in this area (the service failed or has no image here): "
                          "check that the layer shows the image on the map, then click again.")
    ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.width, grid.height, 4, gdal.GDT_Byte, _CREATION)
    if ds is None:
        raise RasterError(f"Cannot write the image read from '{layer_name or name}' to '{path}' ({gdal.GetLastErrorMsg()}).")
    try:
        ds.SetGeoTransform(grid.geotransform)
        if crs_wkt:
            ds.SetProjection(crs_wkt)
        ds.SetMetadataItem(SNAPSHOT_NAME_KEY, name)
        for band in range(4):
            ds.GetRasterBand(band + 1).WriteArray(np.ascontiguousarray(rgba[..., band]))
        for band, interp in enumerate((gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand, gdal.GCI_AlphaBand)):
            ds.GetRasterBand(band + 1).SetColorInterpretation(interp)
        ds.FlushCache()
    finally:
        ds = None
