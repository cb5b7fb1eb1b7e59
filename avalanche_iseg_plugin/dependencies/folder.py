"""The plugin-private folder for its Python dependencies (``<profile>/avalanche_iseg_deps/py3.X``, in the
QGIS profile, never QGIS's own site-packages) and the Python interpreter QGIS runs on. Imported by the
package's __init__ at plugin start, so it imports nothing but the standard library."""
from __future__ import annotations

import importlib
import os
import sys

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
    """Appends the private folder to sys.path when it exists (after QGIS's folders); returns it."""
    folder = folder or private_dir()
    if not os.path.isdir(folder):
        return None
    if folder not in sys.path:
        sys.path.append(folder)
        importlib.invalidate_caches()
    return folder


def python_executable() -> str:
    """The Python interpreter QGIS runs on (in QGIS sys.executable is qgis or qgis-bin.exe itself)."""
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python"):
        return exe
    names = ("python.exe", "python3.exe") if os.name == "nt" else \
        (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3", "python")
    folders = [sys.exec_prefix, sys.base_prefix, os.path.join(sys.exec_prefix, "bin"),
               os.path.join(sys.base_prefix, "bin"), "/usr/bin"]
    for folder in folders:
        for name in names:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return exe
