"""A model choice and its preset in the batch front ends: the Processing algorithm (installed model,
checkpoint file + --preset-like fields) and `python -m avalanche_iseg_plugin.segment --preset`, down to
what the predictor factory is given and, with the real model, to the predictor's settings."""
from __future__ import annotations

import json

import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsRasterLayer, QgsSettings, QgsVectorLayer

from canvas_driver import read_gpkg
from gis_fixtures import FakePredictor, make_lobe_geotiff
from loopback_http import LoopbackServer
from model_catalogue_fixture import serve_catalogue
from processing_helpers import Feedback


class InfoFeedback(Feedback):
    def __init__(self):
        super().__init__()
        self.infos = []

    def pushInfo(self, info):  # noqa: N802 - QGIS API
        self.infos.append(info)


@pytest.fixture
def installed(tmp_path):
    """snow_test (the avalanche fork's preset) installed in a models folder, downloaded from 127.0.0.1."""
    from core_model.models import ModelStore, load_catalogue
    folder = tmp_path / "models"
    with LoopbackServer() as server:
        catalogue = serve_catalogue(server, tmp_path)
        path = ModelStore(folder, load_catalogue([catalogue])).download("snow_test")
    return folder, catalogue, path


@pytest.fixture
def recorded(provider):
    from avalanche_iseg_plugin.toolbox.segment_algorithm import SegmentFromPointsAlgorithm
    calls = []

    def factory(checkpoint, device, threshold, **kw):
        calls.append((checkpoint, threshold, kw))
        return FakePredictor(threshold=threshold)

    SegmentFromPointsAlgorithm.predictor_factory = staticmethod(factory)
    yield calls


def _run(tmp_path, extra):
    import processing
    info = make_lobe_geotiff(tmp_path / "ortho.tif")
    points = QgsVectorLayer("Point?crs=EPSG:2056", "clicks", "memory")
    feature = QgsFeature(points.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*info["lobe_xy"])))
    points.dataProvider().addFeatures([feature])
    out = tmp_path / "out.gpkg"
    feedback = InfoFeedback()
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": QgsRasterLayer(info["path"], "ortho"), "POINTS": points, "OUTPUT": str(out), **extra},
        feedback=feedback)
    return read_gpkg(out)[0], feedback


def test_processing_runs_an_installed_model_with_its_preset(recorded, installed, tmp_path):
    folder, catalogue, path = installed
    QgsSettings().setValue("avalanche_iseg/models_dir", str(folder))
    QgsSettings().setValue("avalanche_iseg/catalogue", str(catalogue))
    try:
        features, feedback = _run(tmp_path, {"MODEL": "snow_test"})
    finally:
        QgsSettings().remove("avalanche_iseg")
    (checkpoint, threshold, kw), = recorded
    assert checkpoint == str(path) and threshold == 0.5
    assert kw == {"settings": {"zoom_in": False, "max_longest_side": 800}}
    assert features[0][1]["threshold"] == pytest.approx(0.5)
    assert any("zoom_in False" in line for line in feedback.infos)


def test_processing_preset_and_fields_on_a_checkpoint_file(recorded, tmp_path):
    features, _ = _run(tmp_path, {"CHECKPOINT": str(tmp_path / "mine.pth"), "PRESET": "aval_slf",
                                  "ZOOM_TARGET_SIZE": 320, "THRESHOLD": 0.6})
    (checkpoint, threshold, kw), = recorded
    assert checkpoint == str(tmp_path / "mine.pth") and threshold == pytest.approx(0.6)
    assert kw == {"settings": {"zoom_in": False, "max_longest_side": 800}, "overrides": {"zoom_target_size": 320}}
    assert len(features) == 1


def test_processing_without_a_choice_sends_no_settings(recorded, tmp_path):
    _run(tmp_path, {"CHECKPOINT": str(tmp_path / "mine.pth")})
    (_, threshold, kw), = recorded
    assert kw == {} and threshold == pytest.approx(0.49)


