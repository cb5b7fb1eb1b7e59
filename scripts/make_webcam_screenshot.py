"""The webcam panel's screenshot (docs/webcam_panel.png), in a real QGIS window.

A synthetic photo of the Alplehner DEM (../shared/gis/avaframe_alr) with the 1999 release area as snow
(test/webcam_real_scene.py); 10 GCPs with hand-click-sized noise; fit, save, digitise on the photo with
the stand-in predictor, Space; then a second click so an avalanche in progress is drawn.  Writes
``<WEBCAM_DEMO_DIR>/ready`` when the window is ready for the screenshot::

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 HOME=$(mktemp -d) qgis --nologo --code scripts/make_webcam_screenshot.py &
    # once /tmp/webcam_demo/ready exists:
    DISPLAY=:99 import -window root /tmp/panel.png
    convert /tmp/panel.png -crop 1600x990+0+0 +repage -resize 1200x -colors 128 -strip PNG8:docs/webcam_panel.png
"""
import os
import sys
REPO = os.environ.get("AVALANCHE_REPO", os.getcwd())   # run from the repository root
import site  # noqa: E402
site.addsitedir(REPO + "/.venv/lib/python3.11/site-packages")   # torch, OpenCV of the venv
sys.path.insert(0, REPO); sys.path.insert(0, REPO + "/test")
from pathlib import Path
from qgis.core import (QgsProject, QgsRasterLayer, QgsVectorLayer, QgsCoordinateReferenceSystem, QgsHillshadeRenderer,
                       QgsPointXY, QgsFillSymbol, QgsRectangle)
from qgis.PyQt.QtCore import QTimer, Qt
from qgis.utils import iface
import webcam_real_scene as rs
from gis_fixtures import FakePredictor
from avalanche_iseg_plugin.engine.webcam.dem import Dem
from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin
from avalanche_iseg_plugin.gui.webcam.gcp_picker import PickedGcp
from avalanche_iseg_plugin.layers import avalanche_layer

SH = Path(REPO).parent / "shared" / "gis" / "avaframe_alr"
D = os.environ.get("WEBCAM_DEMO_DIR", "/tmp/webcam_demo")
os.makedirs(D + "/cam", exist_ok=True)
for f in os.listdir(D + "/cam"):
    os.remove(os.path.join(D, "cam", f))
if os.path.exists(D + "/avalanches.gpkg"):
    os.remove(D + "/avalanches.gpkg")
edem = Dem.open(SH / "avaAlr.tif")
photo = rs.write_photo(D + "/cam/alplehner_2024-03-02_0800.png", edem, rs.release_polygon(SH))
QgsProject.instance().setCrs(QgsCoordinateReferenceSystem("EPSG:31287"))
dem = QgsRasterLayer(str(SH / "avaAlr.tif"), "avaAlr DEM 5 m")
dem.setRenderer(QgsHillshadeRenderer(dem.dataProvider(), 1, 315, 45))
QgsProject.instance().addMapLayer(dem)
rel = QgsVectorLayer(str(SH / "relAlr.shp"), "release area 1999 (truth)", "ogr")
rel.renderer().setSymbol(QgsFillSymbol.createSimple({"color": "0,0,0,0", "outline_color": "220,30,30", "outline_width": "0.8"}))
QgsProject.instance().addMapLayer(rel)
iface.mainWindow().setGeometry(0, 0, 1600, 1000)
plugin = AvalancheIsegPlugin(iface)
plugin.initGui()
plugin.run_webcam()
plugin.controller.predictor_factory = lambda c, d, t: FakePredictor(threshold=t)
w = plugin.webcam
panel = plugin.webcam_panel

def step1():
    panel.photo_widget.setFilePath(photo["path"])
    panel.dem_combo.setLayer(dem)
    iface.mapCanvas().setExtent(QgsRectangle(255000, 379900, 256400, 381900))
    import numpy as np
    rng = np.random.default_rng(1)
    for col, row, x, y, z in rs.gcps(photo):      # clicked by hand: about a pixel / a few metres off
        dc, dr, dx, dy = rng.normal(0, [0.7, 0.7, 2.0, 2.0])
        zz = float(edem.sample(x + dx, y + dy))
        w.add_gcp(PickedGcp(col + dc, row + dr, x + dx, y + dy, zz))
    w.fit_camera()
    w.save_camera(D + "/cam/alplehner_2024-03-02_0800.camera.json")
    layer = avalanche_layer.create_avalanche_layer(D + "/avalanches.gpkg", QgsCoordinateReferenceSystem("EPSG:31287"))
    layer.renderer().setSymbol(QgsFillSymbol.createSimple({"color": "0,190,255,140", "outline_color": "0,90,160", "outline_width": "0.4"}))
    QgsProject.instance().addMapLayer(layer)
    plugin.controller.target.choose(layer)
    panel.digitise_button.click()
    col, row = photo["snow_pixel"]
    plugin.controller.on_click(QgsPointXY(col, -row), True)
    QTimer.singleShot(3000, step2)

def step2():
    plugin.controller.finish()
    QTimer.singleShot(3000, step3)

def step3():
    col, row = photo["snow_pixel"]
    plugin.controller.on_click(QgsPointXY(col, -row), True)   # the next avalanche in progress, drawn on the photo
    panel.gcp_table.selectRow(4)
    open(os.path.join(D, "ready"), "w").write("ok")

QTimer.singleShot(4000, step1)
