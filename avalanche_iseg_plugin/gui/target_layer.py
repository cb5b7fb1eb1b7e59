"""The avalanche layer that finished avalanches go to: chosen in the dock, created with 'New…', exported.

Writing goes through layers/avalanche_layer.py (add_object for a new avalanche, replace_geometry for a
corrected one); every problem is one sentence in the message bar.
"""
from __future__ import annotations

import os

from qgis.core import Qgis, QgsProject, QgsVectorLayer
from qgis.PyQt.QtWidgets import QFileDialog

from ..layers import avalanche_layer


class TargetLayer:
    def __init__(self, iface, dock, say, on_chosen):
        """``say(text, level, duration)`` shows a message; ``on_chosen()`` runs when a usable layer is chosen."""
        self.iface = iface
        self.dock = dock
        self.settings = dock.settings
        self.say = say
        self.on_chosen = on_chosen
        self.layer_id: str | None = None
        layer = dock.target_layer()
        if isinstance(layer, QgsVectorLayer):
            self.layer_id = layer.id()
        dock.targetLayerChanged.connect(self._on_dock_changed)
        dock.newLayerRequested.connect(self.ask_new_layer)
        dock.exportRequested.connect(self.ask_export)
        self.new_layer_crs = lambda: QgsProject.instance().crs()   # the controller supplies the rule

    def layer(self):
        layer = QgsProject.instance().mapLayer(self.layer_id) if self.layer_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    @staticmethod
    def problem(layer) -> str | None:
        """Why ``layer`` cannot take avalanche polygons (None when it can)."""
        try:
            avalanche_layer.check_polygon_layer(layer)
        except ValueError as exc:
            return str(exc)
        return None

    def check(self, layer) -> bool:
        text = self.problem(layer)
        if text:
            self.say(text)
        return text is None

    def choose(self, layer) -> bool:
        """Use ``layer`` for finished avalanches; refuses (message) a layer that is not polygons."""
        if layer is None:
            self.layer_id = None
            return True
        if not self.check(layer):
            return False
        self.layer_id = layer.id()
        if self.dock.target_layer() is not layer:
            self.dock.set_target_layer(layer)
        path = layer.source().split("|")[0]
        if os.path.isfile(path) and self.settings.target_layer != path:
            self.settings.target_layer = path
            self.settings.save()
        self.on_chosen()
        return True

    def _on_dock_changed(self, layer) -> None:
        if layer is None or (self.layer_id and layer.id() == self.layer_id):
            return
        self.choose(layer)

    def create(self, path: str):
        """Create a new avalanche GeoPackage at ``path``, add it to the project and make it the target."""
        try:
            layer = avalanche_layer.create_avalanche_layer(path, self.new_layer_crs())
        except ValueError as exc:
            self.say(str(exc))
            return None
        QgsProject.instance().addMapLayer(layer)
        self.choose(layer)
        self.say(f"Created the avalanche layer '{layer.name()}' in {path}.", Qgis.Success, 4)
        return layer

    def ask_new_layer(self) -> None:
        start = os.path.dirname(self.settings.target_layer) if self.settings.target_layer else ""
        path, _ = QFileDialog.getSaveFileName(self.iface.mainWindow(), "New avalanche layer",
                                              os.path.join(start, "avalanches.gpkg"), "GeoPackage (*.gpkg)")
        if path:
            self.create(path if path.lower().endswith(".gpkg") else path + ".gpkg")

    def write(self, item) -> None:
        """Write one digitising_model.UnsavedObject; ValueError (one sentence) when the layer refuses it."""
        layer, result = self.layer(), item.result
        if item.correction_fid is not None:
            avalanche_layer.replace_geometry(layer, item.correction_fid, result.polygons_wkt, result.raster_crs_wkt,
                                             dict(result.attributes))
        else:
            avalanche_layer.add_object(layer, result.polygons_wkt, result.raster_crs_wkt, dict(result.attributes))
        layer.triggerRepaint()

    def export(self, path: str) -> bool:
        layer = self.layer()
        if layer is None:
            self.say("No target layer to export: choose the avalanche layer in the dock first.")
            return False
        try:
            avalanche_layer.export_layer(layer, path)
        except ValueError as exc:
            self.say(str(exc))
            return False
        self.settings.export_dir = os.path.dirname(path)
        self.settings.save()
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
            self.export(path if os.path.splitext(path)[1] else path + (".shp" if "Shapefile" in chosen else ".gpkg"))
