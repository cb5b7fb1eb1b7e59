"""The segment algorithm's Model parameter: the installed models of the plugin's models folder (by name,
so scripts and qgis_process pass a name) or the checkpoint file parameter."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterEnum

from ..engine.errors import USER_ERRORS
from ..layers.model_store import plugin_store


def installed_model_names(settings) -> list[str]:
    try:
        store, _ = plugin_store(settings)
        return [info.name for info in store.models(installed_only=True)]
    except USER_ERRORS:
        return []


def model_parameter(name: str, file_choice: str, settings) -> QgsProcessingParameterEnum:
    """An enum of static strings: `file_choice` (the checkpoint file parameter) then the installed models;
    its default is the dock's model when it is installed, else the checkpoint file."""
    options = [file_choice] + installed_model_names(settings)
    default = settings.model if settings.model in options else file_choice
    parameter = QgsProcessingParameterEnum(name, "Model (installed; or the checkpoint file below)", options=options,
                                           defaultValue=default, optional=True)
    parameter.setUsesStaticStrings(True)
    return parameter
