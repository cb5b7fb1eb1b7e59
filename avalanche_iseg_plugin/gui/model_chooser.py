"""The dock's Model row: the installed models of the models folder (name, trained on, size; the avalanche
ones marked), the checkpoint files chosen by hand, "Other file…", and the "Models…" button.  A widget
only: it says what was chosen (`modelChosen(name, path)`, name '' for a plain file)."""
from __future__ import annotations

import os

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QPushButton, QWidget

CHECKPOINT_FILTER = "RITM checkpoints (*.pth *.pt);;All files (*)"
OTHER_FILE = "Other file…"
AVALANCHE_MARK = "❄ "
_MODEL, _FILE, _BROWSE = "model", "file", "browse"


def size_text(size: int | None) -> str:
    return f"{size / 1e6:.0f} MB" if size else ""


def model_label(info) -> str:
    """'❄ aval_slf — SLF avalanche webcam images (300+ avalanches), 120 MB' (core_model ModelInfo)."""
    entry = info.entry
    parts = [p for p in (entry.trained_on, size_text(info.size)) if p]
    text = (AVALANCHE_MARK if entry.avalanche else "") + info.name
    return text + (" — " + ", ".join(parts) if parts else "")


def file_label(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0] if path else ""


class ModelChooser(QWidget):
    modelChosen = pyqtSignal(str, str)     # (installed model's name or '' for a file, checkpoint path)
    modelsRequested = pyqtSignal()         # the Models… button

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.activated.connect(self._on_activated)
        layout.addWidget(self.combo, 1)
        self.models_button = QPushButton("Models…", self)
        self.models_button.setToolTip("Download, import, remove or verify models (the catalogue)")
        self.models_button.setFocusPolicy(Qt.NoFocus)
        self.models_button.clicked.connect(self.modelsRequested)
        layout.addWidget(self.models_button)
        self._files: list[str] = []
        self._current: tuple = ()

    # ---------------------------------------------------------------- filling
    def set_models(self, infos, name: str, path: str) -> None:
        """Lists the installed models (core_model ModelInfo with `installed`) and selects `name` (an
        installed model) or, when `name` is '', the file `path` (the model whose file it is, if any)."""
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in infos:
            self.combo.addItem(model_label(info), (_MODEL, info.name, str(info.installed)))
            tip = f"{info.entry.description}\n{info.installed}".strip()
            if info.unpinned:
                tip += "\nUnpinned: no published id; accepted after the safe load and the architecture check."
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ToolTipRole)
        for file in self._files:
            self._add_file(file)
        self.combo.addItem(OTHER_FILE, (_BROWSE,))
        self.combo.setItemData(self.combo.count() - 1, "Choose a RITM checkpoint (.pth) file", Qt.ToolTipRole)
        self.combo.blockSignals(False)
        self._select(name, path)

    def _find(self, data: tuple) -> int:
        """The index of the item holding `data` (QComboBox.findData does not compare Python tuples)."""
        return next((i for i in range(self.combo.count()) if self.combo.itemData(i) == data), -1)

    def _add_file(self, path: str) -> int:
        index = self._find((_FILE, path))
        if index < 0:
            index = self._find((_BROWSE,))
            if index < 0:
                index = self.combo.count()
            self.combo.insertItem(index, file_label(path), (_FILE, path))
            self.combo.setItemData(index, path, Qt.ToolTipRole)
        return index

    def _index_of(self, name: str, path: str) -> int:
        for i in range(self.combo.count()):
            data = self.combo.itemData(i)
            if name and data[0] == _MODEL and data[1] == name:
                return i
            if not name and data[0] == _MODEL and path and os.path.normpath(data[2]) == os.path.normpath(path):
                return i
        if not path:
            return 0 if self.combo.count() > 1 else -1
        if path not in self._files:
            self._files.append(path)
        return self._add_file(path)

    def _select(self, name: str, path: str) -> None:
        index = self._index_of(name, path)
        if index >= 0:
            self.combo.setCurrentIndex(index)
            self.combo.setToolTip(self.combo.itemData(index, Qt.ToolTipRole) or "")
            self._current = self.combo.itemData(index)

    # ---------------------------------------------------------------- reading
    def model_name(self) -> str:
        data = self.combo.currentData()
        return data[1] if data and data[0] == _MODEL else ""

    def filePath(self) -> str:  # noqa: N802 - the name the tests and dock use
        data = self.combo.currentData()
        if not data:
            return ""
        return data[2] if data[0] == _MODEL else data[1] if data[0] == _FILE else ""

    # ---------------------------------------------------------------- choosing
    def setFilePath(self, path: str) -> None:  # noqa: N802
        """Chooses checkpoint file `path` as a plain file (a test's or a script's way to pick a file)."""
        self._choose_file(path)

    def choose_model(self, name: str) -> None:
        index = self._index_of(name, "")
        if index >= 0 and self.combo.itemData(index)[0] == _MODEL:
            self.combo.setCurrentIndex(index)
            self._on_activated(index)

    def _choose_file(self, path: str) -> None:
        index = self._index_of("", path)
        data = self.combo.itemData(index) if index >= 0 else None
        if data is None:
            return
        self.combo.setCurrentIndex(index)
        self._emit_if_changed(data)

    def _emit_if_changed(self, data) -> None:
        self.combo.setToolTip(self.combo.itemData(self.combo.currentIndex(), Qt.ToolTipRole) or "")
        self._current = data     # said even when shown already: the bundled file shows as its model
        if data[0] == _MODEL:
            self.modelChosen.emit(data[1], data[2])
        else:
            self.modelChosen.emit("", data[1])

    def _on_activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data is None:
            return
        if data[0] == _BROWSE:
            self.browse()
            return
        self._emit_if_changed(data)

    def browse_start(self) -> str:
        """The folder the file dialog opens in: the current checkpoint's."""
        path = self.filePath() or (self._current[-1] if self._current else "")
        return os.path.dirname(path) if path else ""

    def browse(self) -> None:
        """'Other file…': a checkpoint file from the file dialog; cancelled, the previous choice stays."""
        start = self.browse_start()
        path, _ = QFileDialog.getOpenFileName(self, "Choose a RITM checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self._choose_file(path)
        else:
            self.combo.setCurrentIndex(max(0, self._find(self._current)))
