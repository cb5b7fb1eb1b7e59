"""Renders docs/screenshot.png: the map canvas with the digitiser's mask overlay and clicks on the synthetic
avalanche raster, beside the plugin's dock.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/make_screenshot.py [--checkpoint PATH] [--out PNG]
    xvfb-run -a .venv/bin/python scripts/make_screenshot.py            (the same under a virtual X server)

With --checkpoint the real model predicts (docs/screenshot.png was made with the shipped default model,
--checkpoint core_model/weights/avalanche_iseg_default.pth, after two positive clicks and one negative);
without it the deterministic stand-in predictor of the test suite (test/gis_fixtures.py) draws the mask.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "test")]

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,  # noqa: E402
                       QgsPointXY, QgsProject, QgsRasterLayer)
from qgis.gui import QgsMapCanvas, QgsMessageBar  # noqa: E402
from qgis.PyQt.QtCore import QEventLoop, Qt  # noqa: E402
from qgis.PyQt.QtWidgets import QMainWindow, QVBoxLayout, QWidget  # noqa: E402


class ScreenshotIface:
    """The few QgisInterface calls the digitiser makes, on a plain main window."""

    def __init__(self, window, canvas, bar):
        self.window, self.canvas, self.bar, self.layer = window, canvas, bar, None

    def mapCanvas(self):  # noqa: N802
        return self.canvas

    def mainWindow(self):  # noqa: N802
        return self.window

    def messageBar(self):  # noqa: N802
        return self.bar

    def activeLayer(self):  # noqa: N802
        return self.layer


def settle(app, seconds=0.3):
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QEventLoop.AllEvents, 20)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="RITM checkpoint; default: the stand-in predictor")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    args = parser.parse_args(argv)

    app = QgsApplication([], True)
    app.initQgis()
    from avalanche_iseg_plugin.gui.controller import DigitisingController
    from avalanche_iseg_plugin.gui.dock import AvalancheDock
    from avalanche_iseg_plugin.gui.map_tool import AvalancheMapTool
    from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
    from gis_fixtures import FakePredictor, make_lobe_geotiff

    tmp = Path(tempfile.mkdtemp(prefix="avalanche_screenshot_"))
    info = make_lobe_geotiff(tmp / "orthophoto_2026-02-14.tif", size=(600, 800))
    raster = QgsRasterLayer(info["path"], "orthophoto_2026-02-14")
    QgsProject.instance().addMapLayer(raster)

    window = QMainWindow()
    window.setWindowTitle("QGIS — Avalanche digitiser")
    central = QWidget(window)
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    bar = QgsMessageBar(central)
    canvas = QgsMapCanvas(central)
    canvas.setCanvasColor(Qt.white)
    layout.addWidget(bar)
    layout.addWidget(canvas)
    window.setCentralWidget(central)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:2056"))
    canvas.setLayers([raster])
    iface = ScreenshotIface(window, canvas, bar)
    iface.layer = raster

    settings = PluginSettings()
    settings.checkpoint = str(args.checkpoint) if args.checkpoint else "avalanche_iseg_default.pth"
    dock = AvalancheDock(settings, window)
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    tool = AvalancheMapTool(canvas)
    factory = None if args.checkpoint else (lambda c, d, t: FakePredictor(threshold=t))
    controller = DigitisingController(iface, dock, tool, predictor_factory=factory)
    canvas.setMapTool(tool)
    target = controller.target.create(str(tmp / "avalanches.gpkg"))
    target.renderer().symbol().setColor(Qt.transparent)
    canvas.setLayers([target, raster])
    bar.clearWidgets()
    window.resize(1280, 760)
    window.show()
    settle(app)

    x0, y0, x1, y1 = info["lobe_bounds"]
    pad = 0.35 * (x1 - x0)
    from qgis.core import QgsRectangle

    canvas.setExtent(QgsRectangle(x0 - 2.2 * pad, y0 - pad, x1 + 2.2 * pad, y1 + pad))
    canvas.refresh()
    canvas.waitWhileRendering()
    settle(app)

    gt = info["geotransform"]

    def xy(row, col):
        return QgsPointXY(gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5])

    to_canvas = QgsCoordinateTransform(raster.crs(), canvas.mapSettings().destinationCrs(), QgsProject.instance())
    for point, positive in ((xy(*info["lobe_pixel"]), True), (xy(200, 400), True), (xy(340, 560), False)):
        controller.on_click(to_canvas.transform(point), positive)
        controller.wait_idle(300)
    dock.opacity_slider.setValue(50)
    canvas.refresh()
    canvas.waitWhileRendering()
    settle(app, 0.5)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.out)):
        print(f"make_screenshot: could not write {args.out}", file=sys.stderr)
        return 1
    print(f"make_screenshot: {args.out} ({controller.state.n_pos} positive, {controller.state.n_neg} negative clicks)")
    controller.shutdown()
    canvas.unsetMapTool(tool)
    canvas.setLayers([])
    QgsProject.instance().removeAllMapLayers()
    window.close()
    window.deleteLater()
    settle(app, 0.1)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
