"""Raster layers read through QGIS itself: which ones, on what grid, and drawing them into pixels.

File rasters (the 'gdal' provider) are read by the engine with GDAL at native resolution — unless the user
chose to read them "as displayed" (the layer's renderer and contrast stretch). Every other provider (WMS,
WMTS, XYZ, WCS, virtual rasters ...) is drawn by QGIS: ``plan_for_canvas`` / ``plan_around`` choose the
north-up grid (``engine.raster_snapshot.grid_covering``) in the CRS the outline gets — the canvas's for a
service, the layer's own for a file read as displayed (on its native pixel grid) — and ``map_settings``
describes the drawing for a QgsMapRenderer job. ``render_now`` draws synchronously (Processing's thread);
the GUI runs the same map settings in a QgsMapRendererParallelJob (gui/raster_snapshots.py).
``save_snapshot`` writes the drawn pixels for the engine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsCsException, QgsMapRendererCustomPainterJob,
                       QgsMapSettings, QgsProject, QgsRasterDataProvider, QgsRasterLayer, QgsRectangle, QgsUnitTypes)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from ..engine.errors import RasterError
from ..engine.grid import Grid
from ..engine.raster_snapshot import grid_covering, snapshot_name, write_snapshot

LOOK_RAW, LOOK_DISPLAYED = "raw", "displayed"
#: a drawn snapshot is at most this many times "Window max side" pixels along a side
SNAPSHOT_SIDE_FACTOR = 2


def reads_through_qgis(layer, look: str = LOOK_RAW) -> bool:
    """True for a raster layer the engine cannot read by path with GDAL (any provider but 'gdal'), or a
    file raster the user wants "as displayed"."""
    return isinstance(layer, QgsRasterLayer) and (layer.providerType() != "gdal" or look == LOOK_DISPLAYED)


@dataclass(frozen=True)
class RenderPlan:
    """What to draw: the layer, the grid, the grid's CRS and the name the snapshot gets."""
    layer_id: str
    grid: Grid
    crs: QgsCoordinateReferenceSystem
    name: str
    layer_name: str = ""

    def map_settings(self, layer) -> QgsMapSettings:
        g = self.grid
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(self.crs)
        settings.setTransformContext(QgsProject.instance().transformContext())
        settings.setOutputSize(QSize(g.width, g.height))
        settings.setOutputDpi(96)
        xmin, ymin, xmax, ymax = g.extent
        settings.setExtent(QgsRectangle(xmin, ymin, xmax, ymax))
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        settings.setOutputImageFormat(QImage.Format_ARGB32)
        settings.setFlag(QgsMapSettings.Antialiasing, False)
        settings.setFlag(QgsMapSettings.DrawLabeling, False)
        return settings


def _unit(crs) -> str:
    return QgsUnitTypes.toAbbreviatedString(crs.mapUnits()) if crs.isValid() else "px"


def _layer_box(layer, crs):
    """The layer's extent in ``crs`` (xmin, ymin, xmax, ymax), or None when it cannot be transformed."""
    extent = layer.extent()
    if layer.crs() != crs and layer.crs().isValid() and crs.isValid():
        try:
            extent = QgsCoordinateTransform(layer.crs(), crs, QgsProject.instance()).transformBoundingBox(extent)
        except QgsCsException:
            return None
    if extent.isEmpty() or not all(np.isfinite([extent.xMinimum(), extent.yMaximum(), extent.xMaximum(),
                                                extent.yMinimum()])):
        return None
    return extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()


def _plan(layer, crs, box, resolution, max_side, origin=None) -> RenderPlan:
    bounds = _layer_box(layer, crs)
    xmin, ymin, xmax, ymax = box
    if bounds is not None:
        xmin, ymin = max(xmin, bounds[0]), max(ymin, bounds[1])
        xmax, ymax = min(xmax, bounds[2]), min(ymax, bounds[3])
    if not (xmax > xmin and ymax > ymin):
        raise RasterError(f"The click is outside the layer '{layer.name()}': click where it shows the image.")
    grid = grid_covering(xmin, ymin, xmax, ymax, resolution, SNAPSHOT_SIDE_FACTOR * int(max_side), origin)
    return RenderPlan(layer.id(), grid, crs, snapshot_name(layer.name(), grid.pixel_size[0], _unit(crs)), layer.name())


def native_resolution(layer) -> float | None:
    """The layer's own pixel size (layer CRS units), or None when its provider has none (a tile service)."""
    provider = layer.dataProvider()
    if provider is None or not (provider.capabilities() & QgsRasterDataProvider.Size) or layer.width() <= 0:
        return None
    return float(layer.rasterUnitsPerPixelX())


