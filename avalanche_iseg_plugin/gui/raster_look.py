"""The dock's "Raster look" choice: what the model sees of a file raster — its bands as they are (16-bit
and float data stretched 2-98 %, the training's rule) or the layer as displayed (its renderer and
contrast stretch, drawn by QGIS on the raster's own pixel grid). Layers only QGIS can read (web services,
virtual rasters) are always read as displayed."""
from __future__ import annotations

from qgis.PyQt.QtWidgets import QComboBox

from ..layers.rendered_raster import LOOK_DISPLAYED, LOOK_RAW

CHOICES = ((LOOK_RAW, "Raw bands"), (LOOK_DISPLAYED, "As displayed"))


def raster_look_combo(parent, settings, set_value) -> QComboBox:
    """A combo box bound to ``settings.raster_look``; ``set_value(name, value)`` stores a change."""
    combo = QComboBox(parent)
    for value, label in CHOICES:
        combo.addItem(label, value)
    current = getattr(settings, "raster_look", LOOK_RAW)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setToolTip("What the model sees of a file raster: its bands (16-bit/float stretched 2-98 %) or the "
                     "layer as displayed with its renderer and contrast stretch (from the next avalanche). "
                     "WMS/WMTS/XYZ and virtual layers are always read as displayed, at the canvas's resolution.")
    combo.currentIndexChanged.connect(lambda _i: set_value("raster_look", combo.currentData()))
    return combo
