"""The refinement mode in the plugin: part of the predictor key (a change applies from the next avalanche),
passed to the predictor factory, chosen in the dock and in the headless segmenter; the last click's time."""
from __future__ import annotations

import json

import pytest

from avalanche_iseg_plugin.engine.digitising_rules import NEW_MODEL_LATER, DigitisingRules
from avalanche_iseg_plugin.engine.protocol import AddClick, PredictorKey, SetRaster
from avalanche_iseg_plugin.engine.session_server import SessionServer
from gis_fixtures import FakePredictor, make_lobe_geotiff


class Factory:
    def __init__(self):
        self.calls = []

    def __call__(self, checkpoint, device, threshold, **kw):
        self.calls.append((checkpoint, device, kw))
        return FakePredictor(threshold=threshold)


def test_server_builds_the_predictor_with_the_mode_and_reloads_on_a_new_mode(tmp_path):
    lobe = make_lobe_geotiff(tmp_path / "lobe.tif", size=(240, 320))
    factory = Factory()
    server = SessionServer(factory)
    server.handle(SetRaster(lobe["path"], 1600, PredictorKey("m.pth", "cpu", "f-BRS-B"), 0.49))
    view = server.handle(AddClick(*lobe["lobe_xy"], True))
    assert factory.calls == [("m.pth", "cpu", {"brs_mode": "f-BRS-B"})]
    assert isinstance(view.latency_ms, float) and view.latency_ms >= 0.0
    server.handle(SetRaster(lobe["path"], 1600, PredictorKey("m.pth", "cpu"), 0.49))
    server.handle(AddClick(*lobe["lobe_xy"], True))
    assert factory.calls[1] == ("m.pth", "cpu", {})                 # NoBRS: the three-argument call


def test_digitising_rules_key_and_status(qgis_app):
    from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
    settings = PluginSettings(checkpoint="m.pth")
    assert settings.brs_mode == "NoBRS"
    model = DigitisingRules(settings)
    assert model.predictor_key == PredictorKey("m.pth", "cpu", "NoBRS")
    settings.brs_mode = "RGB-BRS"
    assert model.predictor_key.brs_mode == "RGB-BRS" and model.status().brs_mode == "RGB-BRS"
    model.pending.append((0.0, 0.0, True))                         # an avalanche in progress
    model.session_key = PredictorKey("m.pth", "cpu", "NoBRS")
    assert model.status().brs_mode == "NoBRS, then RGB-BRS"         # the one in progress keeps its mode
    assert [m.text for m in model.setting_changed("brs_mode").messages] == [NEW_MODEL_LATER]


def test_dock_refinement_choice_and_status_line(qgis_app, qgis_new_project):
    from avalanche_iseg_plugin.gui.dock import AvalancheDock
    from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
    settings = PluginSettings(checkpoint="m.pth")
    saved = []
    dock = AvalancheDock(settings, save=saved.append)
    combo = dock.refinement_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["NoBRS", "f-BRS-A", "f-BRS-B", "f-BRS-C",
                                                                 "RGB-BRS", "DistMap-BRS"]
    assert combo.currentText() == "NoBRS"
    changed = []
    dock.settingsChanged.connect(changed.append)
    combo.setCurrentIndex(combo.findData("f-BRS-B"))
    assert settings.brs_mode == "f-BRS-B" and changed == ["brs_mode"] and saved == [settings]
    dock.set_status(2, 1, "hrnet18s", "cpu", refinement="f-BRS-B", latency_ms=1234.4)
    assert dock.status_label.text().endswith("· refinement: f-BRS-B · last click: 1234 ms")
    assert AvalancheDock(PluginSettings(brs_mode="RGB-BRS"), save=saved.append).refinement_combo.currentText() \
        == "RGB-BRS"


def test_segment_cli_passes_the_mode(tmp_path, monkeypatch, qgis_app, capsys):
    from avalanche_iseg_plugin.cli import segment
    lobe = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320), pixel=1.25)
    seen = []

    def fake(path, device, threshold, **kw):
        seen.append(kw)
        return FakePredictor(threshold=threshold)

    monkeypatch.setattr(segment, "make_predictor", fake)
    ckpt = tmp_path / "fake.pth"
    ckpt.write_bytes(b"never read")
    clicks = tmp_path / "c.json"
    clicks.write_text(json.dumps([{"x": lobe["lobe_xy"][0], "y": lobe["lobe_xy"][1], "positive": True}]))
    args = ["--raster", lobe["path"], "--clicks", str(clicks), "--out", str(tmp_path / "o.gpkg"),
            "--checkpoint", str(ckpt)]
    assert segment.main(args + ["--brs", "DistMap-BRS"]) == 0
    assert seen == [{"brs_mode": "DistMap-BRS"}] and "with DistMap-BRS" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        segment.main(args + ["--brs", "BRS"])
    assert exc.value.code == 2 and "invalid choice: 'BRS'" in capsys.readouterr().err


