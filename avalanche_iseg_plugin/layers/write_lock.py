"""One writer at a time per avalanche file, across processes (qgis.core/QtCore).

GDAL's GeoPackage driver is not made for two programs writing one file at the same moment: while one
enters update mode it swaps the file's feature-count triggers, and a second writer then sees "database
is locked", "unable to open database file" or a layer that refuses new features.  Every write of this
plugin (the map tool, the segment CLI, Processing, several QGIS windows) therefore takes a lock named
after the file's absolute path, in the system's temporary folder (nothing is written beside the user's
data).  ``QLockFile`` notices a lock left by a crashed process and takes it over.
Writers on other machines (a network share) are not covered; ``feature_ids.make_ids_unique`` still keeps
their ids unique.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager

from qgis.PyQt.QtCore import QDir, QLockFile
from qgis.core import QgsProviderRegistry, QgsVectorLayer

from ..engine.errors import LayerError

#: seconds a writer waits for another one to finish saving
WAIT_S = 60.0


def _data_file(layer: QgsVectorLayer) -> str | None:
    """The file behind a file-based (OGR) layer, else None."""
    if layer.providerType() != "ogr":
        return None
    path = QgsProviderRegistry.instance().decodeUri("ogr", layer.source()).get("path")
    return os.path.abspath(path) if path and os.path.exists(path) else None


def lock_path(data_file: str) -> str:
    key = hashlib.sha1(os.path.normcase(os.path.realpath(data_file)).encode("utf-8")).hexdigest()[:16]
    return os.path.join(QDir.tempPath(), f"avalanche-iseg-{key}.lock")


@contextmanager
def one_writer(layer: QgsVectorLayer):
    """Hold the file's write lock for the block (a no-op for layers without a file)."""
    data_file = _data_file(layer)
    if data_file is None:
        yield
        return
    with file_lock(data_file, layer.name(), "nothing was written: finish again when it is done."):
        yield


@contextmanager
def file_lock(data_file: str, name: str, outcome: str):
    """Hold the write lock of ``data_file`` (an existing file) for the block; LayerError naming ``name`` and
    saying ``outcome`` when another program holds it for over WAIT_S.  Opening a layer takes it too: a
    GeoPackage read while another process writes it can come up without its CRS (SQLite is locked)."""
    lock = QLockFile(lock_path(os.path.abspath(data_file)))
    lock.setStaleLockTime(0)  # a lock is stale only when its process is gone, however long a save takes
    if not lock.tryLock(int(WAIT_S * 1000)):
        raise LayerError(f"Another program has been saving to '{name}' for over {WAIT_S:.0f} s; {outcome}")
    try:
        yield
    finally:
        lock.unlock()
