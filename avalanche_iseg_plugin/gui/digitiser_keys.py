"""Space, Esc, Ctrl+Z and Backspace for the digitiser wherever the user is in its dock.

While the click tool is active, an event filter on every widget of the tool's ``key_scope`` (the dock
and all its children) takes these keys when such a widget has focus and hands them to the tool, so that
Space finishes the avalanche even right after a click on a dock button or a field. Text fields keep
Backspace and Ctrl+Z (and a name field Space) for editing their text. Keys on the canvas itself go the
canvas's way (the tool's keyPressEvent), so nothing is done twice.

Not an application-wide filter (as TerraLab's Deepness plugin has): in QGIS 3.22 a Python filter on the
QApplication sees every event of every object, and converting some of those objects for Python crashed
QGIS (signal 11 in sip's type conversion, from a timer event) in a real session under Xvfb.
"""
from __future__ import annotations

from qgis.PyQt.QtCore import QEvent, QObject, Qt
from qgis.PyQt.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit, QWidget



class DigitiserKeys(QObject):
    def __init__(self, tool):
        super().__init__(tool)
        self.tool = tool
        self._installed = False
        self._filtered: list = []

    def _widgets(self):
        for scope in self.tool.key_scope:
            if scope is not None:
                yield scope
                yield from scope.findChildren(QWidget)

    def install(self) -> None:
        if not self._installed:
            self._filtered = list(self._widgets())
            for widget in self._filtered:
                widget.installEventFilter(self)
            self._installed = True

    def remove(self) -> None:
        if self._installed:
            for widget in self._filtered:
                try:
                    widget.removeEventFilter(self)
                except RuntimeError:     # deleted meanwhile
                    pass
            self._filtered, self._installed = [], False

    def _in_scope(self, widget) -> bool:
        if not isinstance(widget, QWidget):
            return False
        canvas = self.tool.canvas()
        if widget is canvas or canvas.isAncestorOf(widget):
            return False
        return any(w is not None and (w is widget or w.isAncestorOf(widget)) for w in self.tool.key_scope)

    @staticmethod
    def _edits_text(widget, event) -> bool:
        """Keys that edit a text field's text stay with it: Backspace and Ctrl+Z in text and number fields,
        Space too in a free text field (a layer name); Esc is always the digitiser's."""
        if event.key() == Qt.Key_Escape:
            return False
        w = widget
        while w is not None:
            if isinstance(w, QAbstractSpinBox):
                return event.key() != Qt.Key_Space
            if isinstance(w, (QTextEdit, QPlainTextEdit)) or (isinstance(w, QLineEdit) and not w.isReadOnly()):
                parent = w.parentWidget()
                in_spin = parent is not None and isinstance(parent, QAbstractSpinBox)
                return event.key() != Qt.Key_Space or not in_spin
            w = w.parentWidget()
        return False

    def eventFilter(self, watched, event):  # noqa: N802 - Qt name
        kind = event.type()
        if kind not in (QEvent.KeyPress, QEvent.ShortcutOverride, QEvent.KeyRelease):
            return False
        if not self.tool.is_our_key(event) or not self._in_scope(watched) or self._edits_text(watched, event):
            return False
        if kind == QEvent.ShortcutOverride:
            event.accept()          # not QGIS's shortcuts: the key press comes to us
            return True
        if kind == QEvent.KeyPress:
            self.tool.handle_key(event)
        return True                 # not the widget's (a button's Space, a combo box's popup)
