"""Numbered ground-control-point markers on a map canvas (the photo canvas and the main map).

A marker is a small cross with its GCP number beside it, so the analyst sees which photo point goes
with which map point; the one waiting for its partner is drawn in orange.
"""
from __future__ import annotations

from qgis.core import QgsPointXY
from qgis.gui import QgsMapCanvasItem
from qgis.PyQt.QtCore import QPointF, QRectF
from qgis.PyQt.QtGui import QColor, QFont, QPen

GCP_COLOR = QColor(255, 230, 0)
PENDING_COLOR = QColor(255, 120, 0)
HALF_SIZE = 7


class GcpMarker(QgsMapCanvasItem):
    def __init__(self, canvas, point: QgsPointXY, label: str, pending: bool = False):
        super().__init__(canvas)
        self.point = QgsPointXY(point)
        self.label = label
        self.color = PENDING_COLOR if pending else GCP_COLOR
        self.setZValue(110)
        self.updatePosition()

    def updatePosition(self):  # noqa: N802 - QGIS name; called when the canvas extent changes
        centre = self.toCanvasCoordinates(self.point)
        self.setPos(centre)
        self.prepareGeometryChange()

    def boundingRect(self):  # noqa: N802 - Qt name
        return QRectF(-HALF_SIZE - 2, -HALF_SIZE - 18, 2 * HALF_SIZE + 60, 2 * HALF_SIZE + 22)

    def paint(self, painter, option=None, widget=None):
        for width, color in ((4, QColor(0, 0, 0, 200)), (2, self.color)):
            painter.setPen(QPen(color, width))
            painter.drawLine(QPointF(-HALF_SIZE, 0), QPointF(HALF_SIZE, 0))
            painter.drawLine(QPointF(0, -HALF_SIZE), QPointF(0, HALF_SIZE))
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        text_at = QPointF(HALF_SIZE + 2, -HALF_SIZE + 2)
        painter.setPen(QPen(QColor(0, 0, 0), 3))
        painter.drawText(text_at + QPointF(1, 1), self.label)
        painter.setPen(QPen(self.color, 1))
        painter.drawText(text_at, self.label)


class GcpMarkerSet:
    """The markers of one canvas; ``show`` replaces them all."""

    def __init__(self, canvas):
        self.canvas = canvas
        self.items: list[GcpMarker] = []

    def show(self, points, pending_point=None, pending_label: str = "") -> None:
        """``points``: list of (QgsPointXY in canvas units, label)."""
        self.clear()
        for point, label in points:
            self.items.append(GcpMarker(self.canvas, point, label))
        if pending_point is not None:
            self.items.append(GcpMarker(self.canvas, pending_point, pending_label, pending=True))
        self.canvas.update()

    def clear(self) -> None:
        scene = self.canvas.scene()
        for item in self.items:
            scene.removeItem(item)
        self.items = []

    @property
    def count(self) -> int:
        return len(self.items)

