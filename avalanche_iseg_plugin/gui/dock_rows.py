"""Rows of the digitiser's dock that show what the digitiser works with: its raster (independent of the
active layer) and the units that follow it, and the finished avalanches
that are not saved yet with a way to save them elsewhere. Widgets only; the controller does the work."""
from __future__ import annotations

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ..engine.target_rules import units_note


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
