"""Installs the plugin's dependencies with pip into the plugin-private folder (plain Python, no QGIS).

``pip install --target DIR`` runs with the Python QGIS runs on and pip's own configuration (pip.conf,
PIP_* variables, proxy settings) untouched. QGIS's numpy and GDAL are never upgraded: a constraints
file pins them to the versions present, and the copy of numpy that pip puts into the target to satisfy
torch/OpenCV is removed afterwards, so QGIS's own numpy is the only one imported. OpenCV is held below
4.12 when QGIS has numpy 1.x (4.12 needs numpy 2).

A failed install ends in one sentence (``InstallResult.reason``): no network, disk full, no build for
this Python, no permission, cancelled, or pip's own last error line.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from .folder import python_executable

PYTORCH_INDEX = "https://download.pytorch.org/whl/"


@dataclass
class InstallResult:
    ok: bool
    reason: str = ""                 # one sentence when not ok
    log: list = field(default_factory=list)
    target: str = ""


def present_version(module: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(module)
    except Exception:
        return ""


def default_packages(numpy_version: str | None = None) -> list[str]:
    numpy_version = present_version("numpy") if numpy_version is None else numpy_version
    opencv = "opencv-python-headless"
    if numpy_version and int(numpy_version.split(".")[0]) < 2:
        opencv += "<4.12"
    return ["torch", opencv]


def torch_index(cuda: bool, platform: str = sys.platform) -> str:
    """The PyTorch wheel index to add for the wanted build ('' = PyPI's default is already right):
    Linux's PyPI torch is the CUDA build, Windows' and macOS's the CPU build."""
    if cuda:
        return "" if platform.startswith("linux") else PYTORCH_INDEX + "cu126"
    return PYTORCH_INDEX + "cpu" if platform.startswith("linux") else ""


def constraints_text() -> str:
    """Pins for the packages QGIS owns (what is present stays; nothing is upgraded)."""
    lines = [f"numpy=={present_version('numpy')}"] if present_version("numpy") else []
    gdal = present_version("GDAL")
    if gdal:
        lines.append(f"GDAL=={gdal}")
    return "\n".join(lines) + "\n"


def pip_command(target: str, packages: list[str], constraints: str, extra_index: str = "",
                python: str | None = None) -> list[str]:
    cmd = [python or python_executable(), "-m", "pip", "install", "--target", target, "--upgrade",
           "--no-warn-script-location", "--disable-pip-version-check", "--progress-bar", "off",
           "--constraint", constraints]
    if extra_index:
        cmd += ["--extra-index-url", extra_index]
    return cmd + list(packages)


# ============================================================================ reasons
_REASONS = (
    (r"No space left on device|Errno 28|disk quota exceeded",
     "The disk is full: free some space (PyTorch needs about 1-3 GB) and try again."),
    (r"Failed to establish a new connection|NewConnectionError|Network is unreachable|Name or service not "
     r"known|Temporary failure in name resolution|getaddrinfo failed|ProxyError|Connection refused|"
     r"ConnectTimeout|Read timed out|Max retries exceeded|nodename nor servname",
     "No network: the package index cannot be reached; check the internet connection or pip's proxy/index "
     "settings (pip.conf or PIP_INDEX_URL / HTTPS_PROXY) and try again."),
    (r"requires a different Python|Requires-Python|is not a supported wheel on this platform",
     f"Incompatible Python: no build of the package exists for Python {sys.version_info.major}."
     f"{sys.version_info.minor} on this platform; a QGIS with a newer or older Python is needed."),
    (r"No module named pip",
     "pip is missing from QGIS's Python: install it (e.g. 'python3-pip' on Debian/Ubuntu) and try again."),
    (r"Permission denied|Errno 13|Access is denied",
     "No permission to write the plugin's dependency folder: check the rights on the QGIS profile folder."),
    (r"No matching distribution found|Could not find a version that satisfies",
     f"No matching package: the configured index offers no build of it for Python {sys.version_info.major}."
     f"{sys.version_info.minor} on this platform."),
)


def failure_reason(log_text: str) -> str:
    """One sentence for a failed pip run, from its output."""
    for pattern, sentence in _REASONS:
        if re.search(pattern, log_text, re.IGNORECASE):
            return sentence
    errors = [line.strip() for line in log_text.splitlines() if line.strip().startswith("ERROR:")]
    last = errors[-1][len("ERROR:"):].strip() if errors else (log_text.strip().splitlines() or ["unknown error"])[-1]
    return f"The installation failed: {last.rstrip('.')}."


def indexes_reachable(log_text: str, timeout: float = 8.0) -> bool:
    """False when none of the http(s) indexes pip named ("Looking in indexes: ...") answers (through the
    same proxy variables pip uses); True when one answers or pip used no http index."""
    import urllib.request

    urls = []
    for line in log_text.splitlines():
        if line.startswith("Looking in indexes:"):
            urls += [u.strip() for u in line.split(":", 1)[1].split(",") if u.strip().startswith("http")]
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return True
        except Exception as exc:  # HTTPError (e.g. 404 on the bare index) still means it is reachable
            if hasattr(exc, "code"):
                return True
    return not urls


def _drop_numpy_copy(target: str) -> None:
    """pip put numpy into the target to satisfy torch/OpenCV; QGIS's copy (same version) is the one to use."""
    for name in os.listdir(target):
        if name == "numpy" or name == "numpy.libs" or (name.startswith("numpy-") and name.endswith(".dist-info")):
            shutil.rmtree(os.path.join(target, name), ignore_errors=True)
    scripts = os.path.join(target, "bin")
    for script in ("f2py", "numpy-config"):
        path = os.path.join(scripts, script)
        if os.path.isfile(path):
            os.remove(path)


def install(target: str, packages: list[str] | None = None, cuda: bool = False, extra_index: str | None = None,
            on_line=None, is_canceled=None, python: str | None = None, env: dict | None = None,
            log_path: str | None = None) -> InstallResult:
    """Runs pip into ``target``; ``on_line(text)`` gets each output line (also written to ``log_path``);
    ``is_canceled()`` stops pip."""
    packages = packages or default_packages()
    extra_index = torch_index(cuda) if extra_index is None else extra_index
    if packages and not any(p.startswith("torch") for p in packages):
        extra_index = ""   # the PyTorch index only matters for torch
    result = InstallResult(ok=False, target=target)

    log = open(log_path, "w", encoding="utf-8") if log_path else None

    def say(line: str) -> None:
        result.log.append(line)
        if log is not None:
            log.write(line + "\n")
            log.flush()
        if on_line is not None:
            on_line(line)

    try:
        return _run_pip(target, packages, extra_index, result, say, is_canceled, python, env)
    finally:
        if log is not None:
            log.close()


def _run_pip(target, packages, extra_index, result, say, is_canceled, python, env) -> InstallResult:
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        result.reason = failure_reason(str(exc))
        return result
    with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as f:
        f.write(constraints_text())
        constraints = f.name
    cmd = pip_command(target, packages, constraints, extra_index, python)
    say("$ " + " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env=env, stdin=subprocess.DEVNULL)
    except OSError as exc:
        os.unlink(constraints)
        result.reason = f"pip cannot be started ({exc}); check that QGIS's Python has pip."
        return result
    canceled = threading.Event()

    def watch() -> None:
        while proc.poll() is None:
            if is_canceled is not None and is_canceled():
                canceled.set()
                proc.kill()
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for line in proc.stdout:
        say(line.rstrip("\n"))
    code = proc.wait()
    watcher.join(2)
    os.unlink(constraints)
    if canceled.is_set():
        result.reason = "The installation was cancelled; nothing already working was changed."
        return result
    if code != 0:
        text = "\n".join(result.log)
        if not indexes_reachable(text):   # pip (without retries) only says "no matching distribution"
            text += "\nNetwork is unreachable"
        result.reason = failure_reason(text)
        return result
    _drop_numpy_copy(target)
    result.ok = True
    return result


def uninstall(target: str) -> None:
    """Removes the private folder (repair = uninstall + install)."""
    if os.path.isdir(target):
        shutil.rmtree(target)
