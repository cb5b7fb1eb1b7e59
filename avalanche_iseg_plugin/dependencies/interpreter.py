"""The Python interpreter QGIS runs on, found by its own layout — never a ``python3`` found first on PATH
(a pyenv or conda ``python3`` before the system's would get pip and the inference process otherwise).

Inside QGIS ``sys.executable`` is often not a Python at all: ``qgis-bin.exe`` on Windows (OSGeo4W and the
standalone installer: the Python is ``<exec_prefix>\\python.exe``, i.e. ``apps\\PythonXY\\python.exe``), the
``QGIS`` binary in ``QGIS.app/Contents/MacOS`` on macOS (its Python is ``Contents/MacOS/bin/python3``), and on
Linux either ``/usr/bin/qgis`` or whatever ``python3`` the embedded interpreter met first on PATH. So a
``sys.executable`` named python* is taken only when it lives in the running interpreter's own ``bin``
folder (a venv's or the installation's); otherwise the interpreter is looked for beside QGIS and in
``sys.exec_prefix``, version-named files first. Standard library only (imported at plugin start)."""
from __future__ import annotations

import os
import sys


def _is_file(path: str) -> bool:
    return os.path.isfile(path) and (path.lower().endswith(".exe") or os.access(path, os.X_OK))


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    except OSError:
        return False


def _candidates(executable: str, prefixes: list, platform: str, version: tuple) -> list:
    major, minor = version[0], version[1]
    here = os.path.dirname(executable)
    if platform.startswith("win"):
        root = os.path.dirname(here)                       # <QGIS>\bin\qgis-bin.exe -> <QGIS>
        folders = list(prefixes) + [os.path.join(root, "apps", f"Python{major}{minor}"), here]
        names = ("python.exe", f"python{major}.exe", f"python{major}.{minor}.exe")
    elif platform == "darwin":
        folders = [os.path.join(here, "bin")] + [os.path.join(p, "bin") for p in prefixes]
        names = (f"python{major}.{minor}", f"python{major}")
    else:
        folders = [os.path.join(p, "bin") for p in prefixes]
        names = (f"python{major}.{minor}", f"python{major}")
        system = ["/usr/bin/" + names[0]]         # the system's only when its version is this one
        return [os.path.join(folder, name) for folder in dict.fromkeys(folders) for name in names] + system
    return [os.path.join(folder, name) for folder in dict.fromkeys(folders) for name in names]


def qgis_python(executable: str | None = None, prefixes=None, platform: str | None = None,
                version: tuple | None = None) -> str:
    """The interpreter QGIS runs on ('' when none is found); the arguments default to this process's
    ``sys.executable``, ``(sys.prefix, sys.exec_prefix, sys.base_exec_prefix)``, ``sys.platform`` and
    ``sys.version_info`` (tests give other layouts)."""
    executable = os.path.abspath(sys.executable if executable is None else executable) if \
        (sys.executable if executable is None else executable) else ""
    prefixes = [p for p in (prefixes if prefixes is not None else
                            (sys.prefix, sys.exec_prefix, sys.base_exec_prefix)) if p]
    platform = sys.platform if platform is None else platform
    version = tuple(sys.version_info[:2]) if version is None else tuple(version[:2])
    if executable and os.path.basename(executable).lower().startswith("python") and _is_file(executable):
        own = [f for p in prefixes for f in ((p, os.path.join(p, "Scripts")) if platform.startswith("win")
                                             else (os.path.join(p, "bin"),))]
        if any(_same_folder(os.path.dirname(executable), folder) for folder in own):
            return executable
    for candidate in _candidates(executable, prefixes, platform, version):
        if _is_file(candidate):
            return candidate
    return ""
