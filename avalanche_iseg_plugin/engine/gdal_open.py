"""Opening a raster with GDAL without GDAL printing to the console: the one quiet open."""
from __future__ import annotations

from osgeo import gdal


def open_quietly(path):
    """``(dataset or None, GDAL's last error message)`` for ``path`` opened read-only; GDAL's messages
    are kept for the caller's one sentence instead of reaching stderr."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        try:
            ds = gdal.Open(str(path), gdal.GA_ReadOnly)
        except RuntimeError:   # with gdal.UseExceptions() in force
            ds = None
        message = gdal.GetLastErrorMsg()
    finally:
        gdal.PopErrorHandler()
    return ds, message.strip()
