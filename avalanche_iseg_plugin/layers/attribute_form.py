"""The avalanche layer's QGIS form and style (qgis.core): editor widgets, aliases, defaults, size colours.

``apply_form`` gives every avalanche field of a layer its widget — value maps for the choices of
``engine.inventory_form``, a 1–5 range for the EAWS size (empty = not assessed), a date widget for the
release date, read-only computed fields — plus aliases and default values; ``apply_size_style`` colours
the polygons by size class.  ``save_default_style`` stores both in the GeoPackage's ``layer_styles`` table
as the default style, so the form and the colours come back whenever the file is opened, in any project.
"""
from __future__ import annotations

from qgis.core import (QgsCategorizedSymbolRenderer, QgsDefaultValue, QgsEditorWidgetSetup, QgsFillSymbol,
                       QgsRendererCategory, QgsVectorLayer)

from ..engine.avalanche_schema import SHAPEFILE_NAMES
from ..engine.inventory_form import (ALIASES, CHOICES, COMPUTED, DATE_FORMAT, DEFAULTS, NOT_ASSESSED, SIZE_COLOURS,
                                     SIZE_LABELS, SIZE_RANGE)

STYLE_NAME = "avalanche inventory"
LONG_NAMES = {short: name for name, short in SHAPEFILE_NAMES.items()}   # a Shapefile's field -> schema name
NULL_VALUE = "{2839923C-8B7D-419E-B84B-CA2FE9B80EC7}"   # QGIS's value-map entry for NULL


def _widget(name: str) -> QgsEditorWidgetSetup | None:
    if name in CHOICES:
        entries = [{"(empty)": NULL_VALUE}] + [{value: value} for value in CHOICES[name]]
        return QgsEditorWidgetSetup("ValueMap", {"map": entries})
    if name == "size":
        return QgsEditorWidgetSetup("Range", {"Min": SIZE_RANGE[0], "Max": SIZE_RANGE[1], "Step": 1,
                                              "AllowNull": True, "Style": "SpinBox"})
    if name == "release_date":
        return QgsEditorWidgetSetup("DateTime", {"field_format": DATE_FORMAT, "display_format": DATE_FORMAT,
                                                 "calendar_popup": True, "allow_null": True})
    if name == "date_uncert_d":
        return QgsEditorWidgetSetup("Range", {"Min": 0, "Max": 365, "Step": 1, "AllowNull": True,
                                              "Style": "SpinBox", "Suffix": " d"})
    if name == "comment":
        return QgsEditorWidgetSetup("TextEdit", {"IsMultiline": True, "UseHtml": False})
    return None


def apply_form(layer: QgsVectorLayer) -> None:
    """Widgets, aliases, defaults and read-only computed fields for the avalanche fields ``layer`` has."""
    fields = layer.fields()
    form = layer.editFormConfig()
    for index, field in enumerate(fields):
        name = LONG_NAMES.get(field.name(), field.name())
        setup = _widget(name)
        if setup is not None:
            layer.setEditorWidgetSetup(index, setup)
        if name in ALIASES:
            layer.setFieldAlias(index, ALIASES[name])
        if name in DEFAULTS:
            layer.setDefaultValueDefinition(index, QgsDefaultValue(DEFAULTS[name]))
        if name in COMPUTED:
            form.setReadOnly(index, True)
    layer.setEditFormConfig(form)


def apply_size_style(layer: QgsVectorLayer) -> None:
    """Polygons coloured by EAWS size class (1 yellow .. 5 dark red; not assessed grey), half transparent."""
    if layer.fields().indexOf("size") < 0:
        return
    categories = []
    for size, rgb in SIZE_COLOURS.items():
        r, g, b = rgb
        symbol = QgsFillSymbol.createSimple({"color": f"{r},{g},{b},110", "outline_color": f"{r},{g},{b},255",
                                             "outline_width": "0.6"})
        value = size if size is not None else None
        categories.append(QgsRendererCategory(value, symbol, SIZE_LABELS.get(size, NOT_ASSESSED)))
    layer.setRenderer(QgsCategorizedSymbolRenderer("size", categories))


def save_default_style(layer: QgsVectorLayer) -> str:
    """Store the layer's form and style in its GeoPackage as the default style; '' or why it failed."""
    error = layer.saveStyleToDatabase(STYLE_NAME, "Avalanche inventory form and size colours", True, "")
    return error or ""


def set_up_avalanche_layer(layer: QgsVectorLayer) -> str:
    """``apply_form`` + ``apply_size_style`` + ``save_default_style`` (a layer the plugin created)."""
    apply_form(layer)
    apply_size_style(layer)
    return save_default_style(layer)
