"""Glue between the map tool, the dock, the digitising session, the prediction worker and the layers."""
from __future__ import annotations

from qgis.core import Qgis

MESSAGE_TITLE = "Avalanche digitiser"


class DigitisingController:
    def __init__(self, iface, dock, map_tool):
        self.iface = iface
        self.dock = dock
        self.map_tool = map_tool

    def message(self, text: str, level=Qgis.Warning) -> None:
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, text, level=level, duration=8)

    def shutdown(self) -> None:
        pass
