"""The segment algorithm's model parameters: *Model* (the installed models of the plugin's models folder,
by name, so that scripts and qgis_process pass a name; or the checkpoint file parameter), *Preset* and the
single settings, and the engine.model_choice.ModelChoice they stand for (resolved by core_model)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterEnum, QgsProcessingParameterNumber, QgsProcessingParameterString

from ..engine.errors import USER_ERRORS
from ..layers.model_store import plugin_store
from ..layers.settings import load_settings

MODEL, PRESET, ZOOM_IN, ZOOM_TARGET_SIZE, MAX_LONGEST_SIDE = (
    "MODEL", "PRESET", "ZOOM_IN", "ZOOM_TARGET_SIZE", "MAX_LONGEST_SIDE")
FILE_CHOICE = "checkpoint file (below)"
ZOOM_CHOICES = ["the model's", "on", "off"]


def installed_model_names(settings) -> list[str]:
    try:
        store, _ = plugin_store(settings)
        return [info.name for info in store.models(installed_only=True)]
    except USER_ERRORS:
        return []


def model_parameter(settings) -> QgsProcessingParameterEnum:
    """An enum of static strings: the checkpoint file parameter, then the installed models; its default is
    the dock's model when it is installed, else the checkpoint file."""
    options = [FILE_CHOICE] + installed_model_names(settings)
    default = settings.model if settings.model in options else FILE_CHOICE
    parameter = QgsProcessingParameterEnum(MODEL, "Model (installed; or the checkpoint file below)", options=options,
                                           defaultValue=default, optional=True)
    parameter.setUsesStaticStrings(True)
    return parameter


def setting_parameters(threshold_name: str) -> list:
    """Preset, zoom-in, zoom-in size, longest side and threshold; empty: the model's (its preset's)."""
    return [
        QgsProcessingParameterString(PRESET, "Preset: a catalogue model's settings or a JSON file (empty: the chosen "
                                     "model's)", optional=True),
        QgsProcessingParameterEnum(ZOOM_IN, "Zoom-in", options=ZOOM_CHOICES, defaultValue=0),
        QgsProcessingParameterNumber(ZOOM_TARGET_SIZE, "Zoom-in size (px; empty: the model's)",
                                     QgsProcessingParameterNumber.Integer, None, optional=True, minValue=16,
                                     maxValue=4096),
        QgsProcessingParameterNumber(MAX_LONGEST_SIDE, "Longest side of the model's image (px; 0: full size; empty: "
                                     "the model's)", QgsProcessingParameterNumber.Integer, None, optional=True,
                                     minValue=0, maxValue=16384),
        QgsProcessingParameterNumber(threshold_name, "Threshold (empty: the preset's, else the dock's)",
                                     QgsProcessingParameterNumber.Double, None, optional=True, minValue=0.01,
                                     maxValue=0.99),
    ]


def model_choice(algorithm, parameters, context, checkpoint_name: str, threshold_name: str):
    """The ModelChoice of the model, checkpoint, preset and single-setting parameters; core_model's
    CatalogueError (one sentence) for a model that is not installed or a bad preset."""
    from ..engine.model_choice import choose_installed

    settings = load_settings()
    model = algorithm.parameterAsString(parameters, MODEL, context)
    model = "" if model in ("", FILE_CHOICE) else model
    if MODEL not in parameters and parameters.get(checkpoint_name):
        model = ""    # a script that names a checkpoint file and no model runs that file
    checkpoint = algorithm.parameterAsFile(parameters, checkpoint_name, context) or settings.checkpoint
    zoom = ZOOM_CHOICES[algorithm.parameterAsEnum(parameters, ZOOM_IN, context)]

    def number(name, as_type):
        value = parameters.get(name)
        if value is None or value == "":
            return None
        return as_type(algorithm.parameterAsDouble(parameters, name, context))

    flags = {"zoom_in": None if zoom == ZOOM_CHOICES[0] else zoom == "on",
             "zoom_target_size": number(ZOOM_TARGET_SIZE, int), "max_longest_side": number(MAX_LONGEST_SIDE, int),
             "threshold": number(threshold_name, float)}
    store, _ = plugin_store(settings)
    preset = (algorithm.parameterAsString(parameters, PRESET, context) or "").strip()
    return choose_installed(store, model, checkpoint, preset, flags, default_threshold=settings.threshold)