def test_processing_unknown_preset_is_one_sentence(recorded, tmp_path):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException) as caught:
        _run(tmp_path, {"CHECKPOINT": str(tmp_path / "mine.pth"), "PRESET": "no_such_preset"})
    assert "neither a catalogue model" in str(caught.value) and recorded == []


@pytest.fixture
def segment_scene(tmp_path, qgis_app):
    from avalanche_iseg_plugin.cli import segment
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320), pixel=1.25)
    clicks = tmp_path / "clicks.json"
    clicks.write_text(json.dumps([{"x": info["lobe_xy"][0], "y": info["lobe_xy"][1]},
                                  {"x": info["lobe_xy"][0] + 5, "y": info["lobe_xy"][1] - 5}]))
    base = ["--raster", info["path"], "--clicks", str(clicks), "--out", str(tmp_path / "out.gpkg")]
    return segment, base


def test_segment_cli_preset_reaches_the_real_predictor(segment_scene, monkeypatch, tmp_path, capsys):
    segment, base = segment_scene
    original = segment.make_predictor
    made = []
    monkeypatch.setattr(segment, "make_predictor",
                        lambda *a, **kw: made.append((a, kw, original(*a, **kw))) or made[-1][2])
    code = segment.main(base + ["--preset", "aval_slf", "--zoom-target-size", "320"])
    assert code == 0, capsys.readouterr().err
    (args, kw, predictor), = made
    assert args[2] == 0.5 and kw == {"settings": {"zoom_in": False, "max_longest_side": 800},
                                     "overrides": {"zoom_target_size": 320}}
    assert predictor.settings.zoom_in is False and predictor._zoom is None     # zoom-in off really off
    assert (predictor.settings.max_longest_side, predictor.settings.threshold) == (800, 0.5)
    assert "zoom_in False" in capsys.readouterr().out
    features, _ = read_gpkg(tmp_path / "out.gpkg")
    assert features[0][1]["threshold"] == pytest.approx(0.5)


def test_segment_cli_installed_model_by_name(segment_scene, installed, monkeypatch, capsys):
    segment, base = segment_scene
    folder, catalogue, path = installed
    monkeypatch.setenv("AVALANCHE_ISEG_MODELS_DIR", str(folder))
    monkeypatch.setenv("AVALANCHE_ISEG_CATALOGUE", str(catalogue))
    made = []
    monkeypatch.setattr(segment, "make_predictor",
                        lambda c, d, t, **kw: made.append((str(c), t, kw)) or FakePredictor(threshold=t))
    assert segment.main(base + ["--checkpoint", "snow_test", "--threshold", "0.55"]) == 0, capsys.readouterr().err
    assert made == [(str(path), 0.55, {"settings": {"zoom_in": False, "max_longest_side": 800}})]


def test_segment_cli_bad_preset_is_one_line(segment_scene, capsys):
    segment, base = segment_scene
    assert segment.main(base + ["--preset", "no_such_preset"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "no_such_preset" in err[0]


def test_model_choice_rules():
    """A preset is complete and brings its threshold; single settings win; 0 is full size; nothing chosen
    sends nothing."""
    from avalanche_iseg_plugin.engine.model_choice import combine
    none = combine("m.pth", None, {"zoom_in": None, "threshold": None})
    assert none.factory_kwargs() == {} and none.threshold == 0.49 and none.describe() == ""
    preset = combine("m.pth", {"zoom_in": False, "threshold": 0.5}, {"max_longest_side": 0, "threshold": None})
    assert preset.threshold == 0.5
    assert preset.factory_kwargs() == {"settings": {"zoom_in": False}, "overrides": {"max_longest_side": None}}
    assert combine("m.pth", {"threshold": 0.5}, {"threshold": 0.7}).threshold == 0.7
    assert combine("m.pth", {}, {}).factory_kwargs() == {"settings": {}}        # RITM's settings, complete
