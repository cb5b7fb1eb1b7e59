"""engine.avalanche_schema: the one feature schema, values by field name (pure)."""
import re
from types import SimpleNamespace

from avalanche_iseg_plugin.engine.avalanche_schema import (FIELD_NAMES, FIELDS, INVENTORY_NAMES, METHOD_POINTS,
                                                           SHAPEFILE_NAMES, TERRAIN_NAMES, attributes_of,
                                                           object_attributes)

FINISHED = SimpleNamespace(source_name="ortho", n_pos=2, n_neg=1, model="avalanche_iseg_default", threshold=0.49)


def test_fields_of_a_new_layer():
    assert FIELD_NAMES[:11] == ("id", "area_m2", "perimeter_m", "source", "n_pos", "n_neg", "model", "threshold",
                                "created_utc", "method", "units")
    assert FIELD_NAMES[11:] == INVENTORY_NAMES + TERRAIN_NAMES + ("corrected_utc",)
    assert INVENTORY_NAMES == ("aval_type", "size", "moisture", "trigger", "release_date", "date_uncert_d",
                               "outline_certainty", "observer", "comment", "source_type")
    assert TERRAIN_NAMES == ("elev_min_m", "elev_max_m", "slope_mean_deg", "aspect_deg", "area_3d_m2")
    kinds = {f.name: (f.kind, f.length) for f in FIELDS}
    assert kinds["id"] == ("int", 0) and kinds["area_m2"] == ("real", 0) and kinds["source"] == ("text", 254)
    assert all(f.kind in ("int", "real", "text", "date") and (f.length > 0) == (f.kind == "text") for f in FIELDS)


def test_attributes_of_a_finished_object_by_name():
    values = attributes_of(FINISHED, feature_id=7, area=1234.5, perimeter=150.25, method=METHOD_POINTS)
    assert tuple(values) == FIELD_NAMES
    assert values == {"id": 7, "area_m2": 1234.5, "perimeter_m": 150.25, "source": "ortho", "n_pos": 2,
                      "n_neg": 1, "model": "avalanche_iseg_default", "threshold": 0.49,
                      "created_utc": values["created_utc"], "method": "points", "units": "m",
                      **{name: None for name in FIELD_NAMES[11:]}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", values["created_utc"])
    given = attributes_of(FINISHED, feature_id=1, area=1, perimeter=4, created_utc="2026-11-25T08:15:02Z")
    assert given["created_utc"] == "2026-11-25T08:15:02Z" and given["method"] == "interactive"
    assert object_attributes(FINISHED) == {"source": "ortho", "n_pos": 2, "n_neg": 1,
                                           "model": "avalanche_iseg_default", "threshold": 0.49,
                                           "method": "interactive"}


def test_shapefile_names_are_unique_and_at_most_ten_characters():
    names = [SHAPEFILE_NAMES.get(name, name) for name in FIELD_NAMES]
    assert all(len(name) <= 10 for name in names) and len(set(names)) == len(names)


def test_source_type_follows_a_photo_unless_the_analyst_chose_another():
    from avalanche_iseg_plugin.engine.inventory_form import source_type_for

    crs = 'PROJCS["CH1903+ / LV95"]'
    assert source_type_for("orthoimage", {}, crs) == "orthoimage"
    assert source_type_for("orthoimage", {"photo": "frame.png"}, crs) == "webcam"      # projected from a photo
    assert source_type_for("orthoimage", {}, "") == "webcam"                           # still in photo pixels
    assert source_type_for(None, {}, "") == "webcam"
    assert source_type_for("satellite", {"photo": "frame.png"}, crs) == "satellite"    # the analyst's choice
