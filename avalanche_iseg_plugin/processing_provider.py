"""Processing provider "Avalanche digitiser" and its algorithms."""
from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

PROVIDER_ID = "avalanche_iseg"
ICON_PATH = os.path.join(os.path.dirname(__file__), "icon.png")


class AvalancheProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Avalanche digitiser"

    def icon(self):
        return QIcon(ICON_PATH)

    def loadAlgorithms(self):
        try:
            from .segment_points_algorithm import SegmentFromPointsAlgorithm
        except ImportError:
            return
        self.addAlgorithm(SegmentFromPointsAlgorithm())
