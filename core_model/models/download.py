"""Downloading a catalogue entry into the models folder, whatever carries the bytes.

The bookkeeping lives here and the transport is a parameter (core_model.models.http_fetch describes the
contract; urllib_fetch is the default, the QGIS plugin passes one on QgsNetworkAccessManager):
- the bytes go to `<name>.pth.part` in the models folder, appended: a partial file left by a cut
  connection or a Cancel is resumed with an HTTP Range request (by the next attempt, URL or call);
- a cut connection that brought new bytes is retried at once (`retries` times per URL);
- when whole, the file is verified: its git blob id must be the entry's (else it is deleted and the
  error says so in one sentence); an unpinned entry's file must pass the safe load and have the entry's
  architecture; only then is it renamed atomically to `<name>.pth` and its record written;
- the URLs are tried in order; the first that yields a verified file wins.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from ..errors import DownloadCancelled, ModelDownloadError, TransportError
from .blob_id import git_blob_id
from .entry import ModelEntry
from .records import write_record

_ACTIVE: set[Path] = set()        # part files being written by this process (one download per file)
_ACTIVE_LOCK = threading.Lock()
Progress = Callable[[int, "int | None", float], None]   # (bytes so far, total or None, bytes per second)
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def is_cancelled(cancel) -> bool:
    """`cancel`: None, a threading.Event-like object (is_set) or a callable returning True to cancel."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if is_set is not None else cancel())


def part_path(folder, entry: ModelEntry) -> Path:
    return Path(folder) / f"{entry.file_name}.part"


class PartFile:
    """The sink a transport writes into: the partial file, with progress and Cancel."""

    def __init__(self, path: Path, expected_size: int | None, progress: Progress | None = None, cancel=None,
                 label: str = ""):
        self.path, self.expected_size, self.progress, self.cancel = path, expected_size, progress, cancel
        self.label = label or path.name
        self.total: int | None = expected_size
        self._file = None
        self._t0 = time.monotonic()
        self._fresh = 0  # bytes received by this attempt (for the speed)

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def start(self, first: int, total: int | None) -> None:
        if is_cancelled(self.cancel):
            raise DownloadCancelled(f"The download of {self.label} was cancelled; its partial file is kept.")
        if self.expected_size is not None and total is not None and total != self.expected_size:
            raise ModelDownloadError(f"The server offers {total} bytes for {self.label} but the catalogue says "
                                     f"{self.expected_size}.")
        have = self.size
        if first == 0 and have:
            have = 0  # the server ignored the Range request: start again
        elif first != have:
            raise TransportError(f"The server sent {self.label} from byte {first}, not from byte {have}.")
        self.close()
        self._file = open(self.path, "r+b" if self.path.exists() else "wb")
        self._file.truncate(have)
        self._file.seek(have)
        self.total = total if total is not None else self.total
        self._t0, self._fresh = time.monotonic(), 0
        self._report()

    def write(self, chunk: bytes) -> None:
        if is_cancelled(self.cancel):
            self.close()
            raise DownloadCancelled(f"The download of {self.label} was cancelled; its partial file is kept.")
        if self._file is None:
            raise TransportError(f"The transport wrote {self.label}'s bytes before starting it.")
        if self.total is not None and self._file.tell() + len(chunk) > self.total:
            raise TransportError(f"The server sent more than the {self.total} bytes of {self.label}.")
        self._file.write(chunk)
        self._fresh += len(chunk)
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            elapsed = max(time.monotonic() - self._t0, 1e-6)
            done = self._file.tell() if self._file is not None else self.size
            self.progress(done, self.total, self._fresh / elapsed)

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def _fetch_url(fetch, url: str, sink: PartFile, retries: int) -> None:
    """The whole file from `url` into the part file: resumes what is there; retries a cut connection that
    brought new bytes, `retries` times."""
    attempts = 0
    while True:
        if sink.expected_size is not None and sink.size == sink.expected_size:
            return
        before = sink.size
        try:
            try:
                fetch(url, before, sink)
            finally:
                sink.close()
            if sink.total is not None and sink.size < sink.total:
                raise TransportError(f"The connection for {sink.label} ended after {sink.size} of {sink.total} bytes.")
            return
        except TransportError:
            if sink.size > before and attempts < retries:
                attempts += 1
                continue
            raise


