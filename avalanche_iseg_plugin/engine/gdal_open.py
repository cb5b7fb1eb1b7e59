"""Opening a raster with GDAL without GDAL printing to the console: the one quiet open."""
from __future__ import annotations

from osgeo import gdal


def open_raster_file(path, error, missing: str, unreadable: str):
    """The GDAL dataset of the file ``path``; ``error`` (an AvalancheError class) with ``missing`` when
    there is no such file, or with ``unreadable`` + GDAL's reason + "; " when GDAL cannot read it (both
    sentences may use {path} and {name})."""
    import os

    path, name = str(path), os.path.basename(str(path))
    if not os.path.exists(path):       # a folder may be a raster too (an ArcInfo binary grid)
        raise error(missing.format(path=path, name=name))
    ds, message = open_quietly(path)
    if ds is None:
        raise error(unreadable.format(path=path, name=name, reason=f" ({message})" if message else ""))
    return ds


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
