"""The avalanche schema (``engine.avalanche_schema``) in QGIS terms: QgsFields, and writing a feature's
values by field name."""
from __future__ import annotations

from qgis.PyQt.QtCore import QVariant
from qgis.core import QgsFeature, QgsField, QgsFields

from ..engine.avalanche_schema import FIELDS

_QT_TYPES = {"int": QVariant.Int, "real": QVariant.Double, "text": QVariant.String, "date": QVariant.Date}


def avalanche_fields() -> QgsFields:
    """The fields of a new avalanche layer, in the schema's order."""
    fields = QgsFields()
    for spec in FIELDS:
        fields.append(QgsField(spec.name, _QT_TYPES[spec.kind], len=spec.length))
    return fields


def set_attributes(feature: QgsFeature, values: dict) -> None:
    """Set ``values`` (field name -> value) on ``feature`` by name; names its fields lack are skipped."""
    fields = feature.fields()
    for name, value in values.items():
        if fields.indexOf(name) >= 0:
            feature.setAttribute(name, value)
