"""The files of a GeoPackage this tool created, when creating or filling it failed: why writing failed (a
full disk, a file size limit) and removing a new file that holds nothing, so that no broken or empty
GeoPackage is left behind.  A file that holds features is never removed (nothing digitised is lost)."""
from __future__ import annotations

import os
import shutil

#: free bytes below which a failed write is put down to a full disk
FULL_DISK_BYTES = 1 << 20
#: the files SQLite keeps beside a database while it is open or after a crash
SIDE_FILES = ("-wal", "-shm", "-journal")


def why_writing_failed(path: str) -> str:
    """' (the disk is full)' or similar for an error sentence about writing ``path``; '' when unknown."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < FULL_DISK_BYTES:
        return f" (the disk is full: {free // 1024} KB free)"
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            return f" (the file size limit of {limit} bytes was reached)"
    except (ImportError, OSError, ValueError):  # no resource module on Windows
        pass
    return " (the disk may be full)"


def remove_geopackage(path: str) -> None:
    """Remove the GeoPackage ``path`` and SQLite's side files; missing files are fine."""
    for name in (path, *(path + suffix for suffix in SIDE_FILES)):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def holds_features(path: str) -> bool:
    """True when ``path`` is a readable GeoPackage with at least one feature in any layer; a file GDAL
    cannot read (broken by a failed write) holds none, and the saved styles (``layer_styles``) are no
    features."""
    from osgeo import gdal, ogr

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = ogr.Open(path)
        if ds is None:
            return False
        layers = [ds.GetLayer(i) for i in range(ds.GetLayerCount())]
        return any(layer.GetFeatureCount() > 0 for layer in layers if layer.GetName() != "layer_styles")
    finally:
        ds = None
        gdal.PopErrorHandler()


def discard_if_empty(path: str) -> bool:
    """Remove the GeoPackage ``path`` (one this run created) when it holds no feature; True if removed."""
    if not os.path.exists(path) or holds_features(path):
        return False
    remove_geopackage(path)
    return True
