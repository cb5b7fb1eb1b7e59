"""--preset and the single predictor settings reach the predictor through core_model.cli.common, for
predict and evaluate alike: zoom-in off is really off (no ZoomIn transform, a different output)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core_model.cli.common import ArgumentParser, add_model_arguments, predictor
from core_model.errors import CliError
from core_model.transforms import LimitLongestSide, ZoomIn
from models_fixtures import tiny_checkpoints  # noqa: F401 - fixture


def _args(argv):
    parser = ArgumentParser(prog="t")
    add_model_arguments(parser)
    return parser.parse_args(argv)


def _kinds(pred):
    return [type(t) for t in pred._transforms]


def test_a_preset_by_name_reaches_the_predictor(tiny_checkpoints):
    a, _ = tiny_checkpoints
    pred = predictor(_args(["--checkpoint", str(a), "--preset", "aval_slf"]).checkpoint, "cpu")
    s = pred.settings
    assert (s.zoom_in, s.threshold, s.max_longest_side, s.brs_mode) == (False, 0.5, 800, "NoBRS")
    assert ZoomIn not in _kinds(pred) and LimitLongestSide in _kinds(pred)
    assert s.zoom_target_size == 400  # left out by the preset: RITM's default


def test_single_settings_win_over_the_preset(tiny_checkpoints):
    a, _ = tiny_checkpoints
    args = _args(["--checkpoint", str(a), "--preset", "aval_slf", "--zoom-in", "--threshold", "0.3",
                  "--max-longest-side", "0", "--zoom-target-size", "320"])
    pred = predictor(args.checkpoint, "cpu")
    s = pred.settings
    assert (s.zoom_in, s.threshold, s.max_longest_side, s.zoom_target_size) == (True, 0.3, None, 320)
    assert ZoomIn in _kinds(pred) and LimitLongestSide not in _kinds(pred)


def test_without_a_preset_the_checkpoints_own_settings_stay():
    args = _args([])
    assert args.checkpoint is None
    s = predictor(args.checkpoint, "cpu").settings
    assert (s.zoom_target_size, s.max_longest_side) == (256, 256)  # the default model's recommendation
    s = predictor(_args(["--no-zoom-in"]).checkpoint, "cpu").settings
    assert (s.zoom_in, s.zoom_target_size, s.max_longest_side) == (False, 256, 256)


@pytest.mark.parametrize("argv, words", [
    (["--preset", "nothing_like_this"], "neither a catalogue model"),
    (["--threshold", "1.5"], "--threshold must lie between 0 and 1"),
    (["--max-longest-side", "-3"], "--max-longest-side must be 0"),
])
def test_bad_settings_are_one_sentence(argv, words):
    with pytest.raises(CliError, match=words):
        _args(argv)


def test_a_catalogue_name_as_checkpoint_uses_the_installed_file_and_its_preset(tmp_path, tiny_checkpoints,
                                                                                monkeypatch):
    a, _ = tiny_checkpoints
    monkeypatch.setenv("AVALANCHE_ISEG_MODELS_DIR", str(tmp_path))
    with pytest.raises(CliError, match="aval_uibk is not installed; run: python -m core_model.models download"):
        _args(["--checkpoint", "aval_uibk"])
    (tmp_path / "aval_uibk.pth").write_bytes(a.read_bytes())  # as if downloaded
    chosen = _args(["--checkpoint", "aval_uibk"]).checkpoint
    assert Path(chosen) == tmp_path / "aval_uibk.pth"
    assert predictor(chosen, "cpu").settings.zoom_in is False
    chosen = _args(["--checkpoint", "aval_uibk", "--preset", "coco_lvis_h18_itermask"]).checkpoint
    assert predictor(chosen, "cpu").settings.zoom_in is True


def _scene(tmp_path):
    image = np.full((240, 320, 3), 60, np.uint8)
    cv2.rectangle(image, (110, 70), (230, 170), (230, 220, 200), -1)
    cv2.circle(image, (250, 180), 25, (230, 220, 200), -1)
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), image[:, :, ::-1])
    mask = np.zeros((240, 320), np.uint8)
    cv2.rectangle(mask, (110, 70), (230, 170), 255, -1)
    return path, mask


def test_predict_output_differs_with_zoom_in_off(tmp_path):
    from core_model.cli.predict import main
    image, _ = _scene(tmp_path)
    clicks = tmp_path / "clicks.json"
    clicks.write_text(json.dumps([[120, 170, True], [175, 250, False], [80, 120, True]]))
    outs = {}
    for name, extra in (("on", []), ("off", ["--no-zoom-in"])):
        out = tmp_path / f"{name}.npy"
        assert main(["--image", str(image), "--clicks", str(clicks), "--out", str(out),
                     "--preset", "coco_lvis_h18s_itermask", *extra]) == 0
        outs[name] = np.load(out)
    assert outs["on"].shape == outs["off"].shape == (240, 320)
    assert np.abs(outs["on"] - outs["off"]).max() > 0.05


def test_evaluate_gets_the_preset_from_add_model_arguments(tmp_path, capsys):
    from core_model.cli.evaluate import main
    image, mask = _scene(tmp_path)
    (tmp_path / "ds" / "img").mkdir(parents=True)
    (tmp_path / "ds" / "gt").mkdir()
    (tmp_path / "ds" / "img" / "a.png").write_bytes(image.read_bytes())
    cv2.imwrite(str(tmp_path / "ds" / "gt" / "a.png"), mask)
    assert main(["--dataset", str(tmp_path / "ds"), "--n-clicks", "1", "--json", "--preset", "aval_slf"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["settings"].startswith("no zoom-in, longest side ≤ 800 px") and "threshold 0.5," in res["settings"]
