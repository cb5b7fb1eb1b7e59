"""Where installed models live: one folder of `<name>.pth` files, each with a `<name>.json` record.

Default: $AVALANCHE_ISEG_MODELS_DIR, else a per-user data folder (Linux: $XDG_DATA_HOME or
~/.local/share; macOS: ~/Library/Application Support; Windows: %LOCALAPPDATA%) + avalanche_iseg/models.
The QGIS plugin passes its own folder in the user's QGIS profile (a setting changes it); the CLI's --dir
wins over both.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

MODELS_DIR_ENV = "AVALANCHE_ISEG_MODELS_DIR"
APP_FOLDER = Path("avalanche_iseg") / "models"


def user_data_dir() -> Path:
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_models_dir() -> Path:
    """$AVALANCHE_ISEG_MODELS_DIR, else the per-user folder (not created here)."""
    env = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else user_data_dir() / APP_FOLDER


def models_dir(explicit=None) -> Path:
    """`explicit` (a --dir option or the plugin's setting) when given, else default_models_dir()."""
    return Path(explicit).expanduser() if explicit else default_models_dir()