def check_architecture(path: Path, entry: ModelEntry) -> str:
    """The safe load of `path` (torch, imported here only) and its architecture against the entry's;
    CheckpointError or ModelDownloadError with one sentence.  Returns the architecture's name."""
    from ..checkpoint import load_model
    model = load_model(path)
    arch = getattr(model, "arch_name", "")
    if entry.architecture and arch != entry.architecture:
        raise ModelDownloadError(f"The file for {entry.name} holds a {arch} model, not the catalogue's "
                                 f"{entry.architecture}.")
    return arch


def verify_file(path: Path, entry: ModelEntry, url: str = "") -> tuple[str, str]:
    """(git blob id, architecture or '') of a whole downloaded file; a file that fails is deleted and
    ModelDownloadError says so in one sentence."""
    where = f" from {url}" if url else ""
    blob = git_blob_id(path)
    if entry.git_blob is not None:
        if blob == entry.git_blob:
            return blob, entry.architecture
        with open(path, "rb") as f:
            head = f.read(len(LFS_POINTER))
        path.unlink()
        if head == LFS_POINTER:
            raise ModelDownloadError(f"The server{where} sent a Git LFS pointer instead of the model file "
                                     f"{entry.name}; it was deleted.")
        raise ModelDownloadError(f"The file downloaded for {entry.name}{where} has git blob id {blob}, not the "
                                 f"catalogue's {entry.git_blob}, so it was deleted.")
    try:
        arch = check_architecture(path, entry)
    except Exception:
        path.unlink()
        raise
    return blob, arch


def _sentence(exc: Exception) -> str:
    return str(exc).strip().rstrip(".")


def download_entry(entry: ModelEntry, folder, *, fetch=None, progress: Progress | None = None, cancel=None,
                   retries: int = 3) -> Path:
    """Download, verify and install `entry` into `folder`; returns the installed file's path.

    `fetch`: the transport (default urllib_fetch); `progress(bytes, total, speed)` is called from the
    calling thread as bytes arrive; `cancel` (an Event or a callable) stops it with DownloadCancelled,
    keeping the partial file for a later resume.  Any other failure is ModelDownloadError, one sentence."""
    if fetch is None:
        from .http_fetch import urllib_fetch as fetch
    if not entry.urls:
        raise ModelDownloadError(f"Model {entry.name} has no download URL; import its file instead.")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelDownloadError(f"The models folder {folder} cannot be created ({exc.strerror}).") from None
    part = part_path(folder, entry)
    with _ACTIVE_LOCK:
        if part.resolve() in _ACTIVE:
            raise ModelDownloadError(f"Model {entry.name} is being downloaded already; wait for that download.")
        _ACTIVE.add(part.resolve())
    try:
        return _download_urls(entry, folder, part, fetch, progress, cancel, retries)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(part.resolve())


def _download_urls(entry: ModelEntry, folder: Path, part: Path, fetch, progress, cancel, retries: int) -> Path:
    target = folder / entry.file_name
    failures = []
    for url in entry.urls:
        sink = PartFile(part, entry.size, progress, cancel, label=entry.name)
        try:
            _fetch_url(fetch, url, sink, retries)
            blob, arch = verify_file(part, entry, url)
        except DownloadCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed URL: its reason is kept and the next URL tried
            from ..errors import CoreModelError
            if not isinstance(exc, (CoreModelError, OSError)):
                raise
            failures.append(_sentence(exc))
            continue
        try:
            os.replace(part, target)
        except OSError as exc:
            raise ModelDownloadError(f"The verified download of {entry.name} cannot replace {target} "
                                     f"({exc.strerror}); close what uses it and download again.") from None
        write_record(folder, entry, blob, source=url, architecture=arch, unpinned=entry.unpinned)
        return target
    raise ModelDownloadError(f"Model {entry.name} could not be downloaded: {'; '.join(failures)}.")
