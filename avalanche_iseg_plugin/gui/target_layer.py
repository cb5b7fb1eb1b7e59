"""The avalanche layer that finished avalanches go to: chosen in the dock, created with 'New…', exported.

Only a layer the user chose (or created) is ever a target: the dock's layer list may show a layer on its
own (QGIS's layer combo box picks the first polygon layer), but that is put back until the user picks one.
A layer lacking avalanche fields is used only after the confirmation of field_mapping_dialog (kept with
the layer as its custom property). The target is remembered per project (layer id and source); a stale one
is dropped with a message. Corrections write into the corrected polygon's own layer (the target stays).
Writing goes through layers/avalanche_layer.py; every problem is one sentence in the message bar.
"""
from __future__ import annotations

import os

from qgis.core import Qgis, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QTimer, QVariant
from qgis.PyQt.QtWidgets import QFileDialog

from ..engine.errors import USER_ERRORS, LayerError
from ..engine.target_rules import (FieldMapping, RememberedTarget, mapping_candidates, missing_fields,
                                   needs_confirmation, resolve_remembered)
from ..layers import avalanche_layer
from ..layers.export import export_layer
from ..layers.settings import save_settings

PROJECT_SCOPE = "avalanche_iseg"
MAPPING_PROPERTY = "avalanche_iseg/field_mapping"
_KINDS = {QVariant.Int: "int", QVariant.LongLong: "int", QVariant.Double: "real", QVariant.String: "text",
          QVariant.Date: "date", QVariant.DateTime: "date"}


def field_mapping(layer) -> FieldMapping:
    """The mapping (and confirmation) the user gave for ``layer``; an empty one when never asked."""
    return FieldMapping.from_json(layer.customProperty(MAPPING_PROPERTY, ""))


