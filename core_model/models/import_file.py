"""Installing a model file that is already on this machine (offline machines, own fine-tuned models).

The file is copied into the models folder first (a temporary name) and the copy is what gets checked
and installed.  Its git blob id decides:
- the id of a catalogue entry: installed as that entry (name, card, preset), no load needed;
- the id of the bundled default model: nothing to install;
- else the safe load (torch, imported only here) must accept it; a file named like an unpinned entry's
  download (coco_lvis_h32_itermask.pth) with that entry's architecture becomes that entry, flagged
  unpinned; anything else becomes a custom model named after the file (or `name`).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CatalogueError
from .blob_id import git_blob_id
from .catalogue import DEFAULT_NAME, Catalogue
from .entry import ModelEntry, check_name
from .records import read_record, write_record


def custom_name(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "_", path.stem).strip("._+-")[:64]
    return stem or "custom_model"


def _unpinned_match(catalogue: Catalogue, path: Path, arch: str) -> ModelEntry | None:
    for entry in catalogue:
        if entry.unpinned and entry.urls and entry.architecture == arch and any(
                Path(urlsplit(u).path).name == path.name for u in entry.urls):
            return entry
    return None


def _default_blob() -> str | None:
    from ..default_model import DEFAULT_CHECKPOINT
    return git_blob_id(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT.is_file() else None


def import_model(path, folder, catalogue: Catalogue, name: str | None = None) -> tuple[ModelEntry, Path, str]:
    """Install the file `path` into `folder`; returns (entry, installed path, kind) where kind is
    'catalogue', 'unpinned', 'custom' or 'bundled'.  CheckpointError / CatalogueError: one sentence."""
    path = Path(path)
    if not path.is_file():
        raise CatalogueError(f"Model file {path} does not exist.")
    if name is not None:
        check_name(name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".import.", suffix=".pth.part", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(path, tmp)
        blob = git_blob_id(tmp)
        entry, kind, arch = catalogue.by_blob(blob), "catalogue", ""
        if entry is None and blob == _default_blob():
            from ..default_model import DEFAULT_CHECKPOINT
            return catalogue.get(DEFAULT_NAME), DEFAULT_CHECKPOINT, "bundled"
        if entry is None:
            from ..checkpoint import load_model  # the safe load: torch, only for files the catalogue does not pin
            from ..errors import CoreModelError
            try:
                model = load_model(tmp)
            except CoreModelError as exc:   # its sentence names the user's file, not the temporary copy
                raise type(exc)(str(exc).replace(str(tmp), str(path))) from None
            arch = getattr(model, "arch_name", "")
            del model
            entry = _unpinned_match(catalogue, path, arch)
            kind = "unpinned" if entry is not None else "custom"
        if entry is None:
            entry = _custom_entry(path, folder, catalogue, name, blob, arch)
        target = folder / entry.file_name
        os.replace(tmp, target)
        write_record(folder, entry, blob, source=str(path.resolve()), architecture=arch or entry.architecture,
                     unpinned=kind == "unpinned", custom=kind == "custom")
        return entry, target, kind
    finally:
        if tmp.exists():
            tmp.unlink()


def _custom_entry(path: Path, folder: Path, catalogue: Catalogue, name: str | None, blob: str,
                  arch: str) -> ModelEntry:
    name = name or custom_name(path)
    if name in catalogue:
        raise CatalogueError(f"{name} is the name of a catalogue model but {path.name} is not that model's file; "
                             "import it under another name.")
    existing = read_record(folder, name)
    if (folder / f"{name}.pth").exists() and (existing is None or existing.get("git_blob") != blob):
        raise CatalogueError(f"A different model named {name} is installed already; remove it first or import "
                             "under another name.")
    return ModelEntry(name=name, urls=(), git_blob=blob, trained_on="unknown (imported file)", architecture=arch,
                      size=path.stat().st_size, description=f"Imported from {path.name}.", source="custom")
