"""The plain facts of a raster file that the GUI needs before anything is predicted: its name, its grid
(size and georeference) and whether it is georeferenced (a webcam photo is not). Read once, when
digitising moves to a raster; the GDAL dataset is not kept."""
from __future__ import annotations

from dataclasses import dataclass

from .grid import Grid


@dataclass(frozen=True)
class RasterInfo:
    path: str
    name: str
    grid: Grid
    is_georeferenced: bool
    crs_wkt: str
    assigned_crs_wkt: str = ""     # the CRS the user set in QGIS for a georeferenced file without one


def describe_raster(path: str) -> RasterInfo:
    """Open ``path`` with GDAL just long enough to read its facts; RasterError (one sentence) when the
    tool cannot use it (unreadable, rotated, ...)."""
    from .raster_window import RasterSource

    source = RasterSource.open(path)
    return RasterInfo(path=source.path, name=source.name, grid=source.grid,
                      is_georeferenced=bool(source.is_georeferenced), crs_wkt=source.crs_wkt)
