"""The plugin's dock: model and digitising settings, object buttons, target layer, export, status line.

Widgets only: every action is a signal; the controller does the work. Settings are written back to
QgsSettings as soon as they change.
"""
from __future__ import annotations

from qgis.core import QgsMapLayerProxyModel, QgsVectorLayer
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core_model.brs_modes import BRS_MODES
from ..engine.target_rules import unit_suffixes
from ..engine.plugin_settings import PluginSettings
from ..layers.model_store import ModelMemory
from ..layers.settings import save_settings
from .dock_rows import RasterRow, UnitsLabel, UnsavedRow
from .dock_models import DockModels
from .raster_look import raster_look_combo

DOCK_OBJECT_NAME = "AvalancheIsegDock"



def engine_combo(parent, engine: str, chosen) -> QComboBox:
    """Automatic / ONNX Runtime / PyTorch; ``chosen(engine)`` when the user picks one."""
    combo = QComboBox(parent)
    for label, value in (("Automatic", "auto"), ("ONNX Runtime (CPU)", "onnxruntime"), ("PyTorch", "torch")):
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(engine)))
    combo.setToolTip("What runs the model: Automatic takes PyTorch where it is installed (needed for the "
                     "refinement modes and an NVIDIA GPU), else ONNX Runtime. The status line says which one "
                     "runs; applies from the next avalanche.")
    combo.currentIndexChanged.connect(lambda _i: chosen(combo.currentData() or "auto"))
    return combo

