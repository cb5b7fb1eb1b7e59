"""The raster layers the digitiser works on, seen from QGIS: the active one, the facts of the one the
model digitises on (read once with GDAL), its CRS, canvas points in that CRS, and the CRS a new
avalanche layer gets. The rules themselves (which raster, which CRS) are the model's.

A layer GDAL cannot read by path (WMS/WMTS/XYZ, virtual rasters) or a file raster read "as displayed" is
drawn by QGIS at the start of each avalanche (gui/raster_snapshots.py: what the canvas shows plus a margin,
at the canvas's resolution, in the canvas's CRS); the click waits and is replayed once it is drawn."""
from __future__ import annotations

import dataclasses

from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer

from ..engine.digitising_rules import LAYER_CRS_PROJECT, LAYER_CRS_RASTER, RasterRef
from ..engine.errors import USER_ERRORS, RasterError
from ..engine.raster_info import describe_raster
from ..engine.session import DEFAULT_MARGIN_PX
from ..layers.crs import canvas_to_raster, crs_from
from ..layers.rendered_raster import plan_for_canvas, reads_through_qgis
from .raster_snapshots import RasterSnapshots


def _crs_of(layer, info) -> QgsCoordinateReferenceSystem:
    """The CRS of a raster file read by GDAL: the layer's (the file's, or one set in QGIS for a georeferenced
    file without CRS); none for a photo (pixel units)."""
    return crs_from(layer.crs()) if info.is_georeferenced else QgsCoordinateReferenceSystem()


def _ref(layer) -> RasterRef | None:
    return RasterRef(layer.id(), layer.name()) if isinstance(layer, QgsRasterLayer) else None


class RasterLayers:
    def __init__(self, iface, rules, say, choice):
        """``rules``: the DigitisingRules; ``say(text)`` shows a warning; ``choice()``: the dock's raster layer
        (or None), which clicks go to before the active layer."""
        self.iface = iface
        self.rules = rules
        self.say = say
        self.crs = QgsCoordinateReferenceSystem()    # of the model's raster; invalid for a photo (pixel units)
        self.pinned: RasterRef | None = None          # clicks go here whatever is active (the webcam panel's photo)
        self.snapshots = RasterSnapshots(iface, say)
        self.drawn_layer: str | None = None           # id of the layer the model's raster is a drawing of
        self._fresh = False                           # that drawing is new: the next avalanche uses it
        self.choice = choice

    def active(self) -> RasterRef | None:
        if self.pinned is not None:
            return self.pinned
        return _ref(self.choice()) or _ref(self.iface.activeLayer())

    def first_in_project(self) -> RasterRef | None:
        return next((r for r in map(_ref, QgsProject.instance().mapLayers().values()) if r is not None), None)

    def open(self, raster: RasterRef, canvas_points=(), retry=None) -> bool:
        """Make ``raster`` the model's raster (its facts read once); False + message when unusable. A layer
        QGIS must draw returns False while it is drawn around ``canvas_points``; ``retry`` runs when it is."""
        layer = QgsProject.instance().mapLayer(raster.layer_id)
        # photos (the webcam panel's, or without CRS) are always read by GDAL in pixel units
        drawn = (reads_through_qgis(layer, self.rules.settings.raster_look)
                 and self.pinned is None and layer.crs().isValid())
        if self.rules.knows(raster) and (drawn == (self.drawn_layer == raster.layer_id)) and (
                drawn or self.rules.object_in_progress or self.crs == _crs_of(layer, self.rules.raster_info)):
            if not drawn or self.rules.object_in_progress or self._fresh or (retry is None and not canvas_points):
                self._fresh = False
                return True
        if drawn:
            return self._draw(layer, raster, canvas_points, retry)
        try:
            info = describe_raster(layer.source())
        except RasterError as exc:
            self.say(str(exc))
            return False
        self.crs = _crs_of(layer, info)
        if self.crs.isValid() and not crs_from(info.crs_wkt).isValid():   # the layer's CRS for a file without one
            info = dataclasses.replace(info, assigned_crs_wkt=self.crs.toWkt())
        self.rules.use_raster(raster, info)
        self.drawn_layer = None
        return True

    def _draw(self, layer, raster, canvas_points, retry) -> bool:
        canvas = self.iface.mapCanvas()
        try:
            plan = plan_for_canvas(layer, [(p.x(), p.y()) for p in canvas_points], canvas.mapSettings(),
                                   DEFAULT_MARGIN_PX, int(self.rules.settings.max_side),
                                   self.rules.settings.raster_look)
        except RasterError as exc:
            self.say(str(exc))
            return False

        def ready(plan, info):
            self.rules.use_raster(raster, info)
            self.crs, self.drawn_layer, self._fresh = plan.crs, raster.layer_id, True
        self.snapshots.draw(layer, plan, ready, retry or (lambda: None))
        return False

    def points_for_click(self, canvas_crs, *points, retry=None):
        """(the canvas points in the CRS of the raster they go to, or None; the model's refusal); ``retry``
        runs when the raster had first to be drawn."""
        raster, refused = self.rules.raster_for_click(self.active())
        if raster is None or not self.open(raster, points, retry):
            return None, refused
        try:
            converted = [canvas_to_raster(p.x(), p.y(), canvas_crs, self.crs) for p in points]
        except RasterError as exc:
            self.say(str(exc))
            return None, refused
        info = self.rules.raster_info
        if self.drawn_layer == raster.layer_id and not any(info.grid.contains(*p) for p in converted):
            self.say(f"The click is outside the part of '{raster.name}' read for this avalanche (what the canvas "
                     "showed at its first click): finish it (Space) or discard it (Esc), zoom out until the whole "
                     "avalanche is on the canvas and start again.")
            return None, refused
        return converted, refused

    def new_layer_crs(self):
        """The CRS of the raster being digitised (None for a photo in pixel units), else the project's."""
        raster = self.rules.raster_for_new_layer(self.active())
        layer = QgsProject.instance().mapLayer(raster.layer_id) if raster is not None else None
        if not isinstance(layer, QgsRasterLayer):
            raster = None
        info = self.rules.raster_info if raster is not None and self.rules.knows(raster) else None
        if info is not None and self.drawn_layer == raster.layer_id:
            return self.crs     # a drawing: the outline is in the CRS it was drawn in
        if info is None and raster is not None:
            try:
                info = describe_raster(layer.source())
            except USER_ERRORS:
                pass
        crs_valid = layer is not None and layer.crs().isValid()
        georeferenced = info.is_georeferenced if info is not None else crs_valid
        rule = self.rules.new_layer_crs(raster, georeferenced, crs_valid)
        if rule == LAYER_CRS_PROJECT:
            return QgsProject.instance().crs()
        return layer.crs() if rule == LAYER_CRS_RASTER else None
