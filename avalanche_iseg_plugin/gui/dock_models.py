"""The dock's model part: the Model row (installed models, files, Other file…, Models…) and the Model
settings it fills.  Choosing an installed model applies its settings — those the user left for it, else
its catalogue preset — to PluginSettings (model, checkpoint, zoom_in, zoom_target_size, max_longest_side,
threshold), from where DigitisingRules.predictor_key carries them to the session server's predictor
factory; a plain file clears `model` and runs with the settings the checkpoint recommends."""
from __future__ import annotations

from qgis.PyQt.QtCore import QObject

from core_model.models import DEFAULT_NAME

from ..engine.plugin_settings import MODEL_SETTINGS, PluginSettings
from ..layers.model_store import plugin_models_dir, plugin_store
from .model_chooser import ModelChooser
from .model_locations import ModelLocations
from .model_settings_box import ModelSettingsBox

_FIELDS = (*MODEL_SETTINGS, "threshold")


class DockModels(QObject):
    def __init__(self, dock, settings, memory, set_setting):
        """`set_setting(name, value)` changes one PluginSettings field (the dock saves it and says so)."""
        super().__init__(dock)
        self.dock, self.settings, self.memory, self._set = dock, settings, memory, set_setting
        self.chooser = ModelChooser(dock)
        self.settings_box = ModelSettingsBox(dock)
        self.settings_box.setObjectName("AvalancheIsegModelSettings")
        self.settings_box.setSaveCollapsedState(True)     # open or closed as the user left it
        self.chooser.modelChosen.connect(self.choose)
        self.chooser.modelsRequested.connect(self.show_dialog)
        self.settings_box.edited.connect(self._on_edited)
        self.store, self.problem = plugin_store(settings)
        self.dialog = None

    def refresh(self) -> None:
        """Lists the models installed now; a chosen model that was removed gives way to the bundled one."""
        infos = self.store.models(installed_only=True)
        names = {info.name for info in infos}
        if self.settings.model and self.settings.model not in names:
            self.chooser.set_models(infos, DEFAULT_NAME, "")
            self.choose(DEFAULT_NAME, str(self.store.installed_path(DEFAULT_NAME) or ""))
        else:
            self.chooser.set_models(infos, self.settings.model, self.settings.checkpoint)
        self._show()

    def current_values(self) -> dict:
        return {name: getattr(self.settings, name) for name in _FIELDS}

    def _show(self) -> None:
        self.settings_box.show_values(self.current_values(), for_model=bool(self.settings.model))

    def choose(self, name: str, path: str) -> None:
        """Model `name` (installed; '' = the checkpoint file `path` as it is) becomes the dock's model."""
        if name:
            for field, value in self.memory.values_for(self.store, name).items():
                self._set(field, value)
        self._set("model", name)
        self._set("checkpoint", path)
        self._show()

    def _on_edited(self, name: str, value) -> None:
        self._set(name, value)
        if self.settings.model:
            self.memory.put(self.settings.model, self.current_values())

    def _on_locations(self, folder: str, catalogue: str) -> None:
        """Another models folder or institution catalogue: a new store, listed in the dialog and the dock."""
        self._set("models_dir", folder)
        self._set("catalogue", catalogue)
        self.store, self.problem = plugin_store(self.settings, remote=True)
        if self.dialog is not None:
            self.dialog.set_store(self.store, self.problem)
        self.refresh()

    def show_dialog(self) -> None:
        """The Models… dialog; what it installs or removes shows in the Model row when it changes."""
        from .models_dialog import ModelsDialog

        self.store, self.problem = plugin_store(self.settings, remote=True)   # the catalogue URL, read now
        if self.dialog is not None:
            self.dialog.set_store(self.store, self.problem)
        if self.dialog is None:
            locations = ModelLocations(self.settings.models_dir, self.settings.catalogue,
                                       str(plugin_models_dir(PluginSettings())))
            locations.locationsChanged.connect(self._on_locations)
            self.dialog = ModelsDialog(self.store, self.dock, problem=self.problem, locations=locations)
            self.dialog.modelsChanged.connect(self.refresh)
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
