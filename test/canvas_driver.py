"""Drives the plugin like a user: a started plugin on a real canvas, with a synthetic raster, clicked with
real mouse and key events (QTest). Shared by the plugin's canvas tests."""
from __future__ import annotations

from osgeo import ogr
from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProject,
                       QgsRasterLayer)
from qgis.PyQt.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from qgis.PyQt.QtGui import QMouseEvent
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin
from gis_fixtures import FakePredictor, make_lobe_geotiff

CANVAS_CRS = "EPSG:3857"


class Digitiser:
    """A started plugin with a raster, a target GeoPackage and helpers that click like a user."""

    def __init__(self, iface, tmp_path, fake=True):
        self.iface = iface
        self.tmp_path = tmp_path
        self.info = make_lobe_geotiff(tmp_path / "ortho.tif")
        self.raster = QgsRasterLayer(self.info["path"], "ortho")
        assert self.raster.isValid()
        QgsProject.instance().addMapLayer(self.raster)
        iface.setActiveLayer(self.raster)
        self.canvas = iface.mapCanvas()
        self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem(CANVAS_CRS))
        iface.mainWindow().resize(1000, 800)
        iface.mainWindow().show()
        self.canvas.resize(900, 700)
        self.canvas.show()
        QTest.qWait(20)
        assert self.canvas.mapSettings().outputSize().width() == self.canvas.viewport().width() > 800
        self.to_canvas = QgsCoordinateTransform(self.raster.crs(), QgsCoordinateReferenceSystem(CANVAS_CRS),
                                                QgsProject.instance())
        extent = self.to_canvas.transformBoundingBox(self.raster.extent())
        self.canvas.setExtent(extent)
        self.canvas.refresh()
        QTest.qWait(10)
        self.predictors = []
        self.plugin = AvalancheIsegPlugin(iface)
        self.plugin.initGui()
        self.plugin.run()
        self.controller = self.plugin.controller
        if fake:
            self.controller.predictor_factory = self._fake_predictor
        self.messages = iface.messageBar()
        self.messages.clear_messages()

    def _fake_predictor(self, checkpoint, device, threshold):
        predictor = FakePredictor(threshold=threshold)
        self.predictors.append(predictor)
        return predictor

    # -- coordinates --------------------------------------------------------------------------
    def pixel_xy(self, row, col):
        gt = self.info["geotransform"]
        return gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]

    def screen(self, x, y) -> QPoint:
        """Raster-CRS point -> canvas widget pixel."""
        p = self.to_canvas.transform(QgsPointXY(x, y))
        s = self.canvas.getCoordinateTransform().transform(p)
        return QPoint(round(s.x()), round(s.y()))

    # -- user input ---------------------------------------------------------------------------
    def click(self, x, y, button=Qt.LeftButton, wait=True):
        QTest.mouseClick(self.canvas.viewport(), button, Qt.NoModifier, self.screen(x, y))
        if wait:
            self.controller.wait_idle(30)

    def drag(self, a, b):
        viewport = self.canvas.viewport()
        pa, pb = self.screen(*a), self.screen(*b)
        QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, pa)
        mid = QPoint((pa.x() + pb.x()) // 2, (pa.y() + pb.y()) // 2)
        for p in (mid, pb):
            QTest.mouseMove(viewport, p)
            # QTest.mouseMove does not carry the pressed button on all Qt versions: send one that does
            ev = QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
            QApplication.sendEvent(viewport, ev)
        QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, pb)
        self.controller.wait_idle(30)

    def key(self, key, modifier=Qt.NoModifier):
        self.canvas.setFocus()
        QTest.keyClick(self.canvas, key, modifier)
        self.controller.wait_idle(30)

    # -- reading back -------------------------------------------------------------------------
    def warnings(self):
        return list(self.messages.get_messages(Qgis.Warning)) + list(self.messages.get_messages(Qgis.Critical))

    def close(self):
        self.controller.wait_idle(30)
        self.plugin.unload()
        self.canvas.setDestinationCrs(QgsCoordinateReferenceSystem())


def read_gpkg(path):
    """Features of the GeoPackage on disk: list of (fid, attributes dict, ogr geometry)."""
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    out = []
    for feature in layer:
        out.append((feature.GetFID(), feature.items(), feature.GetGeometryRef().Clone()))
    srs = layer.GetSpatialRef()
    ds = None
    return out, srs


def assert_matches_lobe(geometry, info, tolerance=0.5):
    truth = ogr.CreateGeometryFromWkt(info["outline_wkt"])
    # every vertex within one pixel of the truth outline and vice versa (Hausdorff <= 1 pixel)
    assert geometry.Difference(truth.Buffer(tolerance)).IsEmpty()
    assert truth.Difference(geometry.Buffer(tolerance)).IsEmpty()
    assert abs(geometry.GetArea() - info["area"]) <= 0.01 * info["area"]


def answer_modal_dialog(action, replies: list):
    """Answer the next modal dialog (the field mapping confirmation) with ``action(dialog)``; its text goes
    to ``replies``."""
    def answer():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            return QTimer.singleShot(20, answer)
        replies.append(dialog.text.text())
        action(dialog)
    QTimer.singleShot(20, answer)
