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
    engine: str = "auto"            # what runs the network: auto (PyTorch where installed), onnxruntime, torch
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
    # the model chosen in the dock: an installed catalogue model's name ('' = the checkpoint file as it is,
    # with the settings it recommends itself) and, for a named model, its predictor settings (its preset
    # or the user's edits, remembered per model)
    model: str = ""
    zoom_in: bool = True
    zoom_target_size: int = 400
    max_longest_side: int = 0       # 0: the window's full size
    models_dir: str = ""            # '' = avalanche_iseg/models in the QGIS profile
    catalogue: str = ""             # an institution's catalogue file: a path or an http(s) URL

    def predictor_settings(self) -> tuple:
        """The predictor settings (core_model PredictorSettings fields) that the chosen model runs with, as
        sorted (name, value) pairs for engine.protocol.PredictorKey; () for a plain checkpoint file."""
        if not self.model:
            return ()
        return tuple(sorted(model_settings_of(self).items()))


MODEL_SETTINGS = ("zoom_in", "zoom_target_size", "max_longest_side")  # edited under the dock's Model settings


def model_settings_of(settings: PluginSettings) -> dict:
    """The predictor fields of `settings` (the threshold travels on its own: SetThreshold)."""
    return {"zoom_in": bool(settings.zoom_in), "zoom_target_size": int(settings.zoom_target_size),
            "max_longest_side": int(settings.max_longest_side) or None}


def preset_values(preset: dict) -> dict:
    """A catalogue preset (complete: what it leaves out is RITM's default) as the dock's four values."""
    longest = preset.get("max_longest_side")
    return {"zoom_in": bool(preset.get("zoom_in", True)), "zoom_target_size": int(preset.get("zoom_target_size", 400)),
            "max_longest_side": int(longest or 0), "threshold": float(preset.get("threshold", 0.49))}
