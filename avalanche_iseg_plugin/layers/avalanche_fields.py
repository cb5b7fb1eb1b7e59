"""The avalanche schema (``engine.avalanche_schema``) in QGIS terms: QgsFields, writing a feature's
values by field name, and adding the avalanche record's fields to an existing inventory layer.

A field is found by its name, or by its Shapefile name (``SHAPEFILE_NAMES``: an exported inventory used
as target again gets ``rel_date``, ``perim_m``, ... filled)."""
from __future__ import annotations

from qgis.PyQt.QtCore import QVariant
from qgis.core import QgsFeature, QgsField, QgsFields, QgsVectorDataProvider

from ..engine.avalanche_schema import FIELDS, INVENTORY_FIELDS, SHAPEFILE_NAMES, TERRAIN_FIELDS, FieldSpec
from ..engine.errors import LayerError

_QT_TYPES = {"int": QVariant.Int, "real": QVariant.Double, "text": QVariant.String, "date": QVariant.Date}


def avalanche_fields() -> QgsFields:
    """The fields of a new avalanche layer, in the schema's order."""
    fields = QgsFields()
    for spec in FIELDS:
        fields.append(QgsField(spec.name, _QT_TYPES[spec.kind], len=spec.length))
    return fields


def field_index(fields: QgsFields, name: str) -> int:
    """Index of the schema field ``name`` in ``fields`` (or of its Shapefile name); -1 when absent."""
    index = fields.indexOf(name)
    return index if index >= 0 or name not in SHAPEFILE_NAMES else fields.indexOf(SHAPEFILE_NAMES[name])


def set_attributes(feature: QgsFeature, values: dict) -> None:
    """Set ``values`` (field name -> value) on ``feature`` by name; names its fields lack are skipped."""
    fields = feature.fields()
    for name, value in values.items():
        index = field_index(fields, name)
        if index >= 0:
            feature.setAttribute(index, value)


RECORD_FIELDS = INVENTORY_FIELDS + TERRAIN_FIELDS + (FieldSpec("corrected_utc", "text", 25),)


def add_avalanche_fields(layer) -> list[str]:
    """Add the avalanche record, terrain and corrected_utc fields ``layer`` lacks (never touching one it
    has, under its name or its Shapefile name); returns the names added.  LayerError when it cannot."""
    missing = [spec for spec in RECORD_FIELDS if field_index(layer.fields(), spec.name) < 0]
    if not missing:
        return []
    provider = layer.dataProvider()
    names = ", ".join(spec.name for spec in missing)
    if not provider.capabilities() & QgsVectorDataProvider.AddAttributes:
        raise LayerError(f"The layer '{layer.name()}' cannot get new fields ({names}); export it to a GeoPackage "
                         "first.")
    shapefile = provider.storageType() == "ESRI Shapefile"
    new = [QgsField(SHAPEFILE_NAMES.get(s.name, s.name) if shapefile else s.name, _QT_TYPES[s.kind], len=s.length)
           for s in missing]
    if not provider.addAttributes(new):
        raise LayerError(f"The layer '{layer.name()}' refused the new fields ({names}); is it read-only?")
    layer.updateFields()
    return [spec.name for spec in missing]
