"""A preset by name or file: the predictor settings a --preset option stands for.

`NAME` is a catalogue entry's name (its `settings`); `FILE` is a JSON file holding either the settings
themselves ({"zoom_in": false, "threshold": 0.5}) or an object with a "settings" key (e.g. one
catalogue entry).  A preset is complete: the settings it does not name are RITM's defaults
(core_model.predictor.PredictorSettings), not the checkpoint's recommendation.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import CatalogueError
from .catalogue import Catalogue, load_catalogue
from .entry import check_settings


def resolve_preset(value: str, catalogue: Catalogue | None = None) -> dict:
    """The settings of preset `value` (a catalogue name or a JSON file); CatalogueError if neither."""
    path = Path(value)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise CatalogueError(f"Preset file {path} does not exist.")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError, UnicodeDecodeError):
            raise CatalogueError(f"Preset file {path} is not a readable JSON file.") from None
        if isinstance(data, dict) and isinstance(data.get("settings"), dict):
            data = data["settings"]
        return check_settings(data, f" in preset file {path}")
    catalogue = catalogue if catalogue is not None else load_catalogue()
    entry = catalogue.find(value)
    if entry is None:
        raise CatalogueError(f"Preset {value!r} is neither a catalogue model ({', '.join(catalogue.names())}) nor a "
                             "JSON file.")
    return dict(entry.settings)
