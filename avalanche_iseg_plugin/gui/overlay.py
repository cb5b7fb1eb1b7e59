"""What the digitiser draws on the map canvas: the mask, the clicks and the working window.

* the mask is a semi-transparent image laid over the raster window; its four corners are transformed
  from the raster CRS to the canvas CRS, so it stays in place when the canvas uses another CRS;
* clicks are dots: green = positive, red = negative; clicks still waiting for their prediction are
  drawn hollow;
* the working window is a thin dashed outline.
"""
from __future__ import annotations

import numpy as np
from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapCanvasItem, QgsRubberBand, QgsVertexMarker
from qgis.PyQt.QtCore import QPointF, QRectF, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPolygonF, QTransform

from ..layers.crs import make_transform

MASK_COLOR = (0, 190, 255)          # cyan: readable over snow and rock
POSITIVE_COLOR = QColor(40, 200, 60)
NEGATIVE_COLOR = QColor(230, 40, 40)
WINDOW_COLOR = QColor(255, 200, 0, 200)


def mask_image(mask: np.ndarray, color=MASK_COLOR) -> QImage:
    """H×W bool mask -> ARGB32 image: ``color`` where True, transparent elsewhere."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    bgra = np.zeros((h, w, 4), np.uint8)
    bgra[mask] = (color[2], color[1], color[0], 255)
    image = QImage(bgra.data, w, h, 4 * w, QImage.Format_ARGB32)
    return image.copy()   # own the pixels: bgra goes out of scope


class MaskItem(QgsMapCanvasItem):
    """A mask image whose corners are given in map (canvas CRS) coordinates."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.image: QImage | None = None
        self.corners: list[QgsPointXY] = []   # top-left, top-right, bottom-right, bottom-left
        self.opacity = 0.45
        self.setZValue(90)

    def set_mask(self, image: QImage, corners: list[QgsPointXY]) -> None:
        self.image = image
        self.corners = corners
        xs = [p.x() for p in corners]
        ys = [p.y() for p in corners]
        self.setRect(QgsRectangle(min(xs), min(ys), max(xs), max(ys)))
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self.update()

    def paint(self, painter, option=None, widget=None):
        if self.image is None or len(self.corners) != 4:
            return
        origin = self.pos()
        target = QPolygonF([self.toCanvasCoordinates(p) - origin for p in self.corners])
        w, h = self.image.width(), self.image.height()
        source = QPolygonF([QPointF(0, 0), QPointF(w, 0), QPointF(w, h), QPointF(0, h)])
        transform = QTransform()
        if not QTransform.quadToQuad(source, target, transform):
            return
        painter.save()
        painter.setOpacity(self.opacity)
        painter.setTransform(transform, True)
        painter.drawImage(QRectF(0, 0, w, h), self.image)
        painter.restore()


class DigitisingOverlay:
    """Owns every canvas item the digitiser shows; ``remove()`` takes them all off the canvas."""

    def __init__(self, canvas, opacity: float = 0.45, click_radius: int = 6):
        self.canvas = canvas
        self.opacity = opacity
        self.click_radius = click_radius
        self.mask_item: MaskItem | None = None
        self.window_band: QgsRubberBand | None = None
        self.markers: list[QgsVertexMarker] = []

    # ---------------------------------------------------------------- public
    def show_state(self, mask, window, clicks, pending, raster_crs) -> None:
        """Draw ``mask`` (image-pixel bool array of ``window``), the ``window`` outline and the clicks
        ((x, y, is_positive) in raster CRS; ``pending`` ones hollow). Any of them may be empty/None."""
        transform = make_transform(raster_crs, self.canvas.mapSettings().destinationCrs())

        def to_canvas(x, y) -> QgsPointXY:
            point = QgsPointXY(x, y)
            return transform.transform(point) if transform is not None else point

        if window is not None and mask is not None and np.asarray(mask).any():
            h, w = window.image_shape
            corners = [to_canvas(*window.grid.xy_of(r, c)) for r, c in ((0, 0), (0, w), (h, w), (h, 0))]
            if self.mask_item is None:
                self.mask_item = MaskItem(self.canvas)
            self.mask_item.set_opacity(self.opacity)
            self.mask_item.set_mask(mask_image(mask), corners)
            self.mask_item.show()
        elif self.mask_item is not None:
            self.mask_item.hide()
            self.mask_item.image = None

        self._draw_window(window, to_canvas)
        points = [(to_canvas(x, y), positive, False) for x, y, positive in clicks]
        points += [(to_canvas(x, y), positive, True) for x, y, positive in pending]
        self._draw_clicks(points)
        self.canvas.update()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        if self.mask_item is not None:
            self.mask_item.set_opacity(self.opacity)

    def set_click_radius(self, radius: int) -> None:
        self.click_radius = int(radius)
        for marker in self.markers:
            marker.setIconSize(2 * self.click_radius)
            marker.update()

    def clear(self) -> None:
        if self.mask_item is not None:
            self.mask_item.hide()
            self.mask_item.image = None
        if self.window_band is not None:
            self.window_band.reset(QgsWkbTypes.LineGeometry)
        self._draw_clicks([])

    def remove(self) -> None:
        self.clear()
        scene = self.canvas.scene()
        for item in (self.mask_item, self.window_band):
            if item is not None:
                scene.removeItem(item)
        self.mask_item = None
        self.window_band = None

    # ---------------------------------------------------------------- internals
    def _draw_window(self, window, to_canvas) -> None:
        if self.window_band is None:
            self.window_band = QgsRubberBand(self.canvas, QgsWkbTypes.LineGeometry)
            self.window_band.setColor(WINDOW_COLOR)
            self.window_band.setWidth(1)
            self.window_band.setLineStyle(Qt.DashLine)
        if window is None:
            self.window_band.reset(QgsWkbTypes.LineGeometry)
            return
        h, w = window.image_shape
        ring = [to_canvas(*window.grid.xy_of(r, c)) for r, c in ((0, 0), (0, w), (h, w), (h, 0), (0, 0))]
        self.window_band.setToGeometry(QgsGeometry.fromPolylineXY(ring), None)

    def _draw_clicks(self, points) -> None:
        scene = self.canvas.scene()
        for marker in self.markers:
            scene.removeItem(marker)
        self.markers = []
        for point, positive, pending in points:
            marker = QgsVertexMarker(self.canvas)
            marker.setCenter(point)
            marker.setIconType(QgsVertexMarker.ICON_CIRCLE)
            marker.setIconSize(2 * self.click_radius)
            marker.setPenWidth(2)
            color = POSITIVE_COLOR if positive else NEGATIVE_COLOR
            if pending:
                marker.setColor(color)
                marker.setFillColor(QColor(255, 255, 255, 160))
            else:
                marker.setColor(QColor(255, 255, 255))
                marker.setFillColor(color)
            marker.setZValue(100)
            self.markers.append(marker)
