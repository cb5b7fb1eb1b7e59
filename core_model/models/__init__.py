"""The model catalogue and manager (pure: no Qt, no QGIS, no torch at import).

Shared by the plugin's dock and Models… dialog, Processing and ``python -m core_model.models``:
- catalogue: the shipped entries (catalogue.json), the bundled default model and institution catalogue
  files, merged by name (entry, catalogue);
- the models folder (install_folder) with one `<name>.pth` + `<name>.json` record per model (records);
- download with progress, Cancel, resume and verification by git blob id, over a swappable transport
  (download, http_fetch, blob_id); import of a local file (import_file); list / remove / verify (store);
- presets: a model's recommended predictor settings (presets).
Torch is imported only to safe-load a file the catalogue does not pin (import, unpinned downloads, verify
of the bundled model).
"""
from __future__ import annotations

from ..errors import CatalogueError, DownloadCancelled, ModelDownloadError, TransportError
from .blob_id import git_blob_id, git_blob_id_of_bytes
from .catalogue import (CATALOGUE_ENV, DEFAULT_NAME, SHIPPED_CATALOGUE, Catalogue, load_catalogue,
                        parse_catalogue, read_catalogue_source)
from .download import PartFile, download_entry, verify_file
from .entry import PRESET_FIELDS, ModelEntry
from .http_fetch import urllib_fetch
from .install_folder import MODELS_DIR_ENV, default_models_dir, models_dir
from .presets import resolve_preset
from .store import ModelInfo, ModelStore, VerifyResult

__all__ = [
    "CATALOGUE_ENV", "DEFAULT_NAME", "MODELS_DIR_ENV", "PRESET_FIELDS", "SHIPPED_CATALOGUE", "Catalogue",
    "CatalogueError", "DownloadCancelled", "ModelDownloadError", "ModelEntry", "ModelInfo", "ModelStore", "PartFile",
    "TransportError", "VerifyResult", "default_models_dir", "download_entry", "git_blob_id", "git_blob_id_of_bytes",
    "load_catalogue", "models_dir", "parse_catalogue", "read_catalogue_source", "resolve_preset", "urllib_fetch",
    "verify_file",
]
