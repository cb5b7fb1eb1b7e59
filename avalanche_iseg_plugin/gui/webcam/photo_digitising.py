"""Digitising avalanches on the webcam panel's photo with the plugin's own click tool.

'Digitise on photo' puts an ``AvalancheMapTool`` on the photo canvas and points the digitising
controller at that canvas and at the photo (``DigitisingController.use_canvas``): clicks, the mask
overlay, Space / Esc / Ctrl+Z work as on the map.  The photo's camera, once saved (or loaded), is
registered with the controller's result hook (photo_projection.py), so Space writes the avalanche's
outline on the terrain into the avalanche layer; a photo without a camera keeps its pixel outline.
The terrain under the camera is prepared in the background as soon as the camera, the DEM and the ground
resolution are known (terrain_preparation.py), so that Space does not wait for it.
"""
from __future__ import annotations

from qgis.core import Qgis
from qgis.PyQt.QtCore import QTimer

from ...layers.crs import crs_from
from ..map_tool import AvalancheMapTool
from .photo_projection import PhotoCamera, PhotoProjection


class PhotoDigitising:
    def __init__(self, webcam, digitiser):
        """``webcam``: the WebcamController; ``digitiser``: the plugin's DigitisingController."""
        self.webcam = webcam
        self.panel = webcam.panel
        self.digitiser = digitiser
        self.map_tool = AvalancheMapTool(self.panel.photo_canvas)
        digitiser.connect_map_tool(self.map_tool)
        hooks = digitiser.result_hooks
        self.projection = hooks.hook if isinstance(hooks.hook, PhotoProjection) \
            else PhotoProjection()
        hooks.attach(self.projection, self.new_layer_crs)
        self.projection.terrain.attach(digitiser, webcam.message)
        self._resolution_timer = QTimer(self.panel)      # the ground resolution settles before a build starts
        self._resolution_timer.setSingleShot(True)
        self._resolution_timer.timeout.connect(self._prepare_terrain)
        self.projection.keep_pixel_outline = self.panel.pixel_check.isChecked()
        self.panel.digitiseToggled.connect(self.set_active)
        self.panel.pixelPolygonToggled.connect(self._on_pixel_outline)
        self.panel.groundResolutionChanged.connect(self._on_resolution)
        self.panel.pickToggled.connect(self._on_picking)
        webcam.cameraChanged.connect(self.register_camera)
        self.active = False
        self._main_tool = None          # the map's click tool, given back when digitising on the photo ends

    # ---------------------------------------------------------------- camera -> result hook
    def register_camera(self) -> None:
        w = self.webcam
        layer = w.photo_layer()
        if layer is None:
            return
        dem = self.panel.dem_layer()
        if w.camera is None or not w.camera_path or dem is None or not w.dem_path():
            self.projection.register(layer.name(), None)
            return
        crs = crs_from(dem.crs())
        crs_wkt = crs.toWkt() if crs.isValid() else w.camera_crs_wkt
        self.projection.register(layer.name(), PhotoCamera(w.camera, w.camera_path, w.dem_path(), crs_wkt,
                                                           w.photo_path.replace("\\", "/").split("/")[-1]))
        self.projection.prepare(layer.name())

    def _prepare_terrain(self) -> None:
        layer = self.webcam.photo_layer()
        if layer is not None:
            self.projection.prepare(layer.name())

    def new_layer_crs(self):
        """'New…' while digitising on a photo that has a camera: the DEM's CRS (the outlines' CRS); None
        otherwise (the digitiser's own rule)."""
        if self.active and self.has_camera():
            return crs_from(self.projection.photos[self.webcam.photo_layer().name()].crs_wkt)
        return None

    def has_camera(self) -> bool:
        layer = self.webcam.photo_layer()
        return layer is not None and layer.name() in self.projection.photos

    # ---------------------------------------------------------------- mode
    def set_active(self, on: bool) -> bool:
        canvas = self.panel.photo_canvas
        if not on:
            if self.active and self.digitiser.use_canvas(self.digitiser.iface.mapCanvas(), None):
                self.active = False
                if canvas.mapTool() is self.map_tool:
                    canvas.unsetMapTool(self.map_tool)
                if self._main_tool is not None:
                    self.digitiser.iface.mapCanvas().setMapTool(self._main_tool)
                    self._main_tool = None
            self.panel.set_digitising(self.active)
            return not self.active
        layer = self.webcam.photo_layer()
        if layer is None:
            self.webcam.message("Open a photo first.")
            self.panel.set_digitising(False)
            return False
        self.webcam.picker.stop()
        if not self.digitiser.use_canvas(canvas, layer):
            self.panel.set_digitising(False)
            return False
        main = self.digitiser.iface.mapCanvas()
        if isinstance(main.mapTool(), AvalancheMapTool):   # its clicks would go to the photo now
            self._main_tool = main.mapTool()
            main.unsetMapTool(self._main_tool)
        canvas.setMapTool(self.map_tool)
        canvas.setFocus()
        self.active = True
        self.panel.set_digitising(True)
        self.register_camera()
        if self.has_camera():
            self.panel.set_hint("Click the avalanche in the photo (right click = not avalanche); Space writes its "
                                "outline on the terrain into the avalanche layer.")
        elif self.webcam.camera is not None:
            self.webcam.message("Save the camera (or choose the DEM) first, so that Space puts the outline on the "
                                "map; until then outlines stay in photo pixels.", level=Qgis.Info)
        else:
            self.panel.set_hint("This photo has no camera: outlines stay in photo pixels (use an avalanche layer "
                                "without CRS), or fit or load a camera to put them on the map.")
        return True

    def _on_picking(self, on: bool) -> None:
        if on and self.active:
            self.set_active(False)

    def _on_resolution(self, value: float) -> None:
        self.projection.resolution = float(value) if value > 0 else None
        self._resolution_timer.start(600)

    def _on_pixel_outline(self, on: bool) -> None:
        self.projection.keep_pixel_outline = bool(on)

    def shutdown(self) -> None:
        self._resolution_timer.stop()
        self.projection.terrain.shutdown()
        if self.active:
            self.set_active(False)
        canvas = self.panel.photo_canvas
        if canvas.mapTool() is self.map_tool:
            canvas.unsetMapTool(self.map_tool)
        self.digitiser.result_hooks.detach(self.projection)
