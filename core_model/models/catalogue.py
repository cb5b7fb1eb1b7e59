"""The catalogue: the shipped entries (catalogue.json beside this file), the bundled default model, and
the entries of institution catalogue files (a path or an http(s) URL), merged by name — a file's entry
replaces a shipped one of the same name, and a later file's replaces an earlier one's.

Format of a catalogue file (JSON; only name, urls and git_blob are required):
    {"models": [{"name": "...", "urls": ["..."], "git_blob": "<40 hex>", "trained_on": "...",
                 "licence": "...", "settings": {"zoom_in": false, "threshold": 0.5, "max_longest_side": 800}}]}
"""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CatalogueError
from .entry import ModelEntry

SHIPPED_CATALOGUE = Path(__file__).resolve().parent / "catalogue.json"
DEFAULT_NAME = "default"
# Institution catalogue files read by every front end, besides those passed explicitly (os.pathsep-separated).
CATALOGUE_ENV = "AVALANCHE_ISEG_CATALOGUE"
MAX_CATALOGUE_BYTES = 4 << 20


def bundled_default_entry() -> ModelEntry:
    """The model shipped inside core_model (core_model/weights), always present; its card is MODEL_CARD.md."""
    from ..default_model import DEFAULT_CHECKPOINT
    card = DEFAULT_CHECKPOINT.parent / "MODEL_CARD.md"
    return ModelEntry(
        name=DEFAULT_NAME, urls=(), git_blob=None, trained_on="DAVIS and COCO-MVal photos (no snow)",
        architecture="hrnet18s", size=DEFAULT_CHECKPOINT.stat().st_size if DEFAULT_CHECKPOINT.is_file() else None,
        licence="GPL-3.0 (the project's licence)", citation="", card=str(card) if card.is_file() else "",
        description="The project's own small model, trained on a CPU; it has never seen an avalanche.",
        settings={"zoom_target_size": 256, "max_longest_side": 256}, source="bundled")


def parse_catalogue(text: str, source: str) -> list[ModelEntry]:
    """The entries of one catalogue file's text; CatalogueError (one sentence naming `source`) if malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"Catalogue {source} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise CatalogueError(f'Catalogue {source} must be a JSON object {{"models": [...]}}.')
    entries, seen = [], set()
    for item in data["models"]:
        entry = ModelEntry.from_dict(item, source=source, require_blob=source != "shipped")
        if entry.name in seen:
            raise CatalogueError(f"Catalogue {source} lists model {entry.name} twice.")
        if entry.name == DEFAULT_NAME:
            raise CatalogueError(f"Catalogue {source} names a model '{DEFAULT_NAME}', which is the bundled model's "
                                 "name; choose another name.")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def read_catalogue_source(source, timeout: float = 30) -> str:
    """The text of a catalogue file given as a path or an http(s)/file URL (urllib: honours the proxy
    variables)."""
    text_source = os.fspath(source)
    if urlsplit(text_source).scheme in ("http", "https", "file"):
        try:
            with urllib.request.urlopen(text_source, timeout=timeout) as resp:
                raw = resp.read(MAX_CATALOGUE_BYTES + 1)
        except OSError as exc:
            raise CatalogueError(f"Catalogue {text_source} could not be read ({getattr(exc, 'reason', exc)}).") \
                from None
    else:
        path = Path(text_source)
        if not path.is_file():
            raise CatalogueError(f"Catalogue file {path} does not exist.")
        with open(path, "rb") as f:
            raw = f.read(MAX_CATALOGUE_BYTES + 1)
    if len(raw) > MAX_CATALOGUE_BYTES:
        raise CatalogueError(f"Catalogue {text_source} is larger than {MAX_CATALOGUE_BYTES >> 20} MB.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogueError(f"Catalogue {text_source} is not UTF-8 text.") from None


class Catalogue:
    """Entries by name, in order: the bundled default, the shipped ones, then those only in files."""

    def __init__(self, entries):
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            self._entries[entry.name] = entry  # a later entry replaces an earlier one, in its place

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self):
        return len(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise CatalogueError(f"There is no model named {name!r} in the catalogue; known: "
                                 f"{', '.join(self._entries)}.") from None

    def find(self, name: str) -> ModelEntry | None:
        return self._entries.get(name)

    def by_blob(self, blob: str) -> ModelEntry | None:
        return next((e for e in self._entries.values() if e.git_blob == blob), None)


def catalogue_sources_from_env() -> list[str]:
    value = os.environ.get(CATALOGUE_ENV, "")
    return [part for part in value.split(os.pathsep) if part.strip()]


def load_catalogue(extra_sources=(), *, use_env: bool = True, texts=()) -> Catalogue:
    """The merged catalogue: bundled default + shipped + the files of $AVALANCHE_ISEG_CATALOGUE (when
    `use_env`) + `extra_sources` (paths or URLs) + `texts` ((text, source) pairs the caller has fetched
    itself, e.g. through QGIS's network stack).  Later entries replace earlier ones of the same name."""
    entries = [bundled_default_entry()]
    entries += parse_catalogue(SHIPPED_CATALOGUE.read_text(encoding="utf-8"), "shipped")
    sources = (catalogue_sources_from_env() if use_env else []) + [os.fspath(s) for s in extra_sources]
    for source in sources:
        entries += parse_catalogue(read_catalogue_source(source), source)
    for text, source in texts:
        entries += parse_catalogue(text, source)
    return Catalogue(entries)
