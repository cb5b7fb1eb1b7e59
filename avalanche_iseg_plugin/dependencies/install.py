"""Installs the plugin's dependencies with pip into the plugin-private folder (plain Python, no QGIS), in
two steps:

1. **digitising** (the default, needed to digitise): ``onnxruntime`` and ``opencv-python-headless`` from
   pip's configured index (PyPI) — measured 2026-12: onnxruntime 1.32.0 27.8 MB + OpenCV 4.11 50.0 MB +
   numpy 17.3 MB (pip fetches it, the installer removes it) + small ones, about 96 MB on Linux x86-64;
2. **pytorch** (optional: refinement modes, training, NVIDIA GPU): ``torch`` from the PyTorch index only
   (``--index-url https://download.pytorch.org/whl/cpu``, or ``…/cu126`` for the CUDA build). pip is given
   that index and no other (the index variables of the environment are dropped, and a configured extra
   index stops the run): when the PyTorch index cannot be reached the step ends with one sentence instead
   of taking the default index's Linux torch, which is the 2-5 GB CUDA build.

``pip install --target DIR`` runs with the Python QGIS runs on (interpreter.py) and pip's own
configuration otherwise untouched (proxy, certificates). QGIS's numpy and GDAL are never upgraded: a
constraints file pins them to the versions present, and the copy of numpy that pip puts into the target
is removed afterwards, so QGIS's own numpy is the only one imported. OpenCV is held below 4.12 when QGIS
has numpy 1.x (4.12 needs numpy 2). pip's output becomes progress in bytes and packages (progress.py).

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

from .folder import mark_installed, python_executable
from .progress import PipProgress

PYTORCH_INDEX = "https://download.pytorch.org/whl/"
MB = 1e6


@dataclass(frozen=True)
class Step:
    name: str                 # 'digitising', 'pytorch' or 'packages'
    title: str                # one line for the dialog
    packages: tuple
    index_url: str = ""       # '' = pip's configured index; else the ONLY index pip may use
    expected_bytes: float = 0.0


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


def opencv_requirement(numpy_version: str | None = None) -> str:
    numpy_version = present_version("numpy") if numpy_version is None else numpy_version
    if numpy_version and int(numpy_version.split(".")[0]) < 2:
        return "opencv-python-headless<4.12"
    return "opencv-python-headless"


def digitising_step(numpy_version: str | None = None) -> Step:
    return Step("digitising", "Digitising: ONNX Runtime and OpenCV (about 95 MB)",
                ("onnxruntime", opencv_requirement(numpy_version)), "", 96 * MB)


def pytorch_step(cuda: bool = False, index: str | None = None) -> Step:
    """PyTorch from the PyTorch index only: the CPU build, or the CUDA build (``cuda``)."""
    index = index or PYTORCH_INDEX + ("cu126" if cuda else "cpu")
    if cuda:
        return Step("pytorch", "PyTorch, CUDA build for the NVIDIA GPU (about 3 GB)", ("torch",), index, 3000 * MB)
    return Step("pytorch", "PyTorch, CPU build (about 200 MB)", ("torch",), index, 200 * MB)


def packages_step(packages) -> Step:
    """Other pip requirements from pip's configured index (the command line's --package)."""
    return Step("packages", "Python packages: " + ", ".join(packages), tuple(packages))


def default_packages(numpy_version: str | None = None) -> list[str]:
    """The digitising step's requirements."""
    return list(digitising_step(numpy_version).packages)


def constraints_text() -> str:
    """Pins for the packages QGIS owns (what is present stays; nothing is upgraded)."""
    lines = [f"numpy=={present_version('numpy')}"] if present_version("numpy") else []
    gdal = present_version("GDAL")
    if gdal:
        lines.append(f"GDAL=={gdal}")
    return "\n".join(lines) + "\n"


def pip_version(python: str) -> tuple:
    """pip's version in ``python`` ((0,) when unknown)."""
    try:
        out = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
        match = re.match(r"pip (\d+)\.(\d+)", out.stdout)
        return (int(match.group(1)), int(match.group(2))) if match else (0,)
    except (OSError, subprocess.SubprocessError):
        return (0,)


def pip_command(target: str, packages, constraints: str, index_url: str = "", python: str | None = None,
                pip: tuple = (0,)) -> list[str]:
    """The pip command line; ``index_url``: the one index to use (no extra index is ever added)."""
    cmd = [python or python_executable(), "-m", "pip", "install", "--target", target, "--upgrade",
           "--no-warn-script-location", "--disable-pip-version-check", "--constraint", constraints]
    if pip >= (24, 1):
        cmd += ["--progress-bar", "raw"]          # 'Progress N of M' lines: bytes (older pips: the bar)
    if index_url:
        cmd += ["--index-url", index_url]
    return cmd + list(packages)


def strict_environment(env: dict | None) -> dict:
    """pip's environment for a step with its own index: the index variables dropped (they would add
    another index, e.g. the default one with its CUDA torch); proxy and certificate settings kept."""
    env = dict(os.environ if env is None else env)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        env.pop(name, None)
    return env


