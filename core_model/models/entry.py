"""One catalogue entry: a model file that can be downloaded or imported, with what it is and how to run it.

Only `name`, `urls` and `git_blob` are required in a catalogue file (the shipped catalogue leaves
`git_blob` empty for the one file whose id is not known: such an entry is *unpinned* and is accepted
only after the safe load and the architecture check).  `settings` is the preset: values of
core_model.predictor.PredictorSettings that replace RITM's defaults when the model is chosen.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from ..errors import CatalogueError
from .blob_id import is_blob_id

# The PredictorSettings fields a preset may set (test_models_catalogue checks this against the dataclass;
# the refinement mode is chosen separately, e.g. --brs).
PRESET_FIELDS = {
    "zoom_in": bool, "zoom_target_size": int, "zoom_skip_clicks": int, "zoom_expansion_ratio": float,
    "zoom_min_crop_size": int, "zoom_recompute_thresh_iou": float, "zoom_prob_thresh": float, "flip": bool,
    "max_longest_side": (int, type(None)), "threshold": float, "net_clicks_limit": (int, type(None)),
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_TEXT_FIELDS = ("trained_on", "architecture", "licence", "citation", "card", "description")


def check_name(name, where: str = "") -> str:
    if not isinstance(name, str) or not NAME.match(name) or name.endswith((".part", ".json")):
        raise CatalogueError(f"Model name {name!r}{where} is not usable; use 1–64 letters, digits, '.', '_', "
                             "'+' or '-', starting with a letter or digit.")
    return name


def check_settings(settings, where: str = "") -> dict:
    """A preset's settings, checked: known fields with values of the right type."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise CatalogueError(f"The settings{where} must be a JSON object such as "
                             '{"zoom_in": false, "threshold": 0.5, "max_longest_side": 800}.')
    out = {}
    for key, value in settings.items():
        kind = PRESET_FIELDS.get(key)
        if kind is None:
            raise CatalogueError(f"Unknown predictor setting {key!r}{where}; known: {', '.join(PRESET_FIELDS)}.")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = any(isinstance(value, k) and not (k is not bool and isinstance(value, bool)) for k in kinds)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise CatalogueError(f"Predictor setting {key}{where} is {value!r}, which is not a "
                                 f"{' or '.join('null' if k is type(None) else k.__name__ for k in kinds)}.")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise CatalogueError(f"Predictor setting {key}{where} is {value!r}; it must not be negative.")
        out[key] = value
    return out


@dataclass(frozen=True)
class ModelEntry:
    name: str
    urls: tuple[str, ...] = ()
    git_blob: str | None = None          # None: unpinned (accepted after the safe load and architecture check)
    trained_on: str = ""
    architecture: str = ""               # core_model's arch name: hrnet18s, hrnet18, hrnet32
    size: int | None = None              # exact bytes, when known (a download of another size is refused)
    size_mb: float | None = None         # as published, for display
    licence: str = ""
    citation: str = ""
    description: str = ""
    card: str = ""                       # a model card: path relative to the package, or text/URL
    avalanche: bool = False              # trained on avalanche images (the dock marks these)
    settings: dict = field(default_factory=dict)   # the preset
    published: dict = field(default_factory=dict)  # the authors' figures, e.g. {"GrabCut": {"NoC@90": 1.54}}
    source: str = "shipped"              # where the entry came from: shipped, a catalogue file, bundled

    @property
    def unpinned(self) -> bool:
        return self.git_blob is None

    @property
    def file_name(self) -> str:
        """The name the file is installed under."""
        return f"{self.name}.pth"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["urls"] = list(self.urls)
        data["unpinned"] = self.unpinned
        return data

    @classmethod
    def from_dict(cls, data, source: str = "shipped", require_blob: bool = True) -> "ModelEntry":
        where = f" in {source}"
        if not isinstance(data, dict):
            raise CatalogueError(f"A model entry{where} is not a JSON object.")
        name = check_name(data.get("name"), where)
        where = f" of model {name} in {source}"
        urls = data.get("urls", [])
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise CatalogueError(f"The urls{where} must be a list of strings.")
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https", "file"):
                raise CatalogueError(f"The URL {url[:120]!r}{where} is not an http(s) or file URL.")
        blob = data.get("git_blob")
        if blob is not None:
            blob = blob.lower() if isinstance(blob, str) else blob
            if not is_blob_id(blob):
                raise CatalogueError(f"The git_blob{where} is {str(blob)[:60]!r}, not 40 hexadecimal digits.")
        elif require_blob:
            raise CatalogueError(f"The entry{where} has no git_blob (40 hexadecimal digits, as `git hash-object` "
                                 "prints).")
        if require_blob and not urls:
            raise CatalogueError(f"The entry{where} has no urls.")
        kwargs = {}
        for key in _TEXT_FIELDS:
            if key in data and data[key] is not None:
                if not isinstance(data[key], str):
                    raise CatalogueError(f"The field {key}{where} must be a string.")
                kwargs[key] = data[key]
        size = data.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            raise CatalogueError(f"The size{where} must be a positive number of bytes.")
        size_mb = data.get("size_mb")
        if size_mb is not None and (not isinstance(size_mb, (int, float)) or isinstance(size_mb, bool)):
            raise CatalogueError(f"The size_mb{where} must be a number.")
        published = data.get("published") or {}
        if not isinstance(published, dict):
            raise CatalogueError(f"The published figures{where} must be a JSON object.")
        return cls(name=name, urls=tuple(urls), git_blob=blob, size=size, size_mb=size_mb,
                   avalanche=bool(data.get("avalanche", False)), settings=check_settings(data.get("settings"), where),
                   published=published, source=source, **kwargs)