class AvalancheDock(QDockWidget):
    finishRequested = pyqtSignal()
    undoRequested = pyqtSignal()
    discardRequested = pyqtSignal()
    newLayerRequested = pyqtSignal()
    correctRequested = pyqtSignal()
    exportRequested = pyqtSignal()
    dependenciesRequested = pyqtSignal()      # install / repair / remove PyTorch and OpenCV
    targetLayerChanged = pyqtSignal(object)   # QgsVectorLayer or None
    settingsChanged = pyqtSignal(str)         # name of the PluginSettings field that changed
    closed = pyqtSignal()                     # the user closed the dock: the tool goes off

    def __init__(self, settings: PluginSettings, parent=None, save=save_settings, memory=None):
        """``save(settings)`` keeps a changed setting (QgsSettings; a test passes its own); ``memory``
        keeps each model's settings (layers.model_store.ModelMemory)."""
        super().__init__("Avalanche digitiser", parent)
        self.setObjectName(DOCK_OBJECT_NAME)
        self.settings = settings
        self._save = save
        self._devices_checked = False
        body = self.body = QWidget(self)    # the content, inside a scroll area (the dock's widget())
        layout = QVBoxLayout(body)

        # --- model
        model_box = QGroupBox("Model", body)
        form = QFormLayout(model_box)
        self.models = DockModels(self, settings, memory if memory is not None else ModelMemory(), self._set)
        self.checkpoint_widget = self.models.chooser     # the model row (the tests' and scripts' name)
        form.addRow("Model", self.checkpoint_widget)
        self.device_combo = QComboBox(model_box)
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.currentIndexChanged.connect(self._on_device)
        form.addRow("Device", self.device_combo)
        self.transport_combo = QComboBox(model_box)
        for value, label in (("process", "Separate process (safe)"), ("thread", "QGIS thread (fallback)")):
            self.transport_combo.addItem(label, value)
        self.transport_combo.setCurrentIndex(max(0, self.transport_combo.findData(settings.transport)))
        self.transport_combo.setToolTip("Where the model runs: a separate Python process keeps QGIS up if it "
                                        "crashes or runs out of memory; the thread is the fallback")
        self.transport_combo.currentIndexChanged.connect(
            lambda _i: self._set("transport", self.transport_combo.currentData() or "process"))
        form.addRow("Run model in", self.transport_combo)
        self.refinement_combo = QComboBox(model_box)
        for mode in BRS_MODES:
            self.refinement_combo.addItem(mode, mode)
        self.refinement_combo.setCurrentIndex(max(0, self.refinement_combo.findData(settings.brs_mode)))
        self.refinement_combo.setToolTip("Back-propagating refinement (RITM): from the second click on, fits the "
                                         "prediction to the clicked pixels — several times slower per click "
                                         "(f-BRS least, RGB-/DistMap-BRS most); applies from the next avalanche")
        self.refinement_combo.currentIndexChanged.connect(
            lambda _i: self._set("brs_mode", self.refinement_combo.currentData() or "NoBRS"))
        form.addRow("Refinement", self.refinement_combo)
        self.engine_combo = engine_combo(model_box, settings.engine, lambda engine: self._set("engine", engine))
        form.addRow("Engine", self.engine_combo)
        self.max_side_spin = QSpinBox(model_box)
        self.max_side_spin.setRange(256, 8192)
        self.max_side_spin.setSingleStep(100)
        self.max_side_spin.setValue(settings.max_side)
        self.max_side_spin.setSuffix(" px")
        self.max_side_spin.setToolTip("Longest side of the raster window given to the model; larger "
                                      "windows are resampled down to it")
        self.max_side_spin.valueChanged.connect(lambda v: self._set("max_side", int(v)))
        form.addRow("Window max side", self.max_side_spin)
        self.raster_look_combo = raster_look_combo(model_box, settings, self._set)
        form.addRow("Raster look", self.raster_look_combo)
        layout.addWidget(model_box)
        self.model_settings_box = self.models.settings_box
        self.threshold_spin = self.model_settings_box.threshold_spin
        layout.addWidget(self.model_settings_box)
        self.raster_row = RasterRow(body)
        raster_form = QFormLayout()
        raster_form.addRow("Raster", self.raster_row)
        layout.insertLayout(0, raster_form)

        # --- display
        view_box = QGroupBox("Display", body)
        form = QFormLayout(view_box)
        self.opacity_slider = QSlider(Qt.Horizontal, view_box)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(round(settings.overlay_opacity * 100)))
        self.opacity_slider.valueChanged.connect(lambda v: self._set("overlay_opacity", v / 100.0))
        form.addRow("Mask opacity", self.opacity_slider)
        self.radius_spin = QSpinBox(view_box)
        self.radius_spin.setRange(2, 40)
        self.radius_spin.setValue(settings.click_radius)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.valueChanged.connect(lambda v: self._set("click_radius", int(v)))
        form.addRow("Click radius", self.radius_spin)
        layout.addWidget(view_box)

        # --- polygons
        poly_box = QGroupBox("Polygons", body)
        form = QFormLayout(poly_box)
        self.min_area_spin = self._double(0.0, 1e7, 5.0, 1, settings.min_area, "min_area")
        self.min_area_spin.setToolTip("Parts smaller than this are dropped (square units of the raster)")
        form.addRow("Min area", self.min_area_spin)
        self.simplify_spin = self._double(0.0, 1000.0, 0.25, 2, settings.simplify, "simplify")
        self.simplify_spin.setToolTip("Douglas-Peucker tolerance in the raster's units; 0 keeps the pixel outline")
        form.addRow("Simplify", self.simplify_spin)
        self.units_label = UnitsLabel(poly_box)
        form.addRow(self.units_label)
        self.set_units("m")
        target_row = QHBoxLayout()
        self.layer_combo = QgsMapLayerComboBox(poly_box)
        self.layer_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip("Polygon layer that receives finished avalanches")
        self.layer_combo.activated.connect(lambda i: self.targetLayerChanged.emit(self.layer_combo.layer(i)))
        target_row.addWidget(self.layer_combo, 1)
        self.new_layer_button = QPushButton("New…", poly_box)
        self.new_layer_button.setToolTip("Create a new avalanche GeoPackage")
        self.new_layer_button.clicked.connect(self.newLayerRequested)
        self.new_layer_button.setFocusPolicy(Qt.NoFocus)
        target_row.addWidget(self.new_layer_button)
        form.addRow("Target layer", target_row)
        self.export_name_edit = QLineEdit(settings.export_layer_name or "avalanches", poly_box)
        self.export_name_edit.setToolTip("Name of the layer inside a GeoPackage written by 'Export…'")
        self.export_name_edit.editingFinished.connect(
            lambda: self._set("export_layer_name", self.export_layer_name()))
        form.addRow("Export layer name", self.export_name_edit)
        self.unsaved_row = UnsavedRow(poly_box)
        form.addRow(self.unsaved_row)
        layout.addWidget(poly_box)

        # --- object buttons
        buttons = QHBoxLayout()
        self.finish_button = QPushButton("Finish (Space)", body)
        self.finish_button.clicked.connect(self.finishRequested)
        self.undo_button = QPushButton("Undo (Ctrl+Z)", body)
        self.undo_button.clicked.connect(self.undoRequested)
        self.discard_button = QPushButton("Discard (Esc)", body)
        self.discard_button.clicked.connect(self.discardRequested)
        for button in (self.finish_button, self.undo_button, self.discard_button):
            button.setFocusPolicy(Qt.NoFocus)   # keys must keep going to the map canvas
            buttons.addWidget(button)
        layout.addLayout(buttons)
        more = QHBoxLayout()
        self.correct_button = QPushButton("Correct selected polygon", body)
        self.correct_button.setToolTip("Load the selected polygon of the target layer as the starting mask; "
                                       "clicks then refine it and Finish replaces its geometry (same id)")
        self.correct_button.clicked.connect(self.correctRequested)
        self.export_button = QPushButton("Export…", body)
        self.export_button.setToolTip("Save the target layer as Shapefile or GeoPackage")
        self.export_button.clicked.connect(self.exportRequested)
        self.dependencies_button = QPushButton("Python packages…", body)
        self.dependencies_button.setToolTip("Install, repair or remove PyTorch and OpenCV for the plugin")
        self.dependencies_button.clicked.connect(self.dependenciesRequested)
        for button in (self.correct_button, self.export_button, self.dependencies_button):
            button.setFocusPolicy(Qt.NoFocus)
            more.addWidget(button)
        layout.addLayout(more)

        help_label = QLabel("Left click: avalanche · right click: not avalanche · drag: box · "
                            "Space: finish · Ctrl+Z/Backspace: undo · Esc: discard · "
                            "Ctrl+click a polygon: correct it", body)
        help_label.setWordWrap(True)
        help_label.setStyleSheet("color: palette(mid);")
        layout.addWidget(help_label)
        self.status_label = QLabel(body)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        scroll = QScrollArea(self)     # the dock fits a 1366×768 screen: its content scrolls
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.setMinimumWidth(body.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.setWidget(scroll)
        self.models.refresh()
        self.set_status(0, 0, "", "cpu")

    # ---------------------------------------------------------------- helpers
    def _double(self, lo, hi, step, decimals, value, name) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(lo, hi)
        spin.setSingleStep(step)
        spin.setDecimals(decimals)
        spin.setValue(value)
        spin.valueChanged.connect(lambda v: self._set(name, float(v)))
        return spin

    def _set(self, name: str, value) -> None:
        if getattr(self.settings, name) == value:
            return
        setattr(self.settings, name, value)
        self._save(self.settings)
        self.settingsChanged.emit(name)

    def _on_device(self, _index: int) -> None:
        device = self.device_combo.currentData() or "cpu"
        self._set("device", device)

    def closeEvent(self, event):  # noqa: N802 - Qt name
        self.closed.emit()
        super().closeEvent(event)

    def export_layer_name(self) -> str:
        return self.export_name_edit.text().strip() or "avalanches"

    def set_units(self, units: str) -> None:
        """Min area, Simplify and the units note follow the raster's units (m, px, °)."""
        area, length = unit_suffixes(units)
        self.min_area_spin.setSuffix(area)
        self.simplify_spin.setSuffix(length)
        self.units_label.set_units(units)

    # ---------------------------------------------------------------- public
    def refresh_devices(self, available=None) -> str:
        """Lists CPU and each CUDA device torch sees (imports torch: runs when the dock is first opened).
        A stored device that is not available falls back to CPU and the setting is corrected; returns
        that sentence ('' when the stored device exists)."""
        from ..engine.devices import available_devices, resolve_device

        if self._devices_checked and available is None:
            return ""
        self._devices_checked = True
        available = available_devices() if available is None else available
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device, label in available:
            self.device_combo.addItem(label, device)
        self.device_combo.blockSignals(False)
        device, fallback = resolve_device(self.settings.device, available)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(device)))
        self._set("device", device)
        return fallback

    def target_layer(self) -> QgsVectorLayer | None:
        return self.layer_combo.currentLayer()

    def set_target_layer(self, layer) -> None:
        self.layer_combo.setLayer(layer)

    def set_status(self, n_pos: int, n_neg: int, model: str, device: str, busy: bool = False,
                   latency_ms: float | None = None, refinement: str = "NoBRS", engine: str = "") -> None:
        """``engine``: what runs the model once it is loaded ("ONNX Runtime, CPU"), shown for the device."""
        model_text = model or "not loaded"
        where = f"engine: {engine}" if engine else f"device: {device}"
        text = f"Clicks: {n_pos} positive, {n_neg} negative · model: {model_text} · {where}"
        if refinement != "NoBRS":
            text += f" · refinement: {refinement}"
        if latency_ms is not None:
            text += f" · last click: {latency_ms:.0f} ms"
        if busy:
            text += " · predicting…"
        self.status_label.setText(text)

