"""The raster layers the digitiser works on, seen from QGIS: the active one, the facts of the one the
model digitises on (read once with GDAL), its CRS, canvas points in that CRS, and the CRS a new
avalanche layer gets. The rules themselves (which raster, which CRS) are the model's."""
from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer

from ..engine.digitising_model import LAYER_CRS_PROJECT, LAYER_CRS_RASTER, RasterRef
from ..engine.errors import RasterError
from ..engine.raster_info import describe_raster
from ..layers.crs import canvas_to_raster


def _ref(layer) -> RasterRef | None:
    return RasterRef(layer.id(), layer.name()) if isinstance(layer, QgsRasterLayer) else None


class RasterLayers:
    def __init__(self, iface, model, say):
        """``model``: the DigitisingModel; ``say(text)`` shows a warning."""
        self.iface = iface
        self.model = model
        self.say = say
        self.crs = QgsCoordinateReferenceSystem()    # of the model's raster; invalid for a photo (pixel units)
        self.pinned: RasterRef | None = None          # clicks go here whatever is active (the webcam panel's photo)
        self.choice = lambda: None                    # the dock's raster (DockSync), independent of the active layer

    def active(self) -> RasterRef | None:
        if self.pinned is not None:
            return self.pinned
        return _ref(self.choice()) or _ref(self.iface.activeLayer())

    def first_in_project(self) -> RasterRef | None:
        return next((r for r in map(_ref, QgsProject.instance().mapLayers().values()) if r is not None), None)

    def open(self, raster: RasterRef) -> bool:
        """Make ``raster`` the model's raster (its facts read once); False + message when unusable."""
        if self.model.knows(raster):
            return True
        layer = QgsProject.instance().mapLayer(raster.layer_id)
        if layer.providerType() != "gdal":
            self.say(f"The layer '{layer.name()}' is not a raster file (it comes from the "
                     f"'{layer.providerType()}' provider): digitise on a GeoTIFF, JPEG or PNG layer.")
            return False
        try:
            info = describe_raster(layer.source())
        except RasterError as exc:
            self.say(str(exc))
            return False
        self.model.use_raster(raster, info)
        self.crs = layer.crs() if info.is_georeferenced else QgsCoordinateReferenceSystem()
        return True

    def points_for_click(self, canvas_crs, *points):
        """(the canvas points in the CRS of the raster they go to, or None; the model's refusal)."""
        raster, refused = self.model.raster_for_click(self.active())
        if raster is None or not self.open(raster):
            return None, refused
        try:
            return [canvas_to_raster(p.x(), p.y(), canvas_crs, self.crs) for p in points], refused
        except RasterError as exc:
            self.say(str(exc))
            return None, refused

    def new_layer_crs(self):
        """The CRS of the raster being digitised (None for a photo in pixel units), else the project's."""
        raster = self.model.raster_for_new_layer(self.active())
        layer = QgsProject.instance().mapLayer(raster.layer_id) if raster is not None else None
        if not isinstance(layer, QgsRasterLayer):
            raster = None
        info = self.model.raster_info if raster is not None and self.model.knows(raster) else None
        if info is None and raster is not None:
            try:
                info = describe_raster(layer.source())
            except ValueError:
                pass
        crs_valid = layer is not None and layer.crs().isValid()
        georeferenced = info.is_georeferenced if info is not None else crs_valid
        rule = self.model.new_layer_crs(raster, georeferenced, crs_valid)
        if rule == LAYER_CRS_PROJECT:
            return QgsProject.instance().crs()
        return layer.crs() if rule == LAYER_CRS_RASTER else None
