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
CATALOGUE_COPY = "institution_catalogue.json"     # the last reading of a catalogue URL, in the models folder


def plugin_models_dir(settings: PluginSettings) -> Path:
    """The setting's folder, else avalanche_iseg/models in the QGIS profile."""
    if settings.models_dir:
        return Path(settings.models_dir)
    return Path(QgsApplication.qgisSettingsDirPath()) / "avalanche_iseg" / "models"


def plugin_catalogue(settings: PluginSettings, remote: bool = False):
    """(catalogue, problem): the shipped catalogue joined by the institution's file of the settings; when
    that file cannot be read or is malformed, the shipped catalogue and the sentence that says why.
    A catalogue URL is read through the network only with ``remote`` (the user opened *Models…* or changed
    it: a network that does not answer must never stall QGIS's start or the dock); otherwise the copy kept
    from its last reading (``CATALOGUE_COPY`` in the models folder) stands for it."""
    source = settings.catalogue.strip()
    if not source:
        return load_catalogue(), ""
    copy = plugin_models_dir(settings) / CATALOGUE_COPY
    try:
        if urlsplit(source).scheme in ("http", "https"):
            if not remote:
                text = copy.read_text(encoding="utf-8") if copy.is_file() else ""
                return (load_catalogue(texts=[(text, source)]) if text else load_catalogue()), ""
            from .qgis_fetch import qgis_read_text
            text = qgis_read_text(source)
            catalogue = load_catalogue(texts=[(text, source)])      # checked before it is kept
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(text, encoding="utf-8")
            return catalogue, ""
        return load_catalogue([source]), ""
    except OSError as exc:
        return load_catalogue(), f"The institution catalogue could not be kept in {copy.parent} ({exc.strerror})."
    except CoreModelError as exc:
        return load_catalogue(), str(exc)


def plugin_store(settings: PluginSettings, remote: bool = False) -> tuple[ModelStore, str]:
    """(the store, a sentence about an unreadable institution catalogue or ''); ``remote``: see
    plugin_catalogue."""
    catalogue, problem = plugin_catalogue(settings, remote)
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
