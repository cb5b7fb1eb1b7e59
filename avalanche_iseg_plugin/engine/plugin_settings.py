"""The plugin's settings as plain values (pure: no QGIS). layers.settings loads and saves them with
QgsSettings; the engine, the dock and Processing read them."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path


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
