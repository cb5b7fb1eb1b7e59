"""Sets up docs/attribute_form.png in a real QGIS window: the Tirol release area of the 1999 Alplehner
avalanche (../shared/gis/avaframe_alr) written through the digitiser with "Attributes of the next
avalanche" filled in and the DEM chosen, and its attribute form opened on Finish.

Run inside QGIS (under Xvfb), then take the screenshot when OUT/ready appears:

    Xvfb :93 -screen 0 1600x1000x24 &
    DISPLAY=:93 HOME=$(mktemp -d) qgis --nologo --noversioncheck --code scripts/make_attribute_form_screenshot.py
    DISPLAY=:93 import -window root docs/attribute_form.png

The polygon is the documented release area, handed to the digitiser's writer as a finished avalanche
(the model is not run): what the screenshot shows is the record, the form and the terrain computed from
the real DEM. Working files go to $AVALANCHE_SCREENSHOT_DIR (default /tmp/attribute_form_screenshot).
"""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(os.environ.get("AVALANCHE_REPO", "/work/wt_inventory"))
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "gis" / "avaframe_alr"
OUT = Path(os.environ.get("AVALANCHE_SCREENSHOT_DIR", "/tmp/attribute_form_screenshot"))
OUT.mkdir(parents=True, exist_ok=True)

from osgeo import ogr  # noqa: E402
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer  # noqa: E402
from qgis.PyQt.QtCore import QDate, QTimer  # noqa: E402
from qgis.utils import iface  # noqa: E402

from avalanche_iseg_plugin.engine.digitising_rules import UnsavedObject  # noqa: E402
from avalanche_iseg_plugin.engine.protocol import FinishedResult  # noqa: E402
from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin  # noqa: E402

for name in ("avalanches.gpkg", "ready"):
    if (OUT / name).exists():
        (OUT / name).unlink()
hillshade = OUT / "hillshade.tif"
subprocess.run(["gdaldem", "hillshade", "-q", str(SHARED / "avaAlr.tif"), str(hillshade)], check=True)
shade = QgsRasterLayer(str(hillshade), "hillshade (stand-in orthoimage)")
dem = QgsRasterLayer(str(SHARED / "avaAlr.tif"), "avaAlr DEM")
path_line = QgsVectorLayer(str(SHARED / "pathAB.shp"), "avalanche path", "ogr")
project = QgsProject.instance()
project.addMapLayer(dem)
dem.renderer().setOpacity(0.0)
project.addMapLayer(shade)
project.addMapLayer(path_line)
plugin = AvalancheIsegPlugin(iface)
plugin.initGui()
plugin.run()
controller = plugin.controller
box = controller.next_attributes.box
box.set_values({"aval_type": "slab", "size": 3, "moisture": "dry", "trigger": "natural",
                "release_date": QDate(1999, 2, 23), "date_uncert_d": 1, "outline_certainty": "partly visible",
                "observer": "A. Analyst", "comment": "release area, 'Fotos Ereignis 1999'",
                "source_type": "orthoimage"})
box.dem_combo.setLayer(dem)
box.open_form_check.setChecked(True)
controller.target.create(str(OUT / "avalanches.gpkg"))
iface.setActiveLayer(shade)


def finish():
    ds = ogr.Open(str(SHARED / "relAlr.shp"))
    layer = ds.GetLayer()
    feature = layer.GetNextFeature()
    wkt = feature.GetGeometryRef().ExportToWkt()
    result = FinishedResult([wkt], {"source": "hillshade", "n_pos": 3, "n_neg": 1, "model": "avalanche_iseg_default",
                                    "threshold": 0.49}, layer.GetSpatialRef().ExportToWkt(), False)
    controller.rules.unsaved.append(UnsavedObject(result, None))
    controller._save_unsaved()
    target = controller.target.layer()
    extent = target.extent()
    extent.scale(2.2)
    iface.mapCanvas().setExtent(extent)
    iface.mapCanvas().refresh()
    form = controller.next_attributes.form
    if form is not None:   # beside the map, scrolled to the avalanche record and its terrain
        from qgis.PyQt.QtWidgets import QScrollArea

        form.setGeometry(10, 60, 600, 900)
        for area in form.findChildren(QScrollArea):
            area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    QTimer.singleShot(3000, lambda: (OUT / "ready").write_text("ready"))


iface.mainWindow().setGeometry(0, 0, 1600, 1000)
iface.mainWindow().show()
QTimer.singleShot(4000, finish)
