"""The dock's collapsible "Model settings": the chosen model's predictor settings (zoom-in on/off, zoom-in
target size, longest side, threshold), filled from its preset and editable.  A plain checkpoint file
runs with the settings it recommends itself: then only the threshold is editable."""
from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox

FILE_NOTE = "A checkpoint file runs with the settings it recommends; choose a model above to set them here."


class ModelSettingsBox(QgsCollapsibleGroupBox):
    edited = pyqtSignal(str, object)    # (PluginSettings field, value) changed by the user

    def __init__(self, parent=None):
        super().__init__("Model settings", parent)
        form = QFormLayout(self)
        self.zoom_check = QCheckBox("Zoom in on the object from the second click", self)
        self.zoom_check.setToolTip("RITM's zoom-in: from the second click the model sees a crop around the "
                                   "object (the avalanche fork's models run without it)")
        self.zoom_check.toggled.connect(self._on_zoom)
        form.addRow(self.zoom_check)
        self.target_spin = QSpinBox(self)
        self.target_spin.setRange(64, 2048)
        self.target_spin.setSingleStep(32)
        self.target_spin.setSuffix(" px")
        self.target_spin.setToolTip("Size the zoom-in crop is resized to")
        self.target_spin.valueChanged.connect(lambda v: self._edited("zoom_target_size", int(v)))
        form.addRow("Zoom-in size", self.target_spin)
        self.longest_spin = QSpinBox(self)
        self.longest_spin.setRange(0, 8192)
        self.longest_spin.setSingleStep(100)
        self.longest_spin.setSuffix(" px")
        self.longest_spin.setSpecialValueText("window size")
        self.longest_spin.setToolTip("The model's image is resized so that its longest side is at most this "
                                     "(the avalanche fork: 800 px on a CPU, up to 3600 px on a GPU)")
        self.longest_spin.valueChanged.connect(lambda v: self._edited("max_longest_side", int(v)))
        form.addRow("Longest side", self.longest_spin)
        self.threshold_spin = QDoubleSpinBox(self)
        self.threshold_spin.setRange(0.05, 0.95)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setToolTip("Probability above which a pixel belongs to the avalanche")
        self.threshold_spin.valueChanged.connect(lambda v: self._edited("threshold", float(v)))
        form.addRow("Threshold", self.threshold_spin)
        self.note = QLabel(FILE_NOTE, self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid);")
        form.addRow(self.note)
        self._quiet = False

    def _on_zoom(self, on: bool) -> None:
        self.target_spin.setEnabled(bool(on) and self.zoom_check.isEnabled())
        self._edited("zoom_in", bool(on))

    def _edited(self, name: str, value) -> None:
        if not self._quiet:
            self.edited.emit(name, value)

    def show_values(self, values: dict, for_model: bool) -> None:
        """Shows `values` (zoom_in, zoom_target_size, max_longest_side, threshold) without emitting;
        `for_model` False (a plain file): the three model fields are greyed and the note says why."""
        self._quiet = True
        try:
            self.zoom_check.setChecked(bool(values["zoom_in"]))
            self.target_spin.setValue(int(values["zoom_target_size"]))
            self.longest_spin.setValue(int(values["max_longest_side"]))
            self.threshold_spin.setValue(float(values["threshold"]))
        finally:
            self._quiet = False
        for widget in (self.zoom_check, self.target_spin, self.longest_spin):
            widget.setEnabled(for_model)
        self.target_spin.setEnabled(for_model and bool(values["zoom_in"]))
        self.note.setVisible(not for_model)

    def values(self) -> dict:
        return {"zoom_in": self.zoom_check.isChecked(), "zoom_target_size": self.target_spin.value(),
                "max_longest_side": self.longest_spin.value(), "threshold": self.threshold_spin.value()}
