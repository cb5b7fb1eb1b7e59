"""The "Webcam camera" dock: the photo in its own pixel-space canvas, the DEM, the GCP table, the fit.

Widgets only: every action is a signal; ``WebcamController`` (webcam_controller.py) does the work.
The photo canvas has no CRS: a photo without georeference is drawn in its pixel units (x = col,
y = -row), which is QGIS's own convention for such a raster.
"""
from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsMapLayerProxyModel
from qgis.gui import QgsFileWidget, QgsMapCanvas, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (QCheckBox, QDockWidget, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                                 QPushButton, QSplitter, QVBoxLayout, QWidget)

from .gcp_table import GcpTable

PANEL_OBJECT_NAME = "AvalancheIsegWebcamPanel"
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.tif *.tiff *.bmp);;All files (*)"


class PhotoCanvas(QgsMapCanvas):
    """A map canvas in photo pixels (no CRS) showing one photo layer."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("AvalancheIsegPhotoCanvas")
        self.setCanvasColor(QColor(40, 40, 40))
        self.setDestinationCrs(QgsCoordinateReferenceSystem())
        self.setMinimumSize(320, 240)
        self.enableAntiAliasing(True)

    def show_photo(self, layer) -> None:
        self.setLayers([layer] if layer is not None else [])
        self.setDestinationCrs(QgsCoordinateReferenceSystem())
        if layer is not None:
            self.setExtent(layer.extent())
        self.refresh()

    def photo_point_to_canvas(self, col: float, row: float):
        from qgis.core import QgsPointXY

        return QgsPointXY(col, -row)


class WebcamPanel(QDockWidget):
    photoChosen = pyqtSignal(str)
    demChanged = pyqtSignal(object)          # QgsRasterLayer or None
    pickToggled = pyqtSignal(bool)
    deleteRequested = pyqtSignal()
    fitRequested = pyqtSignal()
    saveRequested = pyqtSignal()
    loadRequested = pyqtSignal()
    digitiseToggled = pyqtSignal(bool)
    pixelPolygonToggled = pyqtSignal(bool)
    groundResolutionChanged = pyqtSignal(float)   # map units; 0: the DEM's cells

    def __init__(self, parent=None):
        super().__init__("Webcam camera", parent)
        self.setObjectName(PANEL_OBJECT_NAME)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)

        form = QFormLayout()
        self.photo_widget = QgsFileWidget(body)
        self.photo_widget.setFilter(PHOTO_FILTER)
        self.photo_widget.setDialogTitle("Open a webcam photo")
        self.photo_widget.setToolTip("The webcam photo (JPEG, PNG, TIFF without georeference)")
        self.photo_widget.fileChanged.connect(self._on_photo)
        form.addRow("Photo", self.photo_widget)
        self.dem_combo = QgsMapLayerComboBox(body)
        self.dem_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.dem_combo.setAllowEmptyLayer(True)
        self.dem_combo.setLayer(None)
        self.dem_combo.setToolTip("The terrain model (a raster layer of heights) the camera is fitted on and "
                                  "the outlines are projected onto")
        self.dem_combo.layerChanged.connect(lambda layer: self.demChanged.emit(layer))
        form.addRow("DEM", self.dem_combo)
        layout.addLayout(form)

        splitter = QSplitter(Qt.Vertical, body)
        self.photo_canvas = PhotoCanvas(splitter)
        lower = QWidget(splitter)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        self.hint_label = QLabel("Open a photo, choose the DEM, then pick ground control points.", lower)
        self.hint_label.setWordWrap(True)
        self.hint_label.setMinimumHeight(2 * self.hint_label.fontMetrics().lineSpacing() + 4)
        lower_layout.addWidget(self.hint_label)

        gcp_row = QHBoxLayout()
        self.pick_button = QPushButton("Pick GCPs", lower)
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Click a landmark in the photo, then the same landmark on the map; repeat. "
                                    "Right click ends picking.")
        self.pick_button.toggled.connect(self.pickToggled)
        self.delete_button = QPushButton("Delete", lower)
        self.delete_button.setToolTip("Delete the selected rows of the table")
        self.delete_button.clicked.connect(self.deleteRequested)
        self.fit_button = QPushButton("Fit", lower)
        self.fit_button.setToolTip("Fit the camera to the GCPs (at least 6 when the focal length is fitted)")
        self.fit_button.clicked.connect(self.fitRequested)
        self.save_button = QPushButton("Save camera…", lower)
        self.save_button.setToolTip("Save the fitted camera as a JSON file (next to the photo by default); "
                                    "later frames of this webcam (same image size) use it")
        self.save_button.clicked.connect(self.saveRequested)
        self.load_button = QPushButton("Load camera…", lower)
        self.load_button.setToolTip("Use a camera file saved for this webcam (same image size)")
        self.load_button.clicked.connect(self.loadRequested)
        for button in (self.pick_button, self.delete_button, self.fit_button, self.save_button, self.load_button):
            gcp_row.addWidget(button)
        lower_layout.addLayout(gcp_row)

        self.gcp_table = GcpTable(lower)
        self.gcp_table.setMinimumHeight(120)
        lower_layout.addWidget(self.gcp_table, 1)
        self.result_label = QLabel("No camera fitted.", lower)
        self.result_label.setWordWrap(True)
        self.result_label.setMinimumHeight(4 * self.result_label.fontMetrics().lineSpacing() + 4)
        self.result_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lower_layout.addWidget(self.result_label)

        digitise_row = QHBoxLayout()
        self.digitise_button = QPushButton("Digitise on photo", lower)
        self.digitise_button.setCheckable(True)
        self.digitise_button.setToolTip("Click avalanches in the photo (left = avalanche, right = not avalanche, "
                                        "Space = finish). With a camera, Space writes the outline projected "
                                        "onto the terrain into the avalanche layer.")
        self.digitise_button.toggled.connect(self.digitiseToggled)
        self.pixel_check = QCheckBox("Also keep the pixel outline", lower)
        self.pixel_check.setToolTip("Also store the outline in photo pixels (WKT, x = col, y = -row) in the "
                                    "field 'pixel_wkt' of each projected avalanche")
        self.pixel_check.toggled.connect(self.pixelPolygonToggled)
        self.resolution_spin = QDoubleSpinBox(lower)
        self.resolution_spin.setRange(0.0, 100.0)
        self.resolution_spin.setDecimals(1)
        self.resolution_spin.setSingleStep(0.5)
        self.resolution_spin.setSpecialValueText("DEM cells")
        self.resolution_spin.setSuffix(" m")
        self.resolution_spin.setToolTip("Ground resolution of the projected outlines (the DEM is sampled bilinearly "
                                        "on this grid); 'DEM cells' uses the DEM's own grid")
        self.resolution_spin.valueChanged.connect(self.groundResolutionChanged)
        digitise_row.addWidget(self.digitise_button)
        digitise_row.addWidget(self.pixel_check)
        digitise_row.addStretch(1)
        digitise_row.addWidget(QLabel("Ground grid", lower))
        digitise_row.addWidget(self.resolution_spin)
        lower_layout.addLayout(digitise_row)

        splitter.addWidget(self.photo_canvas)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([520, 400])       # the photo gets most of the height
        layout.addWidget(splitter, 1)
        self.setWidget(body)
        self.set_camera_state(False)

    # ---------------------------------------------------------------- view updates
    def _on_photo(self, path: str) -> None:
        if path:
            self.photoChosen.emit(path)

    def set_photo_path(self, path: str) -> None:
        self.photo_widget.blockSignals(True)
        self.photo_widget.setFilePath(path)
        self.photo_widget.blockSignals(False)

    def dem_layer(self):
        return self.dem_combo.currentLayer()

    def set_hint(self, text: str) -> None:
        if text:
            self.hint_label.setText(text)

    def set_result(self, text: str) -> None:
        self.result_label.setText(text)

    def set_camera_state(self, has_camera: bool) -> None:
        self.save_button.setEnabled(has_camera)

    def set_picking(self, active: bool) -> None:
        self.pick_button.blockSignals(True)
        self.pick_button.setChecked(active)
        self.pick_button.blockSignals(False)

    def set_digitising(self, active: bool) -> None:
        self.digitise_button.blockSignals(True)
        self.digitise_button.setChecked(active)
        self.digitise_button.blockSignals(False)
        self.digitise_button.setText("Stop digitising on photo" if active else "Digitise on photo")
