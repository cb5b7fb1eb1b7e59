"""The plugin object QGIS holds: actions, toolbar, Raster menu entry, dock, map tool, Processing provider.

initGui adds them; unload removes every one of them. The dock, map tool and digitising controller are
made the first time the user opens the tool, so QGIS starts without importing anything heavy.
"""
from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MENU = "&Avalanche digitiser"
TOOLBAR_NAME = "Avalanche digitiser"
TOOLBAR_OBJECT_NAME = "AvalancheIsegToolbar"
ACTION_OBJECT_NAME = "AvalancheIsegDigitiseAction"
WEBCAM_ACTION_OBJECT_NAME = "AvalancheIsegWebcamAction"


class AvalancheIsegPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.action: QAction | None = None
        self.toolbar = None
        self.provider = None
        self.dock = None
        self.map_tool = None
        self.controller = None
        self.webcam_action: QAction | None = None
        self.webcam_panel = None
        self.webcam = None              # WebcamController
        self.photo_digitising = None    # PhotoDigitising
        self.dependency_dialog = None
        self._dependencies_offered = False

    # ---------------------------------------------------------------- QGIS hooks
    def initProcessing(self):  # noqa: N802 - QGIS name
        from ..toolbox.provider import AvalancheProvider

        if self.provider is None:
            self.provider = AvalancheProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 - QGIS name
        self.initProcessing()
        self.action = QAction(QIcon(os.path.join(PLUGIN_DIR, "icon.png")), "Digitise avalanches by clicking",
                              self.iface.mainWindow())
        self.action.setObjectName(ACTION_OBJECT_NAME)
        self.action.setCheckable(True)
        self.action.setToolTip("Avalanche digitiser: click on an avalanche in the dock's raster "
                               "(left = avalanche, right = not avalanche, Space = finish); click again to "
                               "switch the tool off")
        self.action.triggered.connect(self._on_action)
        self.toolbar = self.iface.addToolBar(TOOLBAR_NAME)
        self.toolbar.setObjectName(TOOLBAR_OBJECT_NAME)
        self.toolbar.addAction(self.action)
        self.iface.addPluginToRasterMenu(MENU, self.action)
        self.webcam_action = QAction(QIcon(os.path.join(PLUGIN_DIR, "icon.png")), "Webcam camera…",
                                     self.iface.mainWindow())
        self.webcam_action.setObjectName(WEBCAM_ACTION_OBJECT_NAME)
        self.webcam_action.setToolTip("Webcam camera: fit a webcam photo's camera on a DEM from ground control "
                                      "points, then digitise on the photo and get the outlines on the map")
        self.webcam_action.triggered.connect(self.run_webcam)
        self.toolbar.addAction(self.webcam_action)
        self.iface.addPluginToRasterMenu(MENU, self.webcam_action)

    def unload(self):
        if self.photo_digitising is not None:
            self.photo_digitising.shutdown()
            self.photo_digitising = None
        if self.webcam is not None:
            self.webcam.shutdown()
            self.webcam = None
        if self.webcam_panel is not None:
            self.iface.removeDockWidget(self.webcam_panel)
            self.webcam_panel.setParent(None)
            self.webcam_panel.deleteLater()
            self.webcam_panel = None
        if self.webcam_action is not None:
            self.iface.removePluginRasterMenu(MENU, self.webcam_action)
            if self.toolbar is not None:
                self.toolbar.removeAction(self.webcam_action)
            self.webcam_action.deleteLater()
            self.webcam_action = None
        if self.dependency_dialog is not None:
            self.dependency_dialog.close()
            self.dependency_dialog.deleteLater()
            self.dependency_dialog = None
        if self.controller is not None:
            self.controller.shutdown()
            self.controller = None
        if self.map_tool is not None:
            canvas = self.iface.mapCanvas()
            if canvas.mapTool() is self.map_tool:
                canvas.unsetMapTool(self.map_tool)
            self.map_tool.deleteLater()
            self.map_tool = None
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            if self.toolbar is not None:
                self.toolbar.removeAction(self.action)
            self.action.deleteLater()
            self.action = None
        if self.toolbar is not None:
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.setParent(None)
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # ---------------------------------------------------------------- actions
    def _on_action(self, checked: bool = True) -> None:
        """The toolbar button / menu entry: on opens the dock with the tool, off switches the tool off."""
        if checked:
            self.run()
        else:
            self.stop()

    def stop(self) -> None:
        """The click tool off (the toolbar button clicked again, or the dock closed)."""
        if self.map_tool is not None and self.iface.mapCanvas().mapTool() is self.map_tool:
            self.iface.mapCanvas().unsetMapTool(self.map_tool)
        if self.action is not None:
            self.action.setChecked(False)

    def run(self):
        """Opens the dock and activates the click tool (the toolbar button and the menu entry). A click on the
        button while an earlier one is still being handled (a nested event loop) does nothing: one dock."""
        if getattr(self, "_running", False):
            return
        self._running = True
        try:
            self._run()
        finally:
            self._running = False

    def _run(self):
        self._ensure_ui()
        if self.photo_digitising is not None and self.photo_digitising.active:
            self.photo_digitising.set_active(False)
        self._offer_dependencies()
        self.dock.show()
        self.dock.raise_()
        fallback = self.dock.refresh_devices()
        if fallback:
            self.controller.message(fallback)
        self.iface.mapCanvas().setMapTool(self.map_tool)
        self.action.setChecked(True)
        self.controller.preload_soon()

    def show_dependencies(self):
        """The dependency dialog (install / repair / remove PyTorch and OpenCV)."""
        from .setup.dependency_dialog import DependencyDialog

        if self.dependency_dialog is None:
            self.dependency_dialog = DependencyDialog(self.iface.mainWindow())
        self.dependency_dialog.refresh()
        self.dependency_dialog.show()
        self.dependency_dialog.raise_()

    def _offer_dependencies(self):
        """On first use: when PyTorch or OpenCV is missing, the dialog offers to install them."""
        from ..dependencies.check import missing

        if not self._dependencies_offered:
            self._dependencies_offered = True
            if missing():
                self.show_dependencies()

    def _ensure_ui(self):
        if self.dock is not None:
            return
        from .controller import DigitisingController
        from .dock import AvalancheDock
        from .map_tool import AvalancheMapTool
        from ..layers.settings import load_settings

        self.dock = AvalancheDock(load_settings(), self.iface.mainWindow())
        self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        self.dock.dependenciesRequested.connect(self.show_dependencies)
        self.dock.closed.connect(self.stop)
        self.map_tool = AvalancheMapTool(self.iface.mapCanvas())
        self.map_tool.setAction(self.action)
        self.map_tool.key_scope = [self.dock]
        self.controller = DigitisingController(self.iface, self.dock, self.map_tool)

    def run_webcam(self):
        """Opens the webcam panel (the 'Webcam camera…' action); the digitiser's dock opens with it."""
        self._ensure_ui()
        if self.webcam_panel is None:
            from .webcam.photo_digitising import PhotoDigitising
            from .webcam.webcam_controller import WebcamController
            from .webcam.webcam_panel import WebcamPanel

            window = self.iface.mainWindow()
            self.webcam_panel = WebcamPanel(window)
            self.iface.addDockWidget(Qt.LeftDockWidgetArea, self.webcam_panel)
            if hasattr(window, "resizeDocks"):
                # the photo beside the map: a column of its own, full height, beside the Layers panel
                window.addDockWidget(Qt.LeftDockWidgetArea, self.webcam_panel, Qt.Horizontal)
                window.resizeDocks([self.webcam_panel], [max(520, int(window.width() * 0.36))], Qt.Horizontal)
            self.webcam = WebcamController(self.iface, self.webcam_panel)
            self.photo_digitising = PhotoDigitising(self.webcam, self.controller)
        self.dock.show()
        self.webcam_panel.show()
        self.webcam_panel.raise_()
