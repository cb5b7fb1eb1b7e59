"""Processing provider "Avalanche digitiser": holds the algorithms "Segment avalanches from points"
(``toolbox.segment_algorithm``) and "Terrain attributes" (``toolbox.terrain_algorithm``)."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .segment_algorithm import ICON_PATH, SegmentFromPointsAlgorithm
from .terrain_algorithm import TerrainAttributesAlgorithm

PROVIDER_ID = "avalanche_iseg"


class AvalancheProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Avalanche digitiser"

    def icon(self):
        return QIcon(ICON_PATH)

    def loadAlgorithms(self):  # noqa: N802
        self.addAlgorithm(SegmentFromPointsAlgorithm())
        self.addAlgorithm(TerrainAttributesAlgorithm())
