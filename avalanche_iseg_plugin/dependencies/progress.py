"""pip's output read as progress in packages and bytes (pip 23 to 25): what is being downloaded, how many
megabytes of about how many, how many packages — instead of raw pip lines.

The lines read: ``Collecting NAME`` (a package is needed), ``Downloading FILE-or-URL (27.8 MB)`` (a download
starts; ``.metadata`` files are not counted), ``Using cached FILE (27.8 MB)`` and ``Processing FILE`` (no
download), the progress bar's last line ``━━━ 12.1/27.8 MB …`` (pip's rich bar), ``Progress N of M`` (pip ≥
24.1 with ``--progress-bar raw``: bytes; later pips add a task prefix and ``bytes``, M may be ``?``), ``Installing collected packages: a, b`` and ``Successfully installed
…``. Anything else (warnings, retries) changes nothing; unknown formats leave the figures where they were."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

_UNITS = {"B": 1, "BYTES": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3}
_COLLECTING = re.compile(r"^\s*Collecting\s+([A-Za-z0-9][A-Za-z0-9._-]*)")
_DOWNLOADING = re.compile(r"^\s*(Downloading|Using cached)\s+(\S+)(?:\s+\(([\d.]+)\s*([kKMG]i?B|bytes|B)\))?")
_PROCESSING = re.compile(r"^\s*Processing\s+(\S+)")
_BAR = re.compile(r"([\d.]+)/([\d.]+)\s*([kKMG]i?B|bytes)\b")
_RAW = re.compile(r"\bProgress\s+(\d+)\s+of\s+(\d+|\?)(?:\s+bytes)?\s*$")   # pip 24.1+; 25.x: prefix, 'bytes'
_INSTALLING = re.compile(r"^\s*Installing collected packages:\s*(.*)$")
_DONE = re.compile(r"^\s*Successfully installed\s+(.*)$")


def _bytes(value: str, unit: str) -> int:
    return int(float(value) * _UNITS.get(unit.upper(), 1))


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def package_of(location: str) -> str:
    """'…/opencv_python_headless-4.11.0.86-cp37-abi3-….whl' -> 'opencv-python-headless'."""
    name = unquote(os.path.basename(location.rstrip("/")))
    return name.split("-")[0].replace("_", "-").lower() if name else ""


@dataclass
class PipProgress:
    """Feed it pip's lines; ``fraction`` (0..1) and ``text`` say where the step is."""
    expected_bytes: float = 0.0          # what the step usually downloads (the denominator until exceeded)
    stage: str = "starting"              # starting, resolving, downloading, installing, done
    packages: list = field(default_factory=list)     # names needed, in pip's order
    sizes: dict = field(default_factory=dict)        # name -> bytes of its download (finished or running)
    done_bytes: float = 0.0              # finished downloads
    current: str = ""                    # the package being downloaded
    current_bytes: float = 0.0           # of it so far
    installed: list = field(default_factory=list)

    def feed(self, line: str) -> bool:
        """Reads one line of pip's output; True when the figures changed."""
        match = _RAW.search(line)
        if match and self.current:
            self.current_bytes = float(match.group(1))
            return True
        match = _BAR.search(line)
        if match and self.current and not line.strip()[:1].isalpha():   # the bar: no words before it
            self.current_bytes = min(float(_bytes(match.group(1), match.group(3))), self.sizes.get(self.current, 1e18))
            return True
        match = _COLLECTING.match(line)
        if match:
            self._finish_download()
            name = match.group(1).lower().replace("_", "-")
            if name not in self.packages:
                self.packages.append(name)
            self.stage = "resolving"
            return True
        match = _DOWNLOADING.match(line)
        if match:
            return self._download(match)
        match = _PROCESSING.match(line)
        if match:
            self._finish_download()
            name = package_of(match.group(1))
            if name and name not in self.packages:
                self.packages.append(name)
            return True
        match = _INSTALLING.match(line)
        if match:
            self._finish_download()
            self.stage = "installing"
            self.installed = [n.strip() for n in match.group(1).split(",") if n.strip()]
            return True
        match = _DONE.match(line)
        if match:
            self.stage = "done"
            self.installed = match.group(1).split()
            return True
        return False

    def _download(self, match) -> bool:
        self._finish_download()
        where, value, unit = match.group(2), match.group(3), match.group(4)
        if ".metadata" in where or not value:
            return False
        name = package_of(where)
        size = _bytes(value, unit)
        if match.group(1) == "Using cached":
            self.sizes[name] = size
            self.done_bytes += size
            return True
        self.stage, self.current, self.current_bytes = "downloading", name, 0.0
        self.sizes[name] = size
        return True

    def _finish_download(self) -> None:
        if self.current:
            self.done_bytes += self.sizes.get(self.current, self.current_bytes)
            self.current, self.current_bytes = "", 0.0

    @property
    def downloaded(self) -> float:
        return self.done_bytes + self.current_bytes

    @property
    def total(self) -> float:
        """About how many bytes the step downloads: the expected figure, or what pip announced if more."""
        return max(self.expected_bytes, float(sum(self.sizes.values())))

    @property
    def fraction(self) -> float:
        if self.stage == "done":
            return 1.0
        if self.stage == "installing":
            return 0.92
        return min(0.9, 0.9 * self.downloaded / self.total) if self.total else 0.0

    @property
    def text(self) -> str:
        count = len(self.packages)
        if self.stage == "done":
            return f"Installed {len(self.installed)} packages ({megabytes(self.downloaded)} downloaded)."
        if self.stage == "installing":
            return f"Installing {len(self.installed) or count} packages ({megabytes(self.downloaded)} downloaded)…"
        if self.stage == "downloading":
            size = self.sizes.get(self.current, 0)
            return (f"Downloading {self.current} ({megabytes(self.current_bytes)} of {megabytes(size)}) — "
                    f"{megabytes(self.downloaded)} of about {megabytes(self.total)}, {count} packages so far")
        if self.stage == "resolving":
            return f"Looking up packages: {count} so far ({', '.join(self.packages[-3:])})"
        return "Starting pip…"
