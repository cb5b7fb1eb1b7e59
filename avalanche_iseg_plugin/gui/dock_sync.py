"""What the dock shows of the digitiser, kept in step with it: the digitiser's raster (chosen in the dock,
or the raster the user selects in the Layers panel; a vector layer becoming active changes nothing), the
units of that raster, the finished avalanches not saved yet (counted in the dock, drawn dashed on the
map), and Ctrl+click on a polygon to correct it."""
from __future__ import annotations

from qgis.core import (QgsCoordinateTransform, QgsFeatureRequest, QgsGeometry, QgsProject, QgsRasterLayer,
                       QgsRectangle, QgsVectorLayer, QgsWkbTypes)
from qgis.gui import QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from ..engine.target_rules import raster_units
from ..engine.errors import AvalancheError
from ..engine.raster_info import describe_raster
from ..layers.crs import crs_from, is_defined, make_transform

PICK_TOLERANCE_PX = 3


def _has_geotransform(layer) -> bool:
    """True for a raster file with a georeference (a GeoTIFF on a local grid, a world file), CRS or not."""
    try:
        return describe_raster(layer.source()).is_georeferenced
    except (AvalancheError, RuntimeError):
        return False


class DockSync:
    def __init__(self, controller):
        self.c = controller
        self.dock = controller.dock
        self.row = self.dock.raster_row
        self._bands: dict[int, tuple] = {}          # id(UnsavedObject) -> (canvas, its dashed outline)
        self._last_active: str | None = None
        self._crs_layer = None                      # the raster whose CRS changes the units follow
        controller.iface.currentLayerChanged.connect(self._on_active)
        self.row.rasterChanged.connect(self._on_raster)
        self.dock.unsaved_row.saveElsewhereRequested.connect(controller.target.ask_new_layer)
        if self.row.layer() is None:
            active = controller.iface.activeLayer()
            first = controller.rasters.first_in_project()
            self.row.set_layer(active if isinstance(active, QgsRasterLayer) else
                               QgsProject.instance().mapLayer(first.layer_id) if first else None)
        self._on_raster(self.row.layer())

    def current(self):
        """The digitiser's raster: the dock's, after following a raster newly selected in the Layers panel."""
        self._on_active(self.c.iface.activeLayer())
        return self.row.layer()

    def _on_active(self, layer) -> None:
        if not isinstance(layer, QgsRasterLayer) or self.c.rasters.pinned is not None:
            return
        if layer.id() != self._last_active:
            self._last_active = layer.id()
            self.row.set_layer(layer)

    def _on_raster(self, layer) -> None:
        self._follow_crs(layer)
        if isinstance(layer, QgsRasterLayer):
            crs = layer.crs()
            defined = is_defined(crs)
            self.dock.set_units(raster_units(defined or _has_geotransform(layer), defined, defined and crs.isGeographic()))

    def _follow_crs(self, layer) -> None:
        """The units follow a CRS set on the dock's raster in QGIS (Layer Properties > Source)."""
        followed, self._crs_layer = self._crs_layer, layer if isinstance(layer, QgsRasterLayer) else None
        if followed is not None and followed is not layer:
            try:
                followed.crsChanged.disconnect(self._on_crs)
            except (TypeError, RuntimeError):     # already disconnected, or the layer was deleted
                pass
        if self._crs_layer is not None and followed is not layer:
            self._crs_layer.crsChanged.connect(self._on_crs)

    def _on_crs(self) -> None:
        if self._crs_layer is not None and self._crs_layer is self.row.layer():
            self._on_raster(self._crs_layer)

    def shutdown(self) -> None:
        self._follow_crs(None)
        try:
            self.c.iface.currentLayerChanged.disconnect(self._on_active)
        except TypeError:
            pass
        self._clear_bands(set())

    # ---------------------------------------------------------------- unsaved avalanches
    def refresh(self) -> None:
        unsaved = self.c.rules.unsaved
        self.dock.unsaved_row.set_count(len(unsaved))
        keep = {id(item) for item in unsaved}
        self._clear_bands(keep)
        for item in unsaved:
            if id(item) not in self._bands:
                self._bands[id(item)] = self._band(item)

    def _clear_bands(self, keep) -> None:
        for key in [k for k in self._bands if k not in keep]:
            band = self._bands.pop(key)
            if band is not None:
                canvas, band = band
                canvas.scene().removeItem(band)

    def _band(self, item):
        result = item.result
        parts = [QgsGeometry.fromWkt(w) for w in result.polygons_wkt]
        parts = [g for g in parts if not g.isNull()]
        if not parts:
            return None
        geom = QgsGeometry.collectGeometry(parts)
        canvas = self.c.canvas
        transform = make_transform(crs_from(result.raster_crs_wkt), canvas.mapSettings().destinationCrs())
        if transform is not None:
            geom.transform(transform)
        band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        band.setColor(QColor(220, 0, 0, 230))
        band.setFillColor(QColor(220, 0, 0, 30))
        band.setLineStyle(Qt.DashLine)
        band.setWidth(2)
        band.setToGeometry(geom, None)
        return canvas, band

    # ---------------------------------------------------------------- Ctrl+click
    def pick(self, point) -> None:
        """Ctrl+click at ``point`` (canvas CRS): the topmost polygon there is selected and corrected."""
        canvas = self.c.canvas
        found = self.polygon_at(point, canvas)
        if found is None:
            return self.c.message("No polygon under the cursor: Ctrl+click on a polygon of a visible polygon "
                                  "layer to correct it.")
        layer, fid = found
        layer.selectByIds([fid])
        self.c.correct_feature(layer, fid)

    def _candidate_layers(self):
        active, target = self.c.iface.activeLayer(), self.c.target.layer()
        tree = QgsProject.instance().layerTreeRoot()
        visible = [node.layer() for node in tree.findLayers() if node.isVisible()]
        ordered = [active, target] + visible
        seen = []
        for layer in ordered:
            if (isinstance(layer, QgsVectorLayer) and layer.geometryType() == QgsWkbTypes.PolygonGeometry
                    and layer not in seen):
                seen.append(layer)
        return seen

    def polygon_at(self, point, canvas):
        """(layer, fid) of the polygon at ``point`` on ``canvas``, or None."""
        tol = canvas.mapUnitsPerPixel() * PICK_TOLERANCE_PX
        for layer in self._candidate_layers():
            to_layer = QgsCoordinateTransform(canvas.mapSettings().destinationCrs(), layer.crs(),
                                              QgsProject.instance())
            try:
                p = to_layer.transform(point) if layer.crs().isValid() else point
                rect = to_layer.transformBoundingBox(QgsRectangle(point.x() - tol, point.y() - tol,
                                                                  point.x() + tol, point.y() + tol)) \
                    if layer.crs().isValid() else QgsRectangle(p.x() - tol, p.y() - tol, p.x() + tol, p.y() + tol)
            except Exception:   # noqa: BLE001 - QgsCsException: the point is outside the layer's CRS
                continue
            here = QgsGeometry.fromPointXY(p)
            for feature in layer.getFeatures(QgsFeatureRequest().setFilterRect(rect)):
                if feature.hasGeometry() and feature.geometry().intersects(here.buffer(rect.width() / 2, 4)):
                    return layer, int(feature.id())
        return None