def plan_for_canvas(layer, points, canvas_settings: QgsMapSettings, margin_px: int, max_side: int,
                    look: str = LOOK_RAW) -> RenderPlan:
    """The grid for digitising on ``layer`` from the canvas: what the canvas shows plus ``margin_px``
    around the canvas ``points`` [(x, y)], at the canvas's ground resolution in the canvas's CRS — or,
    for a file raster read as displayed, on its own pixel grid in its own CRS."""
    crs = canvas_settings.destinationCrs()
    visible = canvas_settings.visibleExtent()
    resolution = canvas_settings.mapUnitsPerPixel()
    origin = None
    if layer.providerType() == "gdal" and look == LOOK_DISPLAYED and native_resolution(layer):
        to_layer = QgsCoordinateTransform(crs, layer.crs(), QgsProject.instance())
        try:
            visible = to_layer.transformBoundingBox(visible)
            points = [(p.x(), p.y()) for p in (to_layer.transform(x, y) for x, y in points)]
        except QgsCsException as exc:
            raise RasterError(f"The canvas cannot be transformed to the CRS of '{layer.name()}'.") from exc
        crs, resolution = layer.crs(), native_resolution(layer)
        origin = (layer.extent().xMinimum(), layer.extent().yMaximum())
    pad = margin_px * resolution
    xs = [x for x, _ in points] + [visible.xMinimum(), visible.xMaximum()]
    ys = [y for _, y in points] + [visible.yMinimum(), visible.yMaximum()]
    box = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
    return _plan(layer, crs, box, resolution, max_side, origin)


def plan_around(layer, points, resolution: float, margin_px: int, max_side: int) -> RenderPlan:
    """The grid around ``points`` [(x, y), layer CRS] plus ``margin_px`` pixels of ``resolution`` (layer CRS
    units; aligned to the layer's own grid when it is its native resolution): for batch work (Processing)."""
    pad = margin_px * resolution
    xs, ys = [x for x, _ in points], [y for _, y in points]
    box = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
    native = native_resolution(layer)
    origin = ((layer.extent().xMinimum(), layer.extent().yMaximum())
              if native and abs(native - resolution) <= 1e-9 * native else None)
    return _plan(layer, layer.crs(), box, resolution, max_side, origin)


def rgba_of(image: QImage) -> np.ndarray:
    """H×W×4 uint8 RGBA (not premultiplied) copy of a QImage."""
    image = image.convertToFormat(QImage.Format_RGBA8888)
    height, width = image.height(), image.width()
    buffer = image.constBits()
    buffer.setsize(image.sizeInBytes() if hasattr(image, "sizeInBytes") else image.byteCount())
    rows = np.frombuffer(buffer, np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, :width * 4].reshape(height, width, 4).copy()


def render_errors(job, layer) -> str:
    """The job's error messages for the layer, joined ('' when none)."""
    return "; ".join(e.message for e in job.errors() if e.layerID == layer.id())


def _block_rgba(layer, plan: RenderPlan) -> np.ndarray | None:
    """The provider's own colour block on the plan's grid (tile services give ARGB32 pixels: exact tile
    pixels, no map-render resampling), or None when the provider has no colour block or another CRS."""
    provider = layer.dataProvider()
    if provider is None or provider.dataType(1) != Qgis.ARGB32 or layer.crs() != plan.crs:
        return None
    g = plan.grid
    xmin, ymin, xmax, ymax = g.extent
    block = provider.block(1, QgsRectangle(xmin, ymin, xmax, ymax), g.width, g.height)
    if block is None or not block.isValid() or block.width() != g.width or block.height() != g.height:
        return None
    argb = np.frombuffer(bytes(block.data()), np.uint32).reshape(g.height, g.width)
    return np.dstack([(argb >> shift & 255).astype(np.uint8) for shift in (16, 8, 0, 24)])


def render_now(layer, plan: RenderPlan) -> np.ndarray:
    """Draw ``plan`` in this thread (Processing's): the provider's colour block when it has one in the plan's
    CRS, else a map render; RGBA pixels, or RasterError with the layer's errors."""
    rgba = _block_rgba(layer, plan)
    if rgba is not None:
        return rgba
    settings = plan.map_settings(layer)
    image = QImage(settings.outputSize(), QImage.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.renderSynchronously()
    painter.end()
    errors = render_errors(job, layer)
    rgba = rgba_of(image)
    if errors and not rgba[..., 3].any():
        raise RasterError(f"QGIS could not draw the layer '{layer.name()}' ({errors}).")
    return rgba


def save_snapshot(plan: RenderPlan, rgba: np.ndarray, folder: str, index: int) -> str:
    """Write the drawn pixels for the engine (engine.raster_snapshot); the file's path."""
    path = os.path.join(folder, f"snapshot_{index}.tif")
    write_snapshot(path, rgba, plan.grid, plan.crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL)
                   if plan.crs.isValid() else "", plan.name, plan.layer_name)
    return path
