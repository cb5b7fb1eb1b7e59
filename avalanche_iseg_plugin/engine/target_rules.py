"""Which layer receives finished avalanches, and in which units: the rules, without Qt or QGIS.

* A target is only ever a layer the user chose (or created). A layer that lacks some avalanche fields is
  used only after the user confirmed which of them stay empty; the user may map an avalanche field to
  a field of the layer once, and that mapping is kept with the layer (``FieldMapping``).
* The remembered target belongs to the project: its layer id and source. When the project no longer has
  a layer with that id and source, the memory is dropped with a message (``resolve_remembered``).
* A correction writes into the corrected polygon's own layer and leaves the target as it is.
* Units follow the raster: metres for a projected raster, degrees for a geographic one, the map units
  of its geotransform ("u") for a raster with a georeference but no CRS (a local grid, a world file
  without .prj), pixels for a photo without georeference (``raster_units``); the ``units`` field says
  ``m`` (m², m), ``u`` (map units², map units) or ``px`` (pixel², pixels) (``units_field``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .avalanche_schema import FIELD_NAMES, FIELDS, SHAPEFILE_NAMES

#: avalanche fields the writer fills on every feature (all of the schema)
SCHEMA_FIELDS = FIELD_NAMES
_COMPATIBLE = {"int": ("int",), "real": ("real", "int"), "text": ("text",), "date": ("date", "text")}


@dataclass
class FieldMapping:
    """Avalanche field name -> the layer's field that receives it (only for fields the layer lacks)."""
    renamed: dict = field(default_factory=dict)
    confirmed: bool = False        # the user agreed to write into this layer

    def to_json(self) -> str:
        return json.dumps({"renamed": self.renamed, "confirmed": self.confirmed}, sort_keys=True)

    @classmethod
    def from_json(cls, text) -> "FieldMapping":
        try:
            data = json.loads(text) if text else {}
            renamed = {str(k): str(v) for k, v in dict(data.get("renamed", {})).items()}
            return cls(renamed, bool(data.get("confirmed", False)))
        except (TypeError, ValueError, AttributeError):
            return cls()

    def apply(self, values: dict) -> dict:
        """``values`` (avalanche field -> value) with the mapped names added for the layer's fields."""
        out = dict(values)
        for schema_name, layer_name in self.renamed.items():
            if schema_name in values and layer_name:
                out[layer_name] = values[schema_name]
        return out


def missing_fields(layer_fields, mapping: FieldMapping | None = None) -> list[str]:
    """The avalanche fields that stay empty in a layer with ``layer_fields`` (names), after ``mapping``."""
    have = {str(n).lower() for n in layer_fields}
    renamed = mapping.renamed if mapping else {}
    return [name for name in SCHEMA_FIELDS if name.lower() not in have and not renamed.get(name)
            and SHAPEFILE_NAMES.get(name, name).lower() not in have]     # an exported Shapefile's short names


def mapping_candidates(schema_name: str, layer_fields: dict) -> list[str]:
    """Layer fields (name -> kind 'int'/'real'/'text'/other) an avalanche field may be written to."""
    kind = next(f.kind for f in FIELDS if f.name == schema_name)
    taken = {n.lower() for n in SCHEMA_FIELDS} | {n.lower() for n in SHAPEFILE_NAMES.values()}
    return [n for n, k in layer_fields.items() if k in _COMPATIBLE[kind] and n.lower() not in taken]


def needs_confirmation(layer_fields, mapping: FieldMapping | None) -> bool:
    """True when the layer lacks avalanche fields and the user has not agreed to use it yet."""
    return bool(missing_fields(layer_fields, mapping)) and not (mapping and mapping.confirmed)


def confirmation_text(layer_name: str, empty: list[str]) -> str:
    return (f"The layer '{layer_name}' is not an avalanche layer: the field(s) {', '.join(empty)} will stay "
            "empty for the avalanches you add. Map them to fields of the layer below, or create a new avalanche "
            "layer with 'New…' instead.")


# ---------------------------------------------------------------- remembered target (per project)
@dataclass(frozen=True)
class RememberedTarget:
    layer_id: str
    source: str


def resolve_remembered(remembered: RememberedTarget | None, layers: dict) -> tuple[str | None, str | None]:
    """(layer id to use, message) from the project's remembered target and ``layers`` (id -> source):
    the id when that layer is still there with the same source; else None and, when something was
    remembered, the sentence saying it was dropped."""
    if remembered is None or not remembered.layer_id:
        return None, None
    if layers.get(remembered.layer_id) == remembered.source:
        return remembered.layer_id, None
    return None, (f"The avalanche layer this project used before ({remembered.source}) is no longer in the project: "
                  "choose a target layer in the dock or create one with 'New…'.")


# ---------------------------------------------------------------- units
UNITS_METRES, UNITS_PIXELS, UNITS_DEGREES, UNITS_MAP = "m", "px", "°", "u"


def raster_units(is_georeferenced: bool, crs_valid: bool, crs_geographic: bool = False) -> str:
    """The unit of the raster's coordinates: px for a photo (no geotransform), u (the geotransform's map
    units) for a georeferenced raster without CRS, ° for a geographic CRS, else m."""
    if not is_georeferenced:
        return UNITS_PIXELS
    if not crs_valid:
        return UNITS_MAP
    return UNITS_DEGREES if crs_geographic else UNITS_METRES


def unit_suffixes(units: str) -> tuple[str, str]:
    """(area suffix, length suffix) of the dock's Min area and Simplify fields."""
    if units == UNITS_DEGREES:
        return " deg²", " °"
    return f" {units}²", f" {units}"


def units_field(layer_crs_valid: bool, raster_georeferenced: bool = False) -> str:
    """The ``units`` value of a feature: m for a layer with a CRS (areas measured in m²); without one,
    u (map units) for polygons from a georeferenced raster, px for a photo's."""
    if layer_crs_valid:
        return UNITS_METRES
    return UNITS_MAP if raster_georeferenced else UNITS_PIXELS


def finished_units(finished) -> str:
    """The ``units`` value of a ``FinishedObject``'s features when written in its raster's CRS."""
    source = finished.window.source
    return units_field(bool(finished.raster_crs_wkt), bool(getattr(source, "is_georeferenced", True)))


def units_note(units: str) -> str:
    if units == UNITS_PIXELS:
        return "Photo without georeference: digitised in pixel units (px², px)."
    if units == UNITS_MAP:
        return ("The raster has a georeference but no CRS: Min area, Simplify and the areas written are in its "
                "map units (u², u); set its CRS (Layer Properties > Source) to work in metres.")
    if units == UNITS_DEGREES:
        return "The raster is in degrees: Min area and Simplify are in degrees; areas are written in m²."
    return "Map units: metres."
