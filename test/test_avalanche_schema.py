"""engine.avalanche_schema: the one feature schema, values by field name (pure)."""
import re
from types import SimpleNamespace

from avalanche_iseg_plugin.engine.avalanche_schema import (FIELD_NAMES, FIELDS, METHOD_POINTS, attributes_of,
                                                           object_attributes)

FINISHED = SimpleNamespace(source_name="ortho", n_pos=2, n_neg=1, model="avalanche_iseg_default", threshold=0.49)


def test_fields_of_a_new_layer():
    assert FIELD_NAMES == ("id", "area_m2", "perimeter_m", "source", "n_pos", "n_neg", "model", "threshold",
                           "created_utc", "method", "units")
    kinds = {f.name: (f.kind, f.length) for f in FIELDS}
    assert kinds["id"] == ("int", 0) and kinds["area_m2"] == ("real", 0) and kinds["source"] == ("text", 254)
    assert all(f.kind in ("int", "real", "text") and (f.length > 0) == (f.kind == "text") for f in FIELDS)


def test_attributes_of_a_finished_object_by_name():
    values = attributes_of(FINISHED, feature_id=7, area=1234.5, perimeter=150.25, method=METHOD_POINTS)
    assert tuple(values) == FIELD_NAMES
    assert values == {"id": 7, "area_m2": 1234.5, "perimeter_m": 150.25, "source": "ortho", "n_pos": 2,
                      "n_neg": 1, "model": "avalanche_iseg_default", "threshold": 0.49,
                      "created_utc": values["created_utc"], "method": "points", "units": "m"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", values["created_utc"])
    given = attributes_of(FINISHED, feature_id=1, area=1, perimeter=4, created_utc="2026-11-25T08:15:02Z")
    assert given["created_utc"] == "2026-11-25T08:15:02Z" and given["method"] == "interactive"
    assert object_attributes(FINISHED) == {"source": "ortho", "n_pos": 2, "n_neg": 1,
                                           "model": "avalanche_iseg_default", "threshold": 0.49,
                                           "method": "interactive"}