def test_predictor_loader_refuses_an_unknown_mode():
    from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable, make_predictor
    with pytest.raises(PredictorUnavailable, match="Unknown refinement mode 'BRS': choose one of NoBRS"):
        make_predictor("m.pth", "cpu", 0.49, brs_mode="BRS")


def test_processing_algorithm_passes_the_refinement(qgis_processing, tmp_path):
    import processing
    from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsPointXY,
                           QgsRasterLayer, QgsVectorLayer)

    from avalanche_iseg_plugin.toolbox.provider import AvalancheProvider
    from avalanche_iseg_plugin.toolbox.segment_algorithm import SegmentFromPointsAlgorithm
    factory = Factory()
    provider = AvalancheProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    SegmentFromPointsAlgorithm.predictor_factory = staticmethod(factory)
    try:
        lobe = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320))
        points = QgsVectorLayer("Point", "clicks", "memory")
        points.setCrs(QgsCoordinateReferenceSystem("EPSG:2056"))
        f = QgsFeature(points.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*lobe["lobe_xy"])))
        points.dataProvider().addFeatures([f])
        alg = QgsApplication.processingRegistry().algorithmById("avalanche_iseg:segment_from_points")
        param = alg.parameterDefinition("REFINEMENT")
        assert param.options() == ["NoBRS", "f-BRS-A", "f-BRS-B", "f-BRS-C", "RGB-BRS", "DistMap-BRS"]
        assert param.defaultValue() == 0
        processing.run("avalanche_iseg:segment_from_points", {
            "RASTER": QgsRasterLayer(lobe["path"], "ortho"), "POINTS": points, "CHECKPOINT": "m.pth",
            "REFINEMENT": 2, "OUTPUT": str(tmp_path / "out.gpkg")})
        assert factory.calls == [("m.pth", "cpu", {"brs_mode": "f-BRS-B"})]
    finally:
        SegmentFromPointsAlgorithm.predictor_factory = None
        QgsApplication.processingRegistry().removeProvider(provider)


@pytest.fixture
def digitiser(qgis_iface, qgis_new_project, tmp_path):
    """The plugin on a real canvas; the stand-in predictor takes a refinement mode and records it."""
    from qgis.core import QgsSettings

    from canvas_driver import Digitiser
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path)
    d.modes = []

    def factory(checkpoint, device, threshold, brs_mode="NoBRS"):
        d.modes.append(brs_mode)
        return FakePredictor(threshold=threshold)

    d.controller.predictor_factory = factory
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def test_a_mode_chosen_mid_avalanche_keeps_the_clicks_and_the_status_line_names_both(digitiser, tmp_path):
    from qgis.PyQt.QtCore import Qt

    d = digitiser
    dock = d.plugin.dock
    assert d.controller.target.create(str(tmp_path / "avalanches.gpkg")) is not None
    d.click(*d.info["lobe_xy"])
    d.click(*d.info["outside_xy"], button=Qt.RightButton)
    dock.refinement_combo.setCurrentIndex(dock.refinement_combo.findData("f-BRS-B"))
    text = dock.status_label.text()
    assert text.startswith("Clicks: 1 positive, 1 negative")
    # the avalanche in progress keeps NoBRS; not "model: X, then X" as if another model were coming
    assert "refinement: NoBRS, then f-BRS-B" in text and text.count(", then ") == 1, text
    d.key(Qt.Key_Z, Qt.ControlModifier)
    d.click(*d.info["outside_xy"], button=Qt.RightButton)
    d.key(Qt.Key_Space)
    assert d.warnings() == [] and d.modes == ["NoBRS"]
    d.click(*d.info["lobe_xy"])                                   # the next avalanche: the new mode
    assert d.modes == ["NoBRS", "f-BRS-B"]
    assert "refinement: f-BRS-B · last click:" in dock.status_label.text()


