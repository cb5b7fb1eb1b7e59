"""Avalanche ids that stay unique when several writers append to one GeoPackage (qgis.core + sqlite3).

A new feature gets ``max(id) + 1`` read before the edit is committed (``next_id``).  Two writers (two
QGIS windows, QGIS and the segment CLI, two CLI runs) can read the same maximum; so, for a GeoPackage,
``make_ids_unique`` runs after the commit inside one SQLite write transaction (``BEGIN IMMEDIATE``: one
writer at a time): each new feature whose id another feature already has is renumbered to the current
``max(id) + 1``.  The checks of two writers are serialised by SQLite's write lock, and each runs after its
own rows are on disk, so whichever checks second sees the clash and moves: ids are never duplicated.
Other formats (Shapefile, ...) have no such lock and keep ``max(id) + 1``.
"""
from __future__ import annotations

import sqlite3

from qgis.core import QgsProviderRegistry, QgsVectorLayer

from ..engine.errors import LayerError

#: seconds a writer waits for another one's write lock before giving up
LOCK_TIMEOUT_S = 30.0
# SQL functions GeoPackage's R-tree triggers name (GDAL defines them; plain sqlite3 does not). Those
# triggers fire only when a geometry or fid changes, never for the id updates made here, but SQLite needs
# the names to prepare the UPDATE; if one were ever called, the update fails instead of going wrong.
_TRIGGER_FUNCTIONS = ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")


def next_id(layer: QgsVectorLayer) -> int:
    """max(id) + 1 over the layer (edit buffer included); 1 for an empty layer or one with no 'id'."""
    index = layer.fields().indexOf("id")
    if index < 0:
        return 1
    value = layer.maximumValue(index)
    try:
        return int(value) + 1
    except (TypeError, ValueError):
        return 1


def _geopackage_table(layer: QgsVectorLayer) -> tuple[str, str] | None:
    """(file path, table name) when the layer is a GeoPackage table, else None."""
    if layer.providerType() != "ogr" or layer.dataProvider().storageType() != "GPKG":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path, table = parts.get("path"), parts.get("layerName")
    if not path:
        return None
    if not table:
        from osgeo import ogr

        ds = ogr.Open(path)
        table = ds.GetLayer(0).GetName() if ds is not None and ds.GetLayerCount() == 1 else None
        ds = None
    return (path, table) if table else None


def _never_called(*_args):
    raise sqlite3.OperationalError("a GeoPackage R-tree trigger fired during an id update")


def _fid_column(db: sqlite3.Connection, table: str) -> str:
    for _cid, name, _type, _notnull, _default, pk in db.execute(f'PRAGMA table_info("{table}")'):
        if pk:
            return name
    return "fid"


def make_ids_unique(layer: QgsVectorLayer, fids) -> dict[int, int]:
    """Renumber the new features ``fids`` of a GeoPackage layer whose 'id' another feature has (see the
    module doc); {fid: new id} of those renumbered (the layer is reloaded then).  LayerError when the
    write lock cannot be had."""
    fids = [int(f) for f in fids]
    where = _geopackage_table(layer)
    index = layer.fields().indexOf("id")
    if not fids or where is None or index < 0 or not layer.fields().at(index).isNumeric():
        return {}
    path, table = where
    quoted = table.replace('"', '""')
    renumbered: dict[int, int] = {}
    try:
        db = sqlite3.connect(path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise LayerError(f"The avalanche was saved, but its id could not be checked in '{layer.name()}' ({exc}).") \
            from None
    try:
        for name in _TRIGGER_FUNCTIONS:
            db.create_function(name, 1, _never_called)
        fid_col = _fid_column(db, quoted).replace('"', '""')
        db.execute("BEGIN IMMEDIATE")
        for fid in fids:
            row = db.execute(f'SELECT "id" FROM "{quoted}" WHERE "{fid_col}" = ?', (fid,)).fetchone()
            if row is None:
                continue
            clash = row[0] is None or db.execute(
                f'SELECT 1 FROM "{quoted}" WHERE "id" = ? AND "{fid_col}" <> ? LIMIT 1', (row[0], fid)).fetchone()
            if clash:
                new_id = db.execute(f'SELECT COALESCE(MAX("id"), 0) + 1 FROM "{quoted}"').fetchone()[0]
                db.execute(f'UPDATE "{quoted}" SET "id" = ? WHERE "{fid_col}" = ?', (new_id, fid))
                renumbered[fid] = int(new_id)
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise LayerError(f"The avalanche was saved, but its id could not be checked against other writers of "
                         f"'{layer.name()}' ({exc}); check the ids for duplicates.") from None
    finally:
        db.close()
    if renumbered:
        layer.reload()
    return renumbered
