"""The click map tool: turns mouse and key events on the canvas into digitising requests.

Left click = positive click, right click = negative click, left drag = box, Space = finish,
Ctrl+Z / Backspace = undo, Esc = discard, Ctrl+click = pick the polygon under the cursor for correction.
Points are emitted in the canvas CRS; the controller transforms them. Wheel zoom and middle-button pan
are left to the canvas. While the tool is active the keys also work when a widget of ``key_scope``
(the dock) has focus: event filters on the dock's widgets (gui/digitiser_keys.py) hand them to the tool.
"""
from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import QEvent, QPoint, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QCursor

DRAG_THRESHOLD_PX = 6


class AvalancheMapTool(QgsMapTool):
    clicked = pyqtSignal(QgsPointXY, bool)           # point in canvas CRS, is_positive
    boxDrawn = pyqtSignal(QgsPointXY, QgsPointXY)    # drag start, drag end (canvas CRS)
    finishRequested = pyqtSignal()
    undoRequested = pyqtSignal()
    discardRequested = pyqtSignal()
    pickRequested = pyqtSignal(QgsPointXY)          # Ctrl+click: the polygon there is to be corrected

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setCursor(QCursor(Qt.CrossCursor))
        self._press_pos: QPoint | None = None
        self._dragging = False
        self._box_band: QgsRubberBand | None = None
        self.key_scope: list = []                        # widgets whose keys go to the tool (the dock)
        self._app_keys = None

    # ---------------------------------------------------------------- life cycle
    def flags(self):
        return QgsMapTool.Flags()   # no context menu on right click: right click is a negative click

    def activate(self):
        from .digitiser_keys import DigitiserKeys

        super().activate()
        self.canvas().installEventFilter(self)
        if self._app_keys is None:
            self._app_keys = DigitiserKeys(self)
        self._app_keys.install()

    def deactivate(self):
        if self._app_keys is not None:
            self._app_keys.remove()
        self.canvas().removeEventFilter(self)
        self._clear_box()
        self._press_pos = None
        super().deactivate()

    def eventFilter(self, watched, event):
        # QGIS binds Ctrl+Z, Backspace and Space to its own actions; claim them while this tool is active.
        if event.type() == QEvent.ShortcutOverride and self.is_our_key(event):
            event.accept()
        return False

    # ---------------------------------------------------------------- mouse
    def canvasPressEvent(self, event):
        if event.button() == Qt.LeftButton and event.modifiers() & Qt.ControlModifier:
            self._press_pos = None
            self.pickRequested.emit(QgsPointXY(event.mapPoint()))
            return
        if event.button() == Qt.LeftButton:
            self._press_pos = event.pos()
            self._dragging = False

    def canvasDoubleClickEvent(self, event):  # noqa: N802
        # Qt turns the second of two quick presses into a double click: it is one more click, never lost
        self.canvasPressEvent(event)

    def canvasMoveEvent(self, event):
        if self._press_pos is None or not (event.buttons() & Qt.LeftButton):
            return
        if not self._dragging and (event.pos() - self._press_pos).manhattanLength() < DRAG_THRESHOLD_PX:
            return
        self._dragging = True
        self._draw_box(self.toMapCoordinates(self._press_pos), event.mapPoint())

    def canvasReleaseEvent(self, event):
        if event.button() == Qt.RightButton:
            self.clicked.emit(QgsPointXY(event.mapPoint()), False)
            return
        if event.button() != Qt.LeftButton or self._press_pos is None:
            return
        start = self.toMapCoordinates(self._press_pos)
        dragged = self._dragging
        self._press_pos = None
        self._dragging = False
        self._clear_box()
        if dragged:
            self.boxDrawn.emit(QgsPointXY(start), QgsPointXY(event.mapPoint()))
        else:
            self.clicked.emit(QgsPointXY(event.mapPoint()), True)

    # ---------------------------------------------------------------- keys
    @staticmethod
    def is_our_key(event) -> bool:
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key_Z and mods & Qt.ControlModifier:
            return True
        return key in (Qt.Key_Space, Qt.Key_Escape, Qt.Key_Backspace) and not mods & Qt.ControlModifier

    def handle_key(self, event) -> None:
        """One of our keys, wherever it was pressed: the digitiser's action (auto-repeat ignored)."""
        if event.isAutoRepeat():
            return
        key = event.key()
        if key == Qt.Key_Space:
            self.finishRequested.emit()
        elif key == Qt.Key_Escape:
            self.discardRequested.emit()
        else:
            self.undoRequested.emit()

    def keyPressEvent(self, event):
        # QgsMapCanvas's convention is inverted: a map tool *ignores* a key event to say it consumed it
        # (then the canvas skips its own handling, e.g. Space = temporary pan); an accepted event gets
        # the canvas's default behaviour.
        if not self.is_our_key(event):
            event.accept()
            return
        event.ignore()
        self.handle_key(event)

    def keyReleaseEvent(self, event):
        if self.is_our_key(event):
            event.ignore()
        else:
            event.accept()

    # ---------------------------------------------------------------- box band
    def _draw_box(self, a: QgsPointXY, b: QgsPointXY) -> None:
        if self._box_band is None:
            self._box_band = QgsRubberBand(self.canvas(), QgsWkbTypes.PolygonGeometry)
            self._box_band.setColor(QColor(255, 200, 0, 220))
            self._box_band.setFillColor(QColor(255, 200, 0, 40))
            self._box_band.setWidth(2)
        self._box_band.setToGeometry(QgsGeometry.fromRect(QgsRectangle(QgsPointXY(a), QgsPointXY(b))), None)

    def _clear_box(self) -> None:
        if self._box_band is not None:
            self.canvas().scene().removeItem(self._box_band)
            self._box_band = None
