"""A layer only QGIS can read (WMS/WMTS/XYZ, WCS, virtual rasters) as the Processing algorithm sees it: its
extent on a grid of the chosen ground resolution (for the points: which lie on it, which are near each
other), and for each avalanche a snapshot drawn around its clicks (layers/rendered_raster.py) that the
engine reads like a file raster, in the layer's CRS."""
from __future__ import annotations

import math
import tempfile

from ..engine.errors import RasterError
from ..engine.grid import Grid
from ..engine.raster_window import RasterSource
from ..engine.session import DEFAULT_MARGIN_PX
from ..layers.rendered_raster import native_resolution, plan_around, render_now, save_snapshot


class DrawnRaster:
    def __init__(self, layer, resolution: float, max_side: int):
        """``resolution``: layer-CRS units per pixel; 0 takes the layer's own pixel size (RasterError when
        it has none, as a tile service)."""
        self.layer = layer.clone()          # drawn in Processing's thread: a copy of its own
        self.name = layer.name()
        if not resolution:
            resolution = native_resolution(layer)
        if not resolution:
            raise RasterError(f"The layer '{self.name}' has no pixel size of its own (it is a web service): "
                              "give the ground resolution to read it at.")
        self.resolution, self.max_side = float(resolution), int(max_side)
        extent = layer.extent()
        rows = math.ceil(extent.height() / self.resolution)
        cols = math.ceil(extent.width() / self.resolution)
        self.grid = Grid((extent.xMinimum(), self.resolution, 0.0, extent.yMaximum(), 0.0, -self.resolution),
                         rows, cols)
        self.is_georeferenced = True
        self._folder = tempfile.TemporaryDirectory(prefix="avalanche_iseg_drawn_")
        self._count = 0

    def source_around(self, clicks) -> RasterSource:
        """A snapshot around the clicks [(x, y, positive)] with the session's margin, opened for the engine."""
        plan = plan_around(self.layer, [(c[0], c[1]) for c in clicks], self.resolution, DEFAULT_MARGIN_PX + 2,
                           self.max_side)
        self._count += 1
        return RasterSource.open(save_snapshot(plan, render_now(self.layer, plan), self._folder.name, self._count))

    def close(self) -> None:
        self._folder.cleanup()
