"""The plugin's persistent settings: engine.plugin_settings.PluginSettings loaded from and saved to QgsSettings
(under "avalanche_iseg/")."""
from __future__ import annotations

from dataclasses import fields

from qgis.core import QgsSettings

from ..engine.plugin_settings import PluginSettings, default_checkpoint_path

PREFIX = "avalanche_iseg/"


def load_settings() -> PluginSettings:
    store = QgsSettings()
    values = {}
    for f in fields(PluginSettings):
        default = getattr(PluginSettings, f.name)
        raw = store.value(PREFIX + f.name, default)
        try:
            values[f.name] = as_bool(raw) if isinstance(default, bool) else type(default)(raw)
        except (TypeError, ValueError):
            values[f.name] = default
    settings = PluginSettings(**values)
    if not settings.checkpoint:
        settings.checkpoint = default_checkpoint_path()
    return settings


def as_bool(raw) -> bool:
    """QgsSettings gives a stored bool back as a bool or as the text 'true'/'false'."""
    return raw.strip().lower() in ("true", "1", "yes") if isinstance(raw, str) else bool(raw)


def save_settings(settings: PluginSettings) -> None:
    store = QgsSettings()
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "checkpoint" and value == default_checkpoint_path():
            value = ""   # "the default model", wherever this copy of the plugin is installed
        store.setValue(PREFIX + f.name, value)
