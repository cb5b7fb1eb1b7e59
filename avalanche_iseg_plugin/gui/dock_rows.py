"""Rows of the digitiser's dock that show what the digitiser works with: its raster (independent of the
active layer) and the units that follow it, the checkpoint by model name, and the finished avalanches
that are not saved yet with a way to save them elsewhere. Widgets only; the controller does the work."""
from __future__ import annotations

import os

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ..engine.target_rules import units_note

BUNDLED_LABEL = "Bundled avalanche model"
CHECKPOINT_FILTER = "RITM checkpoints (*.pth *.pt);;All files (*)"


class RasterRow(QWidget):
    """The raster the digitiser clicks on (choosable, kept when another layer becomes active)."""
    rasterChanged = pyqtSignal(object)      # QgsRasterLayer or None, chosen by the user

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QgsMapLayerComboBox(self)
        self.combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.combo.setAllowEmptyLayer(True)
        self.combo.setToolTip("The orthoimage or photo you digitise on; it stays the digitiser's raster when "
                              "another layer becomes active")
        self.combo.layerChanged.connect(lambda layer: self.rasterChanged.emit(layer))
        layout.addWidget(self.combo, 1)

    def layer(self):
        return self.combo.currentLayer()

    def set_layer(self, layer) -> None:
        if self.combo.currentLayer() is not layer:
            self.combo.setLayer(layer)


class UnitsLabel(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("color: palette(mid);")
        self.set_units("m")

    def set_units(self, units: str) -> None:
        self.units = units
        self.setText(units_note(units))


class CheckpointChooser(QWidget):
    """The model: the bundled one or a checkpoint file, shown by its model name; the file dialog opens
    where the last checkpoint is."""
    fileChanged = pyqtSignal(str)

    def __init__(self, bundled_path: str, path: str, parent=None):
        super().__init__(parent)
        self.bundled_path = bundled_path
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.addItem(BUNDLED_LABEL, bundled_path)
        self.combo.setItemData(0, bundled_path or "the model shipped with the plugin", Qt.ToolTipRole)
        self.combo.activated.connect(lambda _i: self.fileChanged.emit(self.filePath()))
        layout.addWidget(self.combo, 1)
        self.browse_button = QPushButton("…", self)
        self.browse_button.setToolTip("Choose a RITM checkpoint (.pth): the project's avalanche model or an "
                                      "official coco_lvis_h18s/h18/h32_itermask.pth")
        self.browse_button.setFocusPolicy(Qt.NoFocus)
        self.browse_button.clicked.connect(self.browse)
        layout.addWidget(self.browse_button)
        self.setFilePath(path)

    @staticmethod
    def model_name(path: str) -> str:
        return os.path.splitext(os.path.basename(path))[0] if path else ""

    def filePath(self) -> str:  # noqa: N802 - the QgsFileWidget name the tests and dock use
        return self.combo.currentData() or ""

    def setFilePath(self, path: str) -> None:  # noqa: N802
        path = path or self.bundled_path
        index = self.combo.findData(path)
        if index < 0:
            self.combo.addItem(self.model_name(path), path)
            index = self.combo.count() - 1
            self.combo.setItemData(index, path, Qt.ToolTipRole)
        changed = index != self.combo.currentIndex()
        self.combo.setCurrentIndex(index)
        self.combo.setToolTip(path)
        if changed:
            self.fileChanged.emit(path)

    def browse_start(self) -> str:
        """The folder the file dialog opens in: the current checkpoint's."""
        path = self.filePath()
        return os.path.dirname(path) if path else ""

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a RITM checkpoint", self.browse_start(), CHECKPOINT_FILTER)
        if path:
            self.setFilePath(path)


class UnsavedRow(QWidget):
    """'N finished avalanche(s) not saved' with 'Save to new layer…'; hidden when nothing waits."""
    saveElsewhereRequested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #b00000; font-weight: bold;")
        layout.addWidget(self.label, 1)
        self.button = QPushButton("Save to new layer…", self)
        self.button.setFocusPolicy(Qt.NoFocus)
        self.button.setToolTip("Create a new avalanche GeoPackage and save the waiting avalanches into it "
                               "(or choose another target layer above)")
        self.button.clicked.connect(self.saveElsewhereRequested)
        layout.addWidget(self.button)
        self.set_count(0)

    def set_count(self, n: int) -> None:
        self.count = n
        self.label.setText(f"{n} finished avalanche(s) not saved (drawn dashed on the map)" if n else "")
        self.setVisible(n > 0)