class TargetLayer:
    def __init__(self, iface, dock, say, on_chosen, new_layer_crs):
        """``say(text, level, duration)`` shows a message; ``on_chosen()`` runs when a usable layer is chosen;
        ``new_layer_crs()`` is the CRS a new avalanche layer gets."""
        from .field_mapping_dialog import ask_field_mapping

        self.iface = iface
        self.dock = dock
        self.settings = dock.settings
        self.say = say
        self.on_chosen = on_chosen
        self.layer_id: str | None = None
        self.ask_mapping = ask_field_mapping      # (parent, name, fields, candidates, mapping) -> mapping | None
        dock.targetLayerChanged.connect(self._on_dock_changed)
        # the combo box may pick a layer by itself (e.g. when one is added): put the chosen one back, after the
        # user's own pick (activated) has been handled
        dock.layer_combo.layerChanged.connect(lambda *_: QTimer.singleShot(0, self._show_chosen))
        dock.newLayerRequested.connect(self.ask_new_layer)
        dock.exportRequested.connect(self.ask_export)
        self.new_layer_crs = new_layer_crs
        QgsProject.instance().readProject.connect(self.restore)
        self.restore()

    def layer(self):
        return self.layer_by_id(self.layer_id)

    def shutdown(self) -> None:
        try:
            QgsProject.instance().readProject.disconnect(self.restore)
        except TypeError:
            pass

    @staticmethod
    def layer_by_id(layer_id):
        layer = QgsProject.instance().mapLayer(layer_id) if layer_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    @staticmethod
    def problem(layer) -> str | None:
        """Why ``layer`` cannot take avalanche polygons (None when it can)."""
        try:
            avalanche_layer.check_polygon_layer(layer)
        except USER_ERRORS as exc:
            return str(exc)
        return None

    def check(self, layer) -> bool:
        text = self.problem(layer)
        if text:
            self.say(text)
        return text is None

    # ---------------------------------------------------------------- choosing
    def choose(self, layer) -> bool:
        """Use ``layer`` (the user's choice) for finished avalanches; refuses (message) a layer that is not
        polygons, and one lacking avalanche fields unless the user confirms (field mapping dialog)."""
        if layer is None:
            self.layer_id = None
            self._remember(None)
            self._show_chosen()
            return True
        if not self.check(layer) or not self._confirmed(layer):
            self._show_chosen()
            return False
        self.layer_id = layer.id()
        self._show_chosen()
        self._remember(layer)
        self.on_chosen()
        return True

    def _confirmed(self, layer) -> bool:
        names = layer.fields().names()
        mapping = field_mapping(layer)
        if not needs_confirmation(names, mapping):
            return True
        kinds = {f.name(): _KINDS.get(f.type(), "other") for f in layer.fields()}
        candidates = {name: mapping_candidates(name, kinds) for name in missing_fields(names)}
        answer = self.ask_mapping(self.iface.mainWindow(), layer.name(), names, candidates, mapping)
        if answer is None:
            self.say(f"The layer '{layer.name()}' was not chosen: finished avalanches are not written into it.",
                     Qgis.Info, 5)
            return False
        layer.setCustomProperty(MAPPING_PROPERTY, answer.to_json())
        return True

    def _show_chosen(self, *_args) -> None:
        """The dock shows the chosen target (or none), whatever the combo box picked by itself."""
        try:
            combo, layer = self.dock.layer_combo, self.layer()
            if combo.currentLayer() is not layer:
                combo.blockSignals(True)
                combo.setLayer(layer)
                combo.blockSignals(False)
        except RuntimeError:      # the dock is gone (plugin unloaded)
            pass

    def _on_dock_changed(self, layer) -> None:
        if layer is None or (self.layer_id and layer.id() == self.layer_id):
            self._show_chosen()
            return
        self.choose(layer)

    # ---------------------------------------------------------------- per-project memory
    def _remember(self, layer) -> None:
        project = QgsProject.instance()
        project.writeEntry(PROJECT_SCOPE, "target_layer_id", layer.id() if layer else "")
        project.writeEntry(PROJECT_SCOPE, "target_layer_source", layer.source() if layer else "")

    def restore(self) -> None:
        """The target this project used before, if that layer is still in it (same id and source)."""
        project = QgsProject.instance()
        layer_id, _ = project.readEntry(PROJECT_SCOPE, "target_layer_id", "")
        source, _ = project.readEntry(PROJECT_SCOPE, "target_layer_source", "")
        layers = {i: lyr.source() for i, lyr in project.mapLayers().items()}
        found, stale = resolve_remembered(RememberedTarget(layer_id, source) if layer_id else None, layers)
        self.layer_id = found
        if stale:
            self._remember(None)
            self.say(stale, Qgis.Info, 8)
        self._show_chosen()

    # ---------------------------------------------------------------- creating, writing, exporting
    def create(self, path: str):
        """Create a new avalanche GeoPackage at ``path``, add it to the project and make it the target."""
        try:
            layer = avalanche_layer.create_avalanche_layer(path, self.new_layer_crs())
        except USER_ERRORS as exc:
            self.say(str(exc))
            return None
        QgsProject.instance().addMapLayer(layer, True)
        self.settings.target_layer = os.path.abspath(path)    # where 'New…' opens next time
        save_settings(self.settings)
        self.choose(layer)
        self.say(f"Created the avalanche layer '{layer.name()}' in {path}.", Qgis.Success, 4)
        return layer

    def ask_new_layer(self) -> None:
        start = os.path.dirname(self.settings.target_layer) if self.settings.target_layer else ""
        path, _ = QFileDialog.getSaveFileName(self.iface.mainWindow(), "New avalanche layer",
                                              os.path.join(start, "avalanches.gpkg"), "GeoPackage (*.gpkg)")
        if path:
            self.create(path if path.lower().endswith(".gpkg") else path + ".gpkg")
        self.iface.mapCanvas().setFocus()    # Space etc. go to the digitiser, not back to 'New…'

    def layer_for(self, item_layer_id):
        """The layer an unsaved object goes to: a correction's own layer, else the target."""
        return self.layer_by_id(item_layer_id) if item_layer_id else self.layer()

    def write(self, item) -> None:
        """Write one digitising_rules.UnsavedObject; ValueError (one sentence) when the layer refuses it."""
        result = item.result
        layer = self.layer_for(item.layer_id)
        if layer is None:
            raise LayerError("The layer of the corrected polygon is no longer in the project."
                             if item.layer_id else "The target layer is no longer in the project.")
        mapping = field_mapping(layer)
        if item.correction_fid is not None:
            avalanche_layer.replace_geometry(layer, item.correction_fid, result.polygons_wkt, result.raster_crs_wkt,
                                             dict(result.attributes), field_map=mapping)
        else:
            avalanche_layer.add_object(layer, result.polygons_wkt, result.raster_crs_wkt, dict(result.attributes),
                                       field_map=mapping)
        layer.triggerRepaint()

    def export(self, path: str, layer_name: str = avalanche_layer.DEFAULT_LAYER_NAME) -> bool:
        layer = self.layer()
        if layer is None:
            self.say("No target layer to export: choose the avalanche layer in the dock first.")
            return False
        try:
            export_layer(layer, path, layer_name=layer_name)
        except USER_ERRORS as exc:
            self.say(str(exc))
            return False
        self.settings.export_dir = os.path.dirname(path)
        save_settings(self.settings)
        self.say(f"Exported {layer.featureCount()} avalanche(s) to {path}.", Qgis.Success, 4)
        return True

    def ask_export(self) -> None:
        if self.layer() is None:
            self.say("No target layer to export: choose the avalanche layer in the dock first.")
            return
        path, chosen = QFileDialog.getSaveFileName(self.iface.mainWindow(), "Export avalanches",
                                                   os.path.join(self.settings.export_dir, "avalanches.gpkg"),
                                                   "GeoPackage (*.gpkg);;ESRI Shapefile (*.shp)")
        if path:
            self.export(path if os.path.splitext(path)[1] else path + (".shp" if "Shapefile" in chosen else ".gpkg"),
                        self.dock.export_layer_name())
        self.iface.mapCanvas().setFocus()
