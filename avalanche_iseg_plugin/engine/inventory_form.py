"""The avalanche record's form, without QGIS: allowed values, labels, defaults and the size-class colours.

``layers.attribute_form`` turns this into QGIS editor widgets (value maps, a 1–5 range, a date widget),
aliases, default values and a style; the dock's "attributes of the next avalanche" offers the same
choices.  Values are stored as the plain words below (``slab``, ``partly visible``, ...), so an inventory
reads the same in any GIS.
"""
from __future__ import annotations

#: field -> allowed values (stored as they are), in the order offered
CHOICES = {
    "aval_type": ("slab", "loose", "glide", "cornice", "unknown"),
    "moisture": ("dry", "wet", "mixed", "unknown"),
    "trigger": ("natural", "human", "explosive", "unknown"),
    "outline_certainty": ("certain", "partly visible", "estimated"),
    "source_type": ("orthoimage", "webcam", "satellite", "other"),
}
#: EAWS avalanche size: 1 (small) .. 5 (extremely large); empty = not assessed
SIZE_RANGE = (1, 5)
SIZE_LABELS = {1: "1 small", 2: "2 medium", 3: "3 large", 4: "4 very large", 5: "5 extremely large"}
NOT_ASSESSED = "not assessed"
#: RGB of each size class (yellow .. dark red) and of 'not assessed' (grey)
SIZE_COLOURS = {1: (255, 237, 111), 2: (254, 178, 76), 3: (253, 106, 50), 4: (215, 25, 28), 5: (128, 0, 38),
                None: (150, 150, 150)}

ALIASES = {
    "aval_type": "Avalanche type", "size": "Size (EAWS 1–5)", "moisture": "Snow moisture", "trigger": "Trigger",
    "release_date": "Release date", "date_uncert_d": "Date uncertainty (± days)",
    "outline_certainty": "Outline certainty", "observer": "Observer", "comment": "Comment",
    "source_type": "Source", "elev_min_m": "Lowest point (m)", "elev_max_m": "Highest point (m)",
    "slope_mean_deg": "Mean slope (°)", "aspect_deg": "Aspect (°, circular mean)",
    "area_3d_m2": "Surface area (m²)", "corrected_utc": "Corrected (UTC)",
    "area_m2": "Area (m²)", "perimeter_m": "Perimeter (m)", "created_utc": "Created (UTC)",
}
#: QGIS default-value expressions of a new feature drawn by hand in the layer
DEFAULTS = {"aval_type": "'unknown'", "moisture": "'unknown'", "trigger": "'unknown'",
            "outline_certainty": "'certain'", "source_type": "'orthoimage'", "date_uncert_d": "0",
            "observer": "@user_full_name"}
DATE_FORMAT = "yyyy-MM-dd"
#: the fields the plugin computes: read-only in the form
COMPUTED = ("fid", "id", "area_m2", "perimeter_m", "n_pos", "n_neg", "model", "threshold", "created_utc", "method",
            "elev_min_m", "elev_max_m", "slope_mean_deg", "aspect_deg", "area_3d_m2", "corrected_utc")


def check_record(values: dict) -> str | None:
    """Why ``values`` (field -> value) is not a valid avalanche record (None when it is)."""
    for name, allowed in CHOICES.items():
        value = values.get(name)
        if value not in (None, "") and value not in allowed:
            return f"'{value}' is not an allowed {ALIASES[name].lower()}: use one of {', '.join(allowed)}."
    size = values.get("size")
    if size not in (None, "") and not (isinstance(size, int) and SIZE_RANGE[0] <= size <= SIZE_RANGE[1]):
        return f"The avalanche size must be 1 to 5 (EAWS) or empty, not '{size}'."
    return None


def source_type_for(chosen, attributes: dict, raster_crs_wkt) -> str | None:
    """The ``source_type`` an avalanche gets: what the analyst chose, except that the default (orthoimage)
    becomes ``webcam`` for an avalanche from a photo (projected from one: a ``photo`` attribute; or still
    in photo pixels: no raster CRS)."""
    from_photo = bool(attributes.get("photo")) or not raster_crs_wkt
    return "webcam" if from_photo and chosen in (None, "", "orthoimage") else chosen
