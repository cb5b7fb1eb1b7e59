"""Picking ground control points as pairs: a click in the photo, then a click on the main map.

Two ``QgsMapToolEmitPoint`` tools, one per canvas, are active while picking.  The photo click gives
the GCP's (col, row) in photo pixels (the photo canvas is in pixel units: x = col, y = -row); the map
click is transformed from the map canvas CRS into the DEM's CRS and its height is read from the DEM.
A click that cannot be used (off the photo, off the DEM, map clicked first) gives one sentence and
keeps everything picked so far.  Leaving picking mode gives the main map back the tool it had.
"""
from __future__ import annotations

from dataclasses import dataclass

from qgis.core import QgsCoordinateTransform, QgsCsException, QgsPointXY, QgsProject
from qgis.gui import QgsMapToolEmitPoint
from qgis.PyQt.QtCore import QObject, Qt, pyqtSignal
from qgis.PyQt.QtGui import QCursor


@dataclass
class PickedGcp:
    """A ground control point: photo pixel (col, row) ↔ ground (x, y, z) in the DEM's CRS."""
    col: float
    row: float
    x: float
    y: float
    z: float


def dem_height(dem_layer, x: float, y: float):
    """The DEM layer's cell value at (x, y) in the DEM's CRS, or None off the DEM / on nodata."""
    if not dem_layer.extent().contains(QgsPointXY(x, y)):
        return None
    value, ok = dem_layer.dataProvider().sample(QgsPointXY(x, y), 1)
    if not ok or value != value:  # nodata or NaN
        return None
    return float(value)


class GcpPicker(QObject):
    gcpPicked = pyqtSignal(object)     # PickedGcp
    hintChanged = pyqtSignal(str)      # what to click next
    refused = pyqtSignal(str)          # one sentence: why a click was not used
    pendingChanged = pyqtSignal()      # the photo point waiting for its map point changed
    activeChanged = pyqtSignal(bool)

    HINT_PHOTO = "Click a landmark in the photo (right click stops picking)."
    HINT_MAP = "Now click the same landmark on the map."

    def __init__(self, photo_canvas, map_canvas, photo_size, dem_layer_getter, height_at=None):
        super().__init__()
        self.photo_canvas = photo_canvas
        self.map_canvas = map_canvas
        self.photo_size = photo_size            # callable -> (width, height) or None
        self.dem_layer = dem_layer_getter       # callable -> QgsRasterLayer or None
        self.height_at = height_at or dem_height  # (dem layer, x, y) -> height or None (bilinear from the panel)
        self.pending: tuple[float, float] | None = None
        self.photo_tool = QgsMapToolEmitPoint(photo_canvas)
        self.map_tool = QgsMapToolEmitPoint(map_canvas)
        for tool in (self.photo_tool, self.map_tool):
            tool.setCursor(QCursor(Qt.CrossCursor))
        self.photo_tool.canvasClicked.connect(self._on_photo_click)
        self.map_tool.canvasClicked.connect(self._on_map_click)
        self._previous_map_tool = None
        self.active = False

    # ---------------------------------------------------------------- mode
    def start(self) -> None:
        if self.active:
            return
        previous = self.map_canvas.mapTool()
        self._previous_map_tool = previous if previous is not self.map_tool else None
        self.photo_canvas.setMapTool(self.photo_tool)
        self.map_canvas.setMapTool(self.map_tool)
        self.active = True
        self.hintChanged.emit(self.HINT_PHOTO)
        self.activeChanged.emit(True)

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        self.pending = None
        if self.photo_canvas.mapTool() is self.photo_tool:
            self.photo_canvas.unsetMapTool(self.photo_tool)
        if self.map_canvas.mapTool() is self.map_tool:
            self.map_canvas.unsetMapTool(self.map_tool)
            if self._previous_map_tool is not None:
                self.map_canvas.setMapTool(self._previous_map_tool)   # e.g. the digitiser's click tool
        self._previous_map_tool = None
        self.pendingChanged.emit()
        self.hintChanged.emit("")
        self.activeChanged.emit(False)

    # ---------------------------------------------------------------- clicks
    def _on_photo_click(self, point, button) -> None:
        if button == Qt.RightButton:
            self.stop()
            return
        size = self.photo_size()
        col, row = point.x(), -point.y()
        if size is None:
            self.refused.emit("Open a photo first.")
            return
        if not (0 <= col <= size[0] and 0 <= row <= size[1]):
            self.refused.emit("That click is outside the photo: click a landmark in the photo.")
            return
        self.pending = (col, row)
        self.pendingChanged.emit()
        self.hintChanged.emit(self.HINT_MAP)

    def _on_map_click(self, point, button) -> None:
        if button == Qt.RightButton:
            self.stop()
            return
        if self.pending is None:
            self.refused.emit("Click the landmark in the photo first, then the same landmark on the map.")
            return
        dem = self.dem_layer()
        if dem is None:
            self.refused.emit("Choose the DEM (a raster layer) in the webcam panel before picking map points.")
            return
        try:
            x, y = self.map_to_dem(point, dem)
        except QgsCsException:
            self.refused.emit("That map point cannot be transformed into the DEM's CRS.")
            return
        z = self.height_at(dem, x, y)
        if z is None:
            self.refused.emit(f"That map point is outside the DEM '{dem.name()}' (or on nodata): "
                              "click the landmark where the DEM has heights.")
            return
        col, row = self.pending
        self.pending = None
        self.gcpPicked.emit(PickedGcp(col, row, x, y, z))
        self.pendingChanged.emit()
        self.hintChanged.emit(self.HINT_PHOTO)

    def map_to_dem(self, point, dem):
        """Main-canvas point -> (x, y) in the DEM's CRS."""
        canvas_crs = self.map_canvas.mapSettings().destinationCrs()
        if not canvas_crs.isValid() or not dem.crs().isValid() or canvas_crs == dem.crs():
            return point.x(), point.y()
        transform = QgsCoordinateTransform(canvas_crs, dem.crs(), QgsProject.instance())
        p = transform.transform(QgsPointXY(point))
        return p.x(), p.y()

    def dem_to_map(self, x: float, y: float, dem) -> QgsPointXY:
        """(x, y) in the DEM's CRS -> main-canvas point (for the markers)."""
        canvas_crs = self.map_canvas.mapSettings().destinationCrs()
        if not canvas_crs.isValid() or not dem.crs().isValid() or canvas_crs == dem.crs():
            return QgsPointXY(x, y)
        transform = QgsCoordinateTransform(dem.crs(), canvas_crs, QgsProject.instance())
        return transform.transform(QgsPointXY(x, y))

    def shutdown(self) -> None:
        self.stop()
