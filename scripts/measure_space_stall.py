"""How long QGIS's GUI thread stalls when a webcam photo's first avalanche is written (Space), in a real QGIS.

The Alplehner DEM (../shared/gis/avaframe_alr, Tirol, 5 m) and a synthetic photo of it with the 1999 release
area as snow (test/webcam_real_scene.py), its true camera saved beside it, so opening the photo loads it.
The script opens the photo, switches on 'Digitise on photo', clicks the snow (stand-in predictor) and presses
Space right away, with real Qt events; a 5 ms QTimer measures the event loop's longest gap from opening the
photo until the avalanche is in the GeoPackage.  Prints (and writes to $SPACE_STALL_OUT) one JSON line:
key_ms (time spent inside the Space key event), space_at_ms (after opening the photo), kept_unsaved (the
avalanche waited, unsaved), longest_gap_ms, gaps_over_40ms ([ms after opening, gap ms]), space_to_written_ms,
features, area_m2::

    Xvfb :97 -screen 0 1600x1000x24 &
    DISPLAY=:97 HOME=$(mktemp -d) AVALANCHE_REPO=$PWD SPACE_STALL_RESOLUTION=2 SPACE_STALL_OUT=/tmp/stall.json \\
        qgis --nologo --noversioncheck --code scripts/measure_space_stall.py

``SPACE_STALL_RESOLUTION``: the panel's ground resolution in m (unset: the DEM's cells).  AVALANCHE_REPO may
point at another checkout (e.g. the code before the background build) to compare.
"""
import glob
import json
import os
import site
import sys
import tempfile
import time

REPO = os.environ.get("AVALANCHE_REPO", os.getcwd())
for sp in glob.glob(REPO + "/.venv/lib/python3*/site-packages"):
    site.addsitedir(sp)
sys.path.insert(0, REPO)
sys.path.insert(0, REPO + "/test")
from pathlib import Path  # noqa: E402

from qgis.core import QgsApplication, QgsProject, QgsRasterLayer  # noqa: E402
from qgis.PyQt.QtCore import QPoint, Qt, QTimer  # noqa: E402
from qgis.PyQt.QtTest import QTest  # noqa: E402
from qgis.core import QgsPointXY  # noqa: E402
from qgis.utils import iface  # noqa: E402

import webcam_real_scene as rs  # noqa: E402
from gis_fixtures import FakePredictor  # noqa: E402

from avalanche_iseg_plugin.engine.webcam import camera_file  # noqa: E402
from avalanche_iseg_plugin.engine.webcam.dem import Dem  # noqa: E402
from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin  # noqa: E402
from avalanche_iseg_plugin.layers import avalanche_layer  # noqa: E402

SH = Path(REPO).resolve().parent / "shared" / "gis" / "avaframe_alr"
if not SH.exists():
    SH = Path("/work/shared/gis/avaframe_alr")
OUT = os.environ.get("SPACE_STALL_OUT", "")
RESOLUTION = float(os.environ.get("SPACE_STALL_RESOLUTION", "0") or 0)
D = tempfile.mkdtemp(prefix="space_stall_")
os.makedirs(D + "/cam")
engine_dem = Dem.open(SH / "avaAlr.tif")
photo = rs.write_photo(D + "/cam/alplehner.png", engine_dem, rs.release_polygon(SH))
camera_file.save_camera_file(D + "/cam/alplehner.camera.json",
                             camera_file.CameraRecord(photo["camera"], engine_dem.crs_wkt))
dem = QgsRasterLayer(str(SH / "avaAlr.tif"), "avaAlr")
QgsProject.instance().addMapLayer(dem)
target = avalanche_layer.create_avalanche_layer(D + "/avalanches.gpkg", dem.crs())
QgsProject.instance().addMapLayer(target)
iface.mainWindow().setGeometry(0, 0, 1600, 1000)
plugin = AvalancheIsegPlugin(iface)
plugin.initGui()
plugin.run_webcam()
plugin.controller.predictor_factory = lambda c, d, t: FakePredictor(threshold=t)
plugin.controller.target.choose(target)
panel = plugin.webcam_panel
panel.dem_combo.setLayer(dem)
panel.resolution_spin.setValue(RESOLUTION)


class Beat:
    def __init__(self):
        self.longest, self.last, self.on = 0.0, time.perf_counter(), False
        self.gaps = []               # (ms since the photo was opened, gap ms) of gaps over 40 ms
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(5)

    def tick(self):
        now = time.perf_counter()
        if self.on:
            self.longest = max(self.longest, now - self.last)
            if now - self.last > 0.04:
                self.gaps.append((round((self.last - result["t_open"]) * 1000), round((now - self.last) * 1000)))
        self.last = now


beat = Beat()
result = {"code": REPO, "resolution": RESOLUTION or "DEM cells"}


def open_and_digitise():
    beat.on, beat.last = True, time.perf_counter()
    result["t_open"] = beat.last
    panel.photo_widget.setFilePath(photo["path"])
    panel.photo_canvas.setExtent(plugin.webcam.photo_layer().extent())
    panel.photo_canvas.refresh()
    panel.digitise_button.click()
    QTimer.singleShot(50, click)


def click():
    canvas = panel.photo_canvas
    col, row = photo["snow_pixel"]
    p = canvas.getCoordinateTransform().transform(QgsPointXY(col, -row))
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    QTimer.singleShot(5, wait_for_mask)


def wait_for_mask():
    if plugin.controller.state.mask is None or not plugin.controller.worker.is_idle():
        QTimer.singleShot(5, wait_for_mask)
        return
    canvas = panel.photo_canvas
    canvas.setFocus()
    result["t_space"] = time.perf_counter()
    QTest.keyClick(canvas, Qt.Key_Space)
    result["key_ms"] = round((time.perf_counter() - result["t_space"]) * 1000, 1)
    result["space_at_ms"] = round((result["t_space"] - result["t_open"]) * 1000)
    result["kept_unsaved"] = 0
    QTimer.singleShot(5, wait_for_written)


def wait_for_written():
    result["kept_unsaved"] = max(result["kept_unsaved"], len(plugin.controller.rules.unsaved))
    if target.featureCount() < 1 and time.perf_counter() - result["t_space"] < 120:
        QTimer.singleShot(5, wait_for_written)
        return
    result["space_to_written_ms"] = round((time.perf_counter() - result.pop("t_space")) * 1000, 1)
    result["longest_gap_ms"] = round(beat.longest * 1000, 1)
    result["gaps_over_40ms"] = beat.gaps
    result.pop("t_open")
    result["features"] = target.featureCount()
    result["area_m2"] = round(sum(f.geometry().area() for f in target.getFeatures()), 1)
    line = json.dumps(result)
    print(line, flush=True)
    if OUT:
        with open(OUT, "w") as f:
            f.write(line + "\n")
    plugin.unload()
    QgsApplication.exit(0)


QTimer.singleShot(1500, open_and_digitise)
