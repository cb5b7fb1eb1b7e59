"""The plugin-private folder for its Python dependencies (``<profile>/avalanche_iseg_deps/py3.X``, in the
QGIS profile, never QGIS's own site-packages) and the Python interpreter QGIS runs on. Imported by the
package's __init__ at plugin start, so it imports nothing but the standard library."""
from __future__ import annotations

import importlib
import os
import sys
import time

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # avalanche_iseg_plugin/
TARGET_ENV = "AVALANCHE_ISEG_DEPS_DIR"      # overrides the private folder (tests, managed installs)
FOLDER_NAME = "avalanche_iseg_deps"


def python_tag() -> str:
    return f"py{sys.version_info.major}.{sys.version_info.minor}"


def profile_dir(plugin_dir: str = PLUGIN_DIR) -> str | None:
    """The QGIS profile holding this plugin (``<profile>/python/plugins/<plugin>``), or None when the
    plugin runs from a repository checkout."""
    plugins = os.path.dirname(plugin_dir)
    python = os.path.dirname(plugins)
    if os.path.basename(plugins) == "plugins" and os.path.basename(python) == "python":
        return os.path.dirname(python)
    return None


def private_dir(plugin_dir: str = PLUGIN_DIR) -> str:
    """Where the plugin installs its dependencies: $AVALANCHE_ISEG_DEPS_DIR, else in the QGIS profile,
    else (a checkout) in the user's data folder; one sub-folder per Python version."""
    override = os.environ.get(TARGET_ENV)
    if override:
        return os.path.abspath(override)
    profile = profile_dir(plugin_dir)
    if profile is None:
        base = os.environ.get("APPDATA") or os.environ.get("XDG_DATA_HOME") or \
            os.path.join(os.path.expanduser("~"), ".local", "share")
        profile = os.path.join(base, "avalanche_iseg")
    return os.path.join(profile, FOLDER_NAME, python_tag())


def add_private_dir_to_path(folder: str | None = None) -> str | None:
    """Appends the private folder to sys.path when it exists (after QGIS's folders) and forgets the import
    system's cached folder listings, so what an install just put there imports at once; returns it."""
    folder = folder or private_dir()
    if not os.path.isdir(folder):
        return None
    if folder not in sys.path:
        sys.path.append(folder)
    importlib.invalidate_caches()
    return folder


STAMP_NAME = ".installed"


def mark_installed(folder: str) -> None:
    """Records that an install into ``folder`` has just finished (a running inference process compares
    install_stamp before and after and restarts itself with the new packages)."""
    with open(os.path.join(folder, STAMP_NAME), "w", encoding="utf-8") as f:
        f.write(f"{time.time_ns()}\n")


def install_stamp(folder: str | None = None) -> tuple:
    """What identifies the private folder's present content: (exists, time of the last finished install)."""
    folder = folder or private_dir()
    try:
        with open(os.path.join(folder, STAMP_NAME), encoding="utf-8") as f:
            return True, f.read().strip()
    except OSError:
        return os.path.isdir(folder), ""


def python_executable() -> str:
    """The Python interpreter QGIS runs on, for pip and the inference process ('' when it cannot be found):
    see interpreter.py (never a ``python3`` found first on PATH)."""
    from .interpreter import qgis_python

    return qgis_python()
