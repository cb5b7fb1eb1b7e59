"""training/ refuses what cannot be right before it starts (issue 16, D18–D20): a corrupted or foreign
train_state.pth, a run copied or moved elsewhere (resumed where its state file is), empty images, masks
that mark nothing, an --out that is a file, a point layer given as outlines.  Exit 2, one line."""
from __future__ import annotations

import shutil
import time

import cv2
import numpy as np
import pytest
import torch

from test_training import _cli, make_ritm_folder
from training.train import main


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped after 1 of its 4 steps (and its data)."""
    base = tmp_path_factory.mktemp("runs")
    data = make_ritm_folder(base / "tiny")
    out = base / "run"
    assert _cli(data, out, "--epochs", "2", "--max-steps", "1", "--no-epoch-checkpoints") == 0
    return data, out


def _one_line(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    for w in words:
        assert w in err[0], err[0]
    return err[0]


def _resume(out, *extra):
    return main(["--out", str(out), "--resume", "--threads", "1", "--no-progress", *extra])


@pytest.mark.parametrize("kind", ["garbage", "truncated", "foreign", "alien_config", "bad_type", "wrong_model"])
def test_resume_with_a_corrupted_or_foreign_state_is_one_line(stopped_run, tmp_path, capsys, kind):
    _, run = stopped_run
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    state_path = out / "train_state.pth"
    state = torch.load(state_path, weights_only=True)
    if kind == "garbage":
        state_path.write_bytes(b"\x00\x01 not a state" * 100)
    elif kind == "truncated":
        state_path.write_bytes(state_path.read_bytes()[:2000])
    elif kind == "foreign":
        torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3}, state_path)
    elif kind == "alien_config":
        state["config"]["learning_style"] = "fast"
        torch.save(state, state_path)
    elif kind == "bad_type":
        state["config"]["epochs"] = "many"
        torch.save(state, state_path)
    else:  # an optimiser state of another model
        first = next(iter(state["optimizer"]["state"]))
        state["optimizer"]["state"][first]["exp_avg"] = torch.zeros(7, 7)
        torch.save(state, state_path)
    assert _resume(out) == 2
    _one_line(capsys, "train_state.pth")


def test_a_copied_run_resumes_in_its_own_folder_and_a_moved_one_resumes_at_all(stopped_run, tmp_path, capsys):
    _, run = stopped_run
    original = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert _resume(copy, "--max-steps", "1") == 0
    assert torch.load(copy / "train_state.pth", weights_only=True)["step"] == 2
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == original  # untouched
    moved = tmp_path / "moved"
    shutil.move(str(copy), moved)
    assert _resume(moved, "--max-steps", "1") == 0
    assert torch.load(moved / "train_state.pth", weights_only=True)["step"] == 3
    assert not copy.exists()


def test_empty_image_file_is_refused_before_training(tmp_path, capsys):
    data = make_ritm_folder(tmp_path / "tiny")
    (data / "img" / "im 03.jpg").write_bytes(b"")
    t0 = time.monotonic()
    # no validation split: only sampling would meet the file (a 1-step run used to succeed)
    assert main(["--data", str(data), "--out", str(tmp_path / "run"), "--crop-size", "64", "--batch-size", "1",
                 "--epochs", "1", "--steps-per-epoch", "1", "--max-points", "4", "--threads", "1",
                 "--no-progress"]) == 2
    _one_line(capsys, "im 03.jpg", "empty")
    assert not (tmp_path / "run" / "train_state.pth").exists() and time.monotonic() - t0 < 10


def test_masks_that_mark_nothing_are_refused(tmp_path, capsys):
    data = make_ritm_folder(tmp_path / "tiny")
    for mask in (data / "gt").iterdir():
        cv2.imwrite(str(mask), np.zeros((96, 96), np.uint8))
    assert _cli(data, tmp_path / "run", "--max-steps", "1") == 2
    _one_line(capsys, "marks an object", "empty")


def test_out_naming_a_file_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    data = make_ritm_folder(tmp_path / "tiny")
    out = tmp_path / "run.txt"
    out.write_text("notes")
    import training.trainer

    monkeypatch.setattr(training.trainer, "load_datasets", lambda cfg: pytest.fail("data loaded before --out was checked"))
    assert _cli(data, out) == 2
    _one_line(capsys, "run.txt", "is a file")
    assert out.read_text() == "notes"


def test_point_layer_as_outlines_is_named_as_such(tmp_path):
    from osgeo import ogr, osr

    from gis_fixtures import make_lobe_geotiff
    from training.datasets import DataError
    from training.gis_samples import GisWindowDataset

    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(120, 160), pixel=1.25)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "points.gpkg"))
    layer = ds.CreateLayer("points", srs, ogr.wkbPoint)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%f %f)" % tuple(info["lobe_xy"])))
    layer.CreateFeature(feature)
    ds = None
    with pytest.raises(DataError, match="is a point layer; the avalanche outlines must be a polygon layer"):
        GisWindowDataset(info["path"], tmp_path / "points.gpkg")
