"""The models folder and the catalogue together: what the dock, the Models… dialog, Processing and the
command line ask (list, download, import, remove, verify, a model's preset)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CatalogueError
from .blob_id import git_blob_id
from .catalogue import DEFAULT_NAME, Catalogue, load_catalogue
from .download import check_architecture, download_entry, part_path
from .entry import ModelEntry
from .import_file import import_model
from .install_folder import models_dir
from .records import entry_of_record, installed_names, read_record, record_path


@dataclass(frozen=True)
class ModelInfo:
    """One model as the front ends list it."""
    entry: ModelEntry
    installed: Path | None
    custom: bool = False
    unpinned: bool = False
    partial_bytes: int = 0   # bytes of an interrupted download waiting to be resumed

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def bundled(self) -> bool:
        return self.entry.name == DEFAULT_NAME

    @property
    def size(self) -> int | None:
        return self.installed.stat().st_size if self.installed is not None else self.entry.size

    def to_json(self) -> dict:
        data = self.entry.to_dict()
        data.update(installed=str(self.installed) if self.installed else None, size=self.size, custom=self.custom,
                    unpinned=self.unpinned, bundled=self.bundled, partial_bytes=self.partial_bytes)
        return {"name": data.pop("name"), "installed": data.pop("installed"), **data}


@dataclass(frozen=True)
class VerifyResult:
    name: str
    path: Path
    ok: bool
    git_blob: str
    expected: str | None
    message: str


class ModelStore:
    """Models in `folder` (default: models_dir()) described by `catalogue` (default: load_catalogue())."""

    def __init__(self, folder=None, catalogue: Catalogue | None = None):
        self.folder = models_dir(folder)
        self.catalogue = catalogue if catalogue is not None else load_catalogue()

    # --- reading -----------------------------------------------------------------------------------
    def installed_path(self, name: str) -> Path | None:
        if name == DEFAULT_NAME:
            from ..default_model import DEFAULT_CHECKPOINT
            return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None
        path = self.folder / f"{name}.pth"
        return path if path.is_file() else None

    def entry(self, name: str) -> ModelEntry:
        """The catalogue's entry, else that of the installed file's record (custom models)."""
        entry = self.catalogue.find(name)
        if entry is None:
            record = read_record(self.folder, name)
            entry = entry_of_record(record) if record else None
        if entry is None:
            if self.installed_path(name) is not None:
                return ModelEntry(name=name, description="Placed in the models folder by hand.", source="folder")
            raise CatalogueError(f"There is no model named {name!r} in the catalogue or the models folder "
                                 f"{self.folder}; known: {', '.join(self.names())}.")
        return entry

    def info(self, name: str) -> ModelInfo:
        entry = self.entry(name)
        record = read_record(self.folder, name) or {}
        part = part_path(self.folder, entry)
        return ModelInfo(entry=entry, installed=self.installed_path(name), custom=bool(record.get("custom")),
                         unpinned=bool(record.get("unpinned", entry.unpinned)) if name != DEFAULT_NAME else False,
                         partial_bytes=part.stat().st_size if part.is_file() else 0)

    def names(self) -> list[str]:
        names = self.catalogue.names()
        return names + [n for n in installed_names(self.folder) if n not in names]

    def models(self, installed_only: bool = False) -> list[ModelInfo]:
        """Every catalogue entry and every installed model (catalogue order, then the folder's others)."""
        infos = [self.info(name) for name in self.names()]
        return [i for i in infos if i.installed is not None] if installed_only else infos

    def preset(self, name: str) -> dict:
        """The predictor settings the model's entry recommends (PredictorSettings fields)."""
        return dict(self.entry(name).settings)

    # --- changing ----------------------------------------------------------------------------------
    def download(self, name: str, *, fetch=None, progress=None, cancel=None, retries: int = 3) -> Path:
        """Download, verify and install catalogue model `name` (see core_model.models.download)."""
        entry = self.catalogue.get(name)
        if name == DEFAULT_NAME:
            raise CatalogueError("The default model is bundled with the program and need not be downloaded.")
        return download_entry(entry, self.folder, fetch=fetch, progress=progress, cancel=cancel, retries=retries)

    def import_file(self, path, name: str | None = None) -> tuple[ModelInfo, str]:
        """Install a local file (see core_model.models.import_file); returns (its info, kind)."""
        entry, _, kind = import_model(path, self.folder, self.catalogue, name)
        return self.info(entry.name), kind

    def remove(self, name: str) -> list[Path]:
        """Delete an installed model, its record and any partial download; returns what was deleted."""
        if name == DEFAULT_NAME:
            raise CatalogueError("The default model is bundled with the program and cannot be removed.")
        entry = self.catalogue.find(name)
        paths = [self.folder / f"{name}.pth", record_path(self.folder, name)]
        if entry is not None:
            paths.append(part_path(self.folder, entry))
        removed = [p for p in paths if p.is_file()]
        if not removed:
            raise CatalogueError(f"Model {name} is not installed in {self.folder}.")
        for path in removed:
            path.unlink()
        return removed

    def verify(self, name: str) -> VerifyResult:
        """Recompute the installed file's git blob id and compare it with the catalogue's (pinned entries)
        or with the id recorded at install (custom and unpinned models); the bundled model, which has no
        pin, must pass the safe load."""
        path = self.installed_path(name)
        if path is None:
            raise CatalogueError(f"Model {name} is not installed in {self.folder}.")
        entry = self.entry(name)
        blob = git_blob_id(path)
        record = read_record(self.folder, name) or {}
        expected = entry.git_blob or record.get("git_blob")
        if expected is not None:
            ok = blob == expected
            what = "the catalogue's" if entry.git_blob else "the one recorded when it was installed"
            message = (f"{name}: {path} matches {what} git blob id {expected}." if ok else
                       f"{name}: {path} has git blob id {blob}, not {what} {expected}; download or import it again.")
            return VerifyResult(name, path, ok, blob, expected, message)
        check_architecture(path, entry)
        return VerifyResult(name, path, True, blob, None,
                            f"{name}: {path} has no pinned id ({blob}) and passes the safe load.")