def test_real_model_refinement_chosen_in_the_dock_fixes_a_violated_click_and_undo_is_exact(qgis_iface,
                                                                                         qgis_new_project, tmp_path):
    """The bundled model, clicked on the canvas: a negative click 3 m beside the positive one stays inside
    NoBRS's polygon; with f-BRS-B chosen in the dock the next avalanche's predictor refines (several
    objective evaluations) and leaves it out, Ctrl+Z gives back the refined mask bit for bit."""
    import numpy as np
    from osgeo import ogr
    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import Qt

    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor
    from canvas_driver import Digitiser, read_gpkg
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path, fake=False)
    try:
        c, dock = d.controller, d.plugin.dock
        dock.transport_combo.setCurrentIndex(dock.transport_combo.findData("thread"))
        made = []

        def factory(checkpoint, device, threshold, **kw):   # the real predictor, kept to look at its refiner
            made.append((kw.get("brs_mode", "NoBRS"), make_predictor(checkpoint, device, threshold, **kw)))
            return made[-1][1]

        c.predictor_factory = factory
        assert c.target.create(str(tmp_path / "avalanches.gpkg")) is not None
        x, y = d.info["lobe_xy"]

        def click(px, py, button=Qt.LeftButton):
            d.click(px, py, button=button, wait=False)
            c.wait_idle(300)

        def two_clicks():
            click(x, y)
            click(x + 3.0, y, Qt.RightButton)               # 6 px east, on the lobe
            return [(cx, cy) for cx, cy, _pos in c.state.clicks]

        nobrs_clicks = two_clicks()
        d.key(Qt.Key_Space)
        dock.refinement_combo.setCurrentIndex(dock.refinement_combo.findData("f-BRS-B"))
        brs_clicks = two_clicks()
        assert [m for m, _p in made] == ["NoBRS", "f-BRS-B"]
        refiner = made[1][1]._refiner
        assert type(refiner).__name__ == "FeatureRefiner" and refiner.evaluations > 1   # it had work to do
        assert "refinement: f-BRS-B · last click:" in dock.status_label.text()
        refined = c.state.mask.copy()
        click(x - 10.0, y + 10.0)
        assert c.state.n_pos == 2 and not np.array_equal(c.state.mask, refined)
        d.key(Qt.Key_Z, Qt.ControlModifier)
        assert c.state.n_pos == 1 and c.state.n_neg == 1 and np.array_equal(c.state.mask, refined)
        d.key(Qt.Key_Space)
        assert d.warnings() == []

        features, _srs = read_gpkg(tmp_path / "avalanches.gpkg")
        assert len(features) == 2
        (_f1, plain_attrs, plain), (_f2, brs_attrs, brs) = features
        assert plain_attrs["n_neg"] == brs_attrs["n_neg"] == 1 and plain_attrs["n_pos"] == brs_attrs["n_pos"] == 1

        def point(xy):
            return ogr.CreateGeometryFromWkt(f"POINT ({xy[0]} {xy[1]})")

        assert plain.Contains(point(nobrs_clicks[0])) and plain.Contains(point(nobrs_clicks[1]))   # violated
        assert brs.Contains(point(brs_clicks[0])) and not brs.Contains(point(brs_clicks[1]))        # honoured
        assert plain.SymDifference(brs).GetArea() > 1.0
    finally:
        d.close()
        QgsSettings().remove("avalanche_iseg")


def test_refinement_without_scipy_is_one_sentence_at_the_first_click(qgis_iface, qgis_new_project, tmp_path,
                                                                      monkeypatch):
    """SciPy (L-BFGS-B) is not among the packages the plugin installs: a QGIS Python without it hears so,
    in a sentence that says what to do, when the refined avalanche starts, not a failed second click."""
    import sys

    from qgis.core import Qgis, QgsSettings
    from qgis.PyQt.QtCore import Qt

    from canvas_driver import Digitiser
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path, fake=False)
    logged = []
    try:
        from qgis.core import QgsApplication
        QgsApplication.messageLog().messageReceived.connect(lambda _text, tag, level: logged.append((tag, level)))
        c, dock = d.controller, d.plugin.dock
        dock.transport_combo.setCurrentIndex(dock.transport_combo.findData("thread"))
        dock.refinement_combo.setCurrentIndex(dock.refinement_combo.findData("f-BRS-B"))
        monkeypatch.setitem(sys.modules, "scipy", None)      # import scipy: ImportError, as where it is missing
        monkeypatch.setitem(sys.modules, "scipy.optimize", None)
        x, y = d.info["lobe_xy"]
        for px, button in ((x, Qt.LeftButton), (x + 3.0, Qt.RightButton)):
            d.click(px, y, button=button, wait=False)
            c.wait_idle(300)
        texts = d.warnings()
        assert texts and texts[0].endswith("The refinement mode 'f-BRS-B' needs SciPy, which QGIS's Python does not "
                                            "have: choose Refinement 'NoBRS', or install scipy for QGIS's Python."), texts
        assert not [t for t in texts if "prediction failed" in t]
        assert [tag for tag, level in logged if level == Qgis.Critical] == []     # no traceback logged
    finally:
        d.close()
        QgsSettings().remove("avalanche_iseg")


def test_segment_cli_refinement_without_scipy_exits_2_with_one_line(tmp_path, monkeypatch, qgis_app, capsys):
    import sys

    from avalanche_iseg_plugin.cli import segment
    lobe = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320), pixel=1.25)
    clicks = tmp_path / "c.json"
    clicks.write_text(json.dumps([{"x": lobe["lobe_xy"][0], "y": lobe["lobe_xy"][1], "positive": True}]))
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    out = tmp_path / "o.gpkg"
    assert segment.main(["--raster", lobe["path"], "--clicks", str(clicks), "--out", str(out), "--brs", "f-BRS-B"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'f-BRS-B' needs SciPy" in err[0] and not out.exists()
