"""The webcam attributes of a projected avalanche, as fields of the avalanche layer (qgis.core).

``add_missing_fields`` adds the fields of ``engine.webcam.finish_on_terrain.WEBCAM_FIELDS`` (and the
optional pixel outline) that the layer lacks.  Call it only for the layer the user chose as target;
it never touches a field that exists.
"""
from __future__ import annotations

from qgis.core import QgsField, QgsVectorDataProvider
from qgis.PyQt.QtCore import QVariant

from ..engine.errors import LayerError

TYPES = {"string": QVariant.String, "real": QVariant.Double, "integer": QVariant.Int}


def add_missing_fields(layer, specs) -> list[str]:
    """Add the (name, type, width) ``specs`` the layer has not got; returns the names added.
    LayerError (one sentence) when the layer cannot get new fields."""
    names = layer.fields().names()
    missing = [s for s in specs if s[0] not in names]
    if not missing:
        return []
    provider = layer.dataProvider()
    if not provider.capabilities() & QgsVectorDataProvider.AddAttributes:
        raise LayerError(f"The layer '{layer.name()}' cannot get the webcam fields "
                         f"({', '.join(s[0] for s in missing)}); choose a GeoPackage avalanche layer.")
    fields = [QgsField(name, TYPES[kind], len=width) for name, kind, width in missing]
    if not provider.addAttributes(fields):
        raise LayerError(f"The layer '{layer.name()}' refused the webcam fields "
                         f"({', '.join(s[0] for s in missing)}); is it read-only?")
    layer.updateFields()
    return [s[0] for s in missing]
