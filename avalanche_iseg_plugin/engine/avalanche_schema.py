"""The avalanche feature schema: the fields every front end writes, and their values, by name.

Fields of an avalanche layer the plugin creates (GeoPackage, MultiPolygon), in this order:
``id`` (int, max(id)+1), ``area_m2``, ``perimeter_m`` (real; pixel² and pixels for layers without
CRS), ``source`` (raster name), ``n_pos``, ``n_neg`` (int), ``model`` (text), ``threshold`` (real),
``created_utc`` (ISO 8601 text, UTC, e.g. ``2026-11-25T08:15:02Z``), ``method`` (``interactive``,
``corrected``, ``points``), ``units`` (``m``, or ``px`` when area_m2/perimeter_m hold pixels); then the avalanche record (``INVENTORY_FIELDS``: aval_type, size,
moisture, trigger, release_date, date_uncert_d, outline_certainty, observer, comment, source_type —
filled by the analyst, never by correction), the terrain from a DEM (``TERRAIN_FIELDS``:
engine.terrain_attributes) and ``corrected_utc``.  Writers set values by field name, never by position, so a layer whose
fields are in another order (or an existing inventory with only some of them) gets the right values.

Pure Python: ``layers.avalanche_fields`` turns ``FIELDS`` into QgsFields.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

METHOD_INTERACTIVE = "interactive"
METHOD_CORRECTED = "corrected"
METHOD_POINTS = "points"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # "int", "real", "text" or "date"
    length: int = 0  # text fields only


FIELDS = (
    FieldSpec("id", "int"),
    FieldSpec("area_m2", "real"),
    FieldSpec("perimeter_m", "real"),
    FieldSpec("source", "text", 254),
    FieldSpec("n_pos", "int"),
    FieldSpec("n_neg", "int"),
    FieldSpec("model", "text", 100),
    FieldSpec("threshold", "real"),
    FieldSpec("created_utc", "text", 25),
    FieldSpec("method", "text", 20),
    FieldSpec("units", "text", 2),   # "m" (area_m2 in m², perimeter_m in m), "u" (map units² / map units:
    #                                   a georeferenced raster without CRS) or "px" (pixel² / pixels: photos)
)
#: the avalanche itself, as the analyst records it (allowed values: engine.avalanche_form)
INVENTORY_FIELDS = (
    FieldSpec("aval_type", "text", 10), FieldSpec("size", "int"), FieldSpec("moisture", "text", 10),
    FieldSpec("trigger", "text", 10), FieldSpec("release_date", "date"), FieldSpec("date_uncert_d", "int"),
    FieldSpec("outline_certainty", "text", 16), FieldSpec("observer", "text", 100),
    FieldSpec("comment", "text", 254), FieldSpec("source_type", "text", 12),
)
#: computed from a DEM (engine.terrain_attributes); empty without one
TERRAIN_FIELDS = (FieldSpec("elev_min_m", "real"), FieldSpec("elev_max_m", "real"), FieldSpec("slope_mean_deg", "real"),
                  FieldSpec("aspect_deg", "real"), FieldSpec("area_3d_m2", "real"))
FIELDS = FIELDS + INVENTORY_FIELDS + TERRAIN_FIELDS + (FieldSpec("corrected_utc", "text", 25),)
FIELD_NAMES = tuple(f.name for f in FIELDS)
INVENTORY_NAMES = tuple(f.name for f in INVENTORY_FIELDS)
TERRAIN_NAMES = tuple(f.name for f in TERRAIN_FIELDS)
#: Shapefile field names are limited to 10 characters: these are renamed on export.
SHAPEFILE_NAMES = {"perimeter_m": "perim_m", "created_utc": "created", "release_date": "rel_date",
                   "date_uncert_d": "date_unc_d", "outline_certainty": "outl_cert", "source_type": "src_type",
                   "slope_mean_deg": "slope_deg", "corrected_utc": "corrected"}


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC, to the second (e.g. 2026-11-25T08:15:02Z)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_attributes(finished, method: str = METHOD_INTERACTIVE) -> dict:
    """What a ``session.FinishedObject`` says about itself: source, n_pos, n_neg, model, threshold,
    plus ``method``; the writer adds id, area_m2, perimeter_m and created_utc."""
    return {"source": finished.source_name, "n_pos": finished.n_pos, "n_neg": finished.n_neg,
            "model": finished.model, "threshold": finished.threshold, "method": method}


def attributes_of(finished, *, feature_id: int, area: float, perimeter: float,
                  method: str = METHOD_INTERACTIVE, created_utc: str | None = None, units: str = "m") -> dict:
    """Every field of the schema (name -> value) for one feature of ``finished``; ``area`` and
    ``perimeter`` are measured by the caller in the layer's CRS."""
    values = {"id": int(feature_id), "area_m2": float(area), "perimeter_m": float(perimeter),
              **object_attributes(finished, method), "created_utc": created_utc or utc_now_iso(),
              "units": units}
    return {name: values.get(name) for name in FIELD_NAMES}
