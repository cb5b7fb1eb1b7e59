"""The plugin's persistent settings (QgsSettings under "avalanche_iseg/")."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from qgis.core import QgsSettings

PREFIX = "avalanche_iseg/"


def default_checkpoint_path() -> str:
    """core_model.default_model.DEFAULT_CHECKPOINT (the project's shipped model), found without
    importing core_model's torch code at QGIS start-up; '' when core_model cannot be found."""
    module = sys.modules.get("core_model.default_model")
    if module is not None and hasattr(module, "DEFAULT_CHECKPOINT"):
        return str(module.DEFAULT_CHECKPOINT)
    try:
        spec = importlib.util.find_spec("core_model")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]) / "weights" / "avalanche_iseg_default.pth")


@dataclass
class PluginSettings:
    checkpoint: str = ""
    device: str = "cpu"
    threshold: float = 0.49
    brs_mode: str = "NoBRS"         # refinement mode (core_model.brs); applies from the next avalanche
    overlay_opacity: float = 0.45
    click_radius: int = 6
    max_side: int = 1600
    raster_look: str = "raw"        # file rasters: "raw" bands or "displayed" (the layer's renderer)
    min_area: float = 25.0          # m² (map units² of the raster CRS)
    simplify: float = 0.0           # raster-CRS units; 0 = exact pixel outline
    target_layer: str = ""          # path of the last avalanche GeoPackage layer
    export_dir: str = ""
    export_layer_name: str = "avalanches"   # the layer's name inside an exported GeoPackage
    transport: str = "process"      # where the model runs: "process" (a child Python) or "thread"

    @classmethod
    def load(cls) -> "PluginSettings":
        store = QgsSettings()
        values = {}
        for f in fields(cls):
            default = getattr(cls, f.name)
            raw = store.value(PREFIX + f.name, default)
            try:
                values[f.name] = type(default)(raw)
            except (TypeError, ValueError):
                values[f.name] = default
        settings = cls(**values)
        if not settings.checkpoint:
            settings.checkpoint = default_checkpoint_path()
        return settings

    def save(self) -> None:
        store = QgsSettings()
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "checkpoint" and value == default_checkpoint_path():
                value = ""   # "the default model", wherever this copy of the plugin is installed
            store.setValue(PREFIX + f.name, value)
