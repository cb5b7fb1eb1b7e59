"""The plain facts of a raster file that the GUI needs before anything is predicted: its name, size,
grid and whether it is georeferenced (a webcam photo is not). Read once, when digitising moves to a
raster; the GDAL dataset is not kept."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RasterInfo:
    path: str
    name: str
    width: int
    height: int
    geotransform: tuple
    is_georeferenced: bool
    crs_wkt: str
    assigned_crs_wkt: str = ""     # the CRS the user set in QGIS for a georeferenced file without one

    def contains(self, x: float, y: float) -> bool:
        """True when the raster-CRS point lies on the raster (same rule as RasterSource.contains)."""
        gt = self.geotransform
        row, col = (y - gt[3]) / gt[5], (x - gt[0]) / gt[1]
        return 0 <= row < self.height and 0 <= col < self.width


def describe_raster(path: str) -> RasterInfo:
    """Open ``path`` with GDAL just long enough to read its facts; RasterError (one sentence) when the
    tool cannot use it (unreadable, rotated, ...)."""
    from .raster_window import RasterSource

    source = RasterSource.open(path)
    return RasterInfo(path=source.path, name=source.name, width=int(source.width), height=int(source.height),
                      geotransform=tuple(source.geotransform), is_georeferenced=bool(source.is_georeferenced),
                      crs_wkt=source.crs_wkt)
