"""The record beside each installed model: `<name>.json` next to `<name>.pth` in the models folder.

It keeps what the folder alone cannot tell: the entry the file was installed as (so a custom import or
an entry from an institution catalogue that is no longer configured still lists with its card and
preset), the file's git blob id when installed (for verify), where it came from, and whether it is a
custom model or an unpinned catalogue file.  Written atomically.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .entry import ModelEntry

RECORD_SUFFIX = ".json"


def record_path(folder, name: str) -> Path:
    return Path(folder) / f"{name}{RECORD_SUFFIX}"


def write_record(folder, entry: ModelEntry, blob: str, *, source: str, architecture: str = "",
                 unpinned: bool = False, custom: bool = False) -> Path:
    data = {"name": entry.name, "git_blob": blob, "source": source, "architecture": architecture or entry.architecture,
            "unpinned": unpinned, "custom": custom, "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "entry": entry.to_dict()}
    path = record_path(folder, entry.name)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_record(folder, name: str) -> dict | None:
    """The record of `name`, or None when missing or unreadable (a hand-placed file has none)."""
    path = record_path(folder, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("name") == name else None


def entry_of_record(record: dict) -> ModelEntry | None:
    """The entry stored in a record (custom models, entries of catalogues no longer configured)."""
    from ..errors import CatalogueError
    try:
        entry = ModelEntry.from_dict({k: v for k, v in record.get("entry", {}).items()
                                      if k not in ("unpinned", "source")},
                                     source=str(record.get("entry", {}).get("source", "record")), require_blob=False)
    except (CatalogueError, AttributeError):
        return None
    return entry


def installed_names(folder) -> list[str]:
    """Names of the `<name>.pth` files in the folder (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pth") if p.is_file())