def other_sources(line: str, index_url: str) -> list[str]:
    """The http(s) indexes or links pip announced ('Looking in indexes: …') besides ``index_url``."""
    if not (line.startswith("Looking in indexes:") or line.startswith("Looking in links:")):
        return []
    urls = [u.strip() for u in line.split(":", 1)[1].split(",")]
    return [u for u in urls if u.startswith("http") and u.rstrip("/") != index_url.rstrip("/")]


def unreachable_index_sentence(index_url: str) -> str:
    return (f"The PyTorch package index ({index_url}) cannot be reached, so PyTorch was not installed "
            "(no other index is tried: the default one would install the 2-5 GB CUDA build); try again "
            "later, or check the internet connection and pip's proxy settings.")


def other_index_sentence(urls) -> str:
    return (f"pip's configuration adds another package index ({', '.join(urls)}), which could install a "
            "different PyTorch build, so PyTorch was not installed; remove that extra-index-url/find-links "
            "setting or install PyTorch yourself.")


# ============================================================================ reasons
_REASONS = (
    (r"No space left on device|Errno 28|disk quota exceeded",
     "The disk is full: free some space (digitising needs about 250 MB, PyTorch 1-3 GB more) and try again."),
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


def index_reachable(url: str, timeout: float = 8.0) -> bool:
    """Whether a package index answers (through the same proxy variables pip uses): a connection error,
    a timeout or a server error (5xx) mean no; any other answer (even 404) means yes."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except Exception as exc:
        code = getattr(exc, "code", None)
        return code is not None and int(code) < 500


def indexes_reachable(log_text: str, timeout: float = 8.0) -> bool:
    """False when none of the http(s) indexes pip named ("Looking in indexes: ...") answers; True when
    one answers or pip used no http index."""
    urls = []
    for line in log_text.splitlines():
        if line.startswith("Looking in indexes:"):
            urls += [u.strip() for u in line.split(":", 1)[1].split(",") if u.strip().startswith("http")]
    return any(index_reachable(url, timeout) for url in urls) or not urls


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


def install(target: str, packages: list[str] | None = None, cuda: bool = False, step: Step | None = None,
            on_line=None, on_progress=None, is_canceled=None, python: str | None = None, env: dict | None = None,
            log_path: str | None = None) -> InstallResult:
    """Runs one step's pip into ``target`` (default: ``packages`` from pip's index when given, else the
    digitising step; ``cuda`` alone means the PyTorch step's CUDA build). ``on_line(text)`` gets each pip
    line (also written to ``log_path``), ``on_progress(fraction, text)`` the progress in bytes and packages,
    ``is_canceled()`` stops pip."""
    if step is None:
        step = packages_step(packages) if packages else (pytorch_step(True) if cuda else digitising_step())
    result = InstallResult(ok=False, target=target)
    log = open(log_path, "a", encoding="utf-8") if log_path else None

    def say(line: str) -> None:
        result.log.append(line)
        if log is not None:
            log.write(line + "\n")
            log.flush()
        if on_line is not None:
            on_line(line)

    try:
        return _run_pip(target, step, result, say, on_progress, is_canceled, python, env)
    finally:
        if log is not None:
            log.close()


def _run_pip(target, step, result, say, on_progress, is_canceled, python, env) -> InstallResult:
    python = python or python_executable()
    if not python:
        result.reason = "The Python QGIS runs on was not found, so pip cannot run; install the packages by hand."
        return result
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        result.reason = failure_reason(str(exc))
        return result
    with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as f:
        f.write(constraints_text())
        constraints = f.name
    cmd = pip_command(target, step.packages, constraints, step.index_url, python, pip_version(python))
    env = strict_environment(env) if step.index_url else env
    say("$ " + " ".join(cmd))
    progress = PipProgress(step.expected_bytes)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env=env, stdin=subprocess.DEVNULL, encoding="utf-8", errors="replace")
    except OSError as exc:
        os.unlink(constraints)
        result.reason = f"pip cannot be started ({exc}); check that QGIS's Python has pip."
        return result
    canceled, refused = threading.Event(), []

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
        line = line.rstrip("\n")
        say(line)
        others = other_sources(line, step.index_url) if step.index_url else []
        if others and not refused:
            refused.append(other_index_sentence(others))
            proc.kill()
        if progress.feed(line) and on_progress is not None:
            on_progress(progress.fraction, progress.text)
    code = proc.wait()
    watcher.join(2)
    os.unlink(constraints)
    if canceled.is_set():
        result.reason = "The installation was cancelled; nothing already working was changed."
        return result
    if refused:
        result.reason = refused[0]
        return result
    if code != 0:
        result.reason = _reason(step, "\n".join(result.log))
        return result
    _drop_numpy_copy(target)
    mark_installed(target)
    if on_progress is not None:
        on_progress(1.0, progress.text if progress.stage == "done" else "Installed.")
    result.ok = True
    return result


def _reason(step: Step, text: str) -> str:
    if step.index_url:
        if not index_reachable(step.index_url.rstrip("/") + "/torch/"):
            return unreachable_index_sentence(step.index_url)
        return failure_reason(text)
    if not indexes_reachable(text):   # pip (without retries) only says "no matching distribution"
        text += "\nNetwork is unreachable"
    return failure_reason(text)


def uninstall(target: str) -> None:
    """Removes the private folder (repair = uninstall + install)."""
    if os.path.isdir(target):
        shutil.rmtree(target)
