"""The engine is chosen the same way everywhere (auto: PyTorch where installed, else ONNX Runtime) and can be
forced: in the dock (it travels in the PredictorKey), in segment and webcam project (--engine); what needs
PyTorch says so in one sentence."""
from __future__ import annotations

import sys

import pytest

from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable, make_predictor
from core_model.default_model import default_checkpoint


def test_make_predictor_runs_the_engine_asked_for():
    path = str(default_checkpoint())
    assert make_predictor(path, "cpu", 0.49, engine="onnxruntime").engine.description == "ONNX Runtime, CPU"
    assert make_predictor(path, "cpu", 0.49).engine.description == "PyTorch, CPU"      # auto, torch installed
    with pytest.raises(PredictorUnavailable, match="The refinement mode 'f-BRS-B' needs the PyTorch engine"):
        make_predictor(path, "cpu", 0.49, brs_mode="f-BRS-B", engine="onnxruntime")
    with pytest.raises(PredictorUnavailable, match="Unknown engine 'tensorflow'"):
        make_predictor(path, "cpu", 0.49, engine="tensorflow")


def test_the_torch_engine_without_torch_is_one_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(PredictorUnavailable, match="The PyTorch engine was chosen but QGIS's Python has no PyTorch"):
        make_predictor(str(default_checkpoint()), "cpu", 0.49, engine="torch")


def test_the_docks_engine_reaches_the_predictor_key(qgis_app, qgis_new_project):
    from avalanche_iseg_plugin.engine.digitising_rules import DigitisingRules
    from avalanche_iseg_plugin.gui.dock import AvalancheDock

    settings = PluginSettings(checkpoint="m.pth")
    saved = []
    dock = AvalancheDock(settings, save=saved.append)
    rules = DigitisingRules(settings)
    assert dock.engine_combo.currentData() == "auto" and rules.predictor_key.engine == "auto"
    dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("onnxruntime"))
    assert settings.engine == "onnxruntime" and rules.predictor_key.engine == "onnxruntime" and saved


def test_segment_cli_forces_the_engine(tmp_path, qgis_app, monkeypatch, capsys):
    from avalanche_iseg_plugin.cli import segment
    from gis_fixtures import make_lobe_geotiff

    lobe = make_lobe_geotiff(tmp_path / "ortho.tif")
    clicks = tmp_path / "clicks.json"
    clicks.write_text('[{"x": %r, "y": %r, "positive": true}]' % tuple(lobe["lobe_xy"]))
    made = []

    def recording(*args, **kwargs):
        made.append(kwargs.get("engine", "auto"))
        return segment.__dict__["_real_make_predictor"](*args, **kwargs)

    monkeypatch.setitem(segment.__dict__, "_real_make_predictor", segment.make_predictor)
    monkeypatch.setattr(segment, "make_predictor", recording)
    code = segment.main(["--raster", lobe["path"], "--clicks", str(clicks), "--out", str(tmp_path / "a.gpkg"),
                         "--engine", "onnxruntime"])
    assert code == 0, capsys.readouterr().err
    assert made == ["onnxruntime"]
