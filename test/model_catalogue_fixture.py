"""An institution catalogue served on 127.0.0.1 for the plugin's model tests and the Models… screenshot:
`snow_test` is the bundled default model's bytes under another name with the avalanche fork's preset
(a real checkpoint, so the real predictor can load it), `snow_bad` promises an id its bytes do not have."""
from __future__ import annotations

import json
from pathlib import Path

from core_model.default_model import DEFAULT_CHECKPOINT
from core_model.models import git_blob_id_of_bytes

SNOW_PRESET = {"zoom_in": False, "threshold": 0.5, "max_longest_side": 800}


def serve_catalogue(server, folder: Path) -> Path:
    """Puts the model files on `server` (a started LoopbackServer) and writes the catalogue file that
    points at them into `folder`; returns the catalogue file's path."""
    data = DEFAULT_CHECKPOINT.read_bytes()
    server.files["/m/snow_test.pth"] = data
    server.files["/m/snow_bad.pth"] = data[:-1] + bytes([data[-1] ^ 0xFF])     # one flipped byte
    models = [
        {"name": "snow_test", "urls": [server.url("/m/snow_test.pth")], "git_blob": git_blob_id_of_bytes(data),
         "trained_on": "test slopes", "architecture": "hrnet18s", "licence": "test", "avalanche": True,
         "description": "The bundled model's file, served on 127.0.0.1 as an institution's model.",
         "settings": SNOW_PRESET},
        {"name": "snow_bad", "urls": [server.url("/m/snow_bad.pth")], "git_blob": git_blob_id_of_bytes(data),
         "trained_on": "tampered bytes", "licence": "test", "settings": SNOW_PRESET},
    ]
    path = Path(folder) / "institution_catalogue.json"
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path
