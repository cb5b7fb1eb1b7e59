"""The plugin's models: core_model's ModelStore on the models folder of the QGIS profile, the catalogue with
an institution's catalogue file (a path, or a URL read through QGIS's network stack), and each model's
settings as the user last edited them (QgsSettings).  No widgets."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from qgis.core import QgsApplication, QgsSettings

from core_model.errors import CoreModelError
from core_model.models import ModelStore, load_catalogue

from ..engine.plugin_settings import PluginSettings, preset_values
from .settings import PREFIX, as_bool

MEMORY_PREFIX = PREFIX + "model_settings/"


def plugin_models_dir(settings: PluginSettings) -> Path:
    """The setting's folder, else avalanche_iseg/models in the QGIS profile."""
    if settings.models_dir:
        return Path(settings.models_dir)
    return Path(QgsApplication.qgisSettingsDirPath()) / "avalanche_iseg" / "models"


def plugin_catalogue(settings: PluginSettings):
    """(catalogue, problem): the shipped catalogue joined by the institution's file of the settings; when
    that file cannot be read or is malformed, the shipped catalogue and the sentence that says why."""
    source = settings.catalogue.strip()
    if not source:
        return load_catalogue(), ""
    try:
        if urlsplit(source).scheme in ("http", "https"):
            from .qgis_fetch import qgis_read_text
            return load_catalogue(texts=[(qgis_read_text(source), source)]), ""
        return load_catalogue([source]), ""
    except CoreModelError as exc:
        return load_catalogue(), str(exc)


def plugin_store(settings: PluginSettings) -> tuple[ModelStore, str]:
    """(the store, a sentence about an unreadable institution catalogue or '')."""
    catalogue, problem = plugin_catalogue(settings)
    return ModelStore(plugin_models_dir(settings), catalogue), problem


class ModelMemory:
    """Each model's settings (zoom-in, target size, longest side, threshold) as the user left them."""

    def get(self, name: str) -> dict | None:
        store = QgsSettings()
        key = MEMORY_PREFIX + name + "/"
        if store.value(key + "zoom_in") is None:
            return None
        try:
            return {"zoom_in": as_bool(store.value(key + "zoom_in")),
                    "zoom_target_size": int(store.value(key + "zoom_target_size")),
                    "max_longest_side": int(store.value(key + "max_longest_side")),
                    "threshold": float(store.value(key + "threshold"))}
        except (TypeError, ValueError):
            return None

    def put(self, name: str, values: dict) -> None:
        store = QgsSettings()
        for field, value in values.items():
            store.setValue(MEMORY_PREFIX + name + "/" + field, value)

    def forget(self, name: str) -> None:
        QgsSettings().remove(MEMORY_PREFIX + name)

    def values_for(self, store: ModelStore, name: str) -> dict:
        """What choosing model `name` applies: the remembered values, else its preset."""
        remembered = self.get(name)
        return remembered if remembered is not None else preset_values(store.preset(name))
