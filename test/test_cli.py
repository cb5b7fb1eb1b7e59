"""The core_model command-line tools, run as `python -m core_model.X` on small synthetic data."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import REPO, shared_path
from core_model.cli.benchmark import synthetic_scene
from core_model.default_model import DEFAULT_CHECKPOINT


def _run(module: str, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"core_model.{module}", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def _write(path, array):
    ok, buf = cv2.imencode(path.suffix, array)
    assert ok
    buf.tofile(str(path))


@pytest.fixture(scope="module")
def ckpt():
    return shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scene")
    image, gt = synthetic_scene(96)                 # 96×54 image, one object
    path = tmp / "slope photo.png"
    _write(path, image[..., ::-1].copy())
    return tmp, path, image, gt


def test_predict_writes_probabilities_and_mask(ckpt, scene):
    tmp, image_path, image, gt = scene
    clicks = [[24, 48, True], [5, 5, False]]
    (tmp / "clicks.json").write_text(json.dumps(clicks))
    out, mask_out = tmp / "probs.npy", tmp / "mask.png"
    proc = _run("predict", "--checkpoint", ckpt, "--image", image_path, "--clicks", tmp / "clicks.json",
                "--out", out, "--mask-out", mask_out, "--threads", 1)
    assert proc.returncode == 0, proc.stderr
    assert "2 clicks" in proc.stdout
    probs = np.load(out)
    assert probs.dtype == np.float32 and probs.shape == gt.shape
    assert 0.0 <= probs.min() and probs.max() <= 1.0
    mask = cv2.imread(str(mask_out), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(mask == 255, probs > 0.49)
    # Same as the predictor in this process.
    from core_model.checkpoint import load_model
    from core_model.predictor import InteractivePredictor
    pred = InteractivePredictor(load_model(ckpt))
    pred.set_image(image)
    for r, c, p in clicks:
        expected = pred.add_click(r, c, p)
    assert np.abs(probs - expected).max() <= 1e-5


def test_predict_bad_input(ckpt, scene, tmp_path):
    tmp, image_path, _, _ = scene
    good = tmp_path / "good.json"
    good.write_text("[[10, 10, true]]")
    out = tmp_path / "p.npy"
    _one_error_line(_run("predict", "--checkpoint", ckpt, "--image", tmp_path / "nope.png", "--clicks", good,
                         "--out", out), "nope.png", "does not exist")
    bad = tmp_path / "bad.json"
    bad.write_text("[[10, 10, true]")
    _one_error_line(_run("predict", "--checkpoint", ckpt, "--image", image_path, "--clicks", bad, "--out", out),
                    "not valid JSON")
    shape = tmp_path / "shape.json"
    shape.write_text('[{"row": 1}]')
    _one_error_line(_run("predict", "--checkpoint", ckpt, "--image", image_path, "--clicks", shape, "--out", out),
                    "Click 1", "[row, col, is_positive]")
    outside = tmp_path / "outside.json"
    outside.write_text("[[10, 10, true], [54, 3, false]]")
    _one_error_line(_run("predict", "--checkpoint", ckpt, "--image", image_path, "--clicks", outside,
                         "--out", out), "Click 2", "outside the 96×54 image")
    foreign = tmp_path / "foreign.pth"
    torch.save({"weights": torch.zeros(3)}, foreign)
    _one_error_line(_run("predict", "--checkpoint", foreign, "--image", image_path, "--clicks", good, "--out", out),
                    "foreign.pth")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    _one_error_line(_run("predict", "--checkpoint", text, "--image", image_path, "--clicks", good, "--out", out),
                    "notes.pth")
    _one_error_line(_run("predict", "--image", image_path), "--clicks")
    if not DEFAULT_CHECKPOINT.exists():
        _one_error_line(_run("predict", "--image", image_path, "--clicks", good, "--out", out),
                        "default model", "not installed")
    assert not out.exists()


def _davis_folder(root, scenes):
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    for name, (image, gt) in scenes.items():
        _write(root / "img" / f"{name}.jpg", image[..., ::-1].copy())
        _write(root / "gt" / f"{name}.png", (gt * 255).astype(np.uint8))


def test_evaluate_json_and_table(ckpt, tmp_path):
    root = tmp_path / "tiny davis"
    _davis_folder(root, {"slope a": synthetic_scene(80, seed=1), "slope b": synthetic_scene(64, seed=2),
                         "slope c": synthetic_scene(64, seed=3)})
    proc = _run("evaluate", "--checkpoint", ckpt, "--dataset", root, "--n-clicks", 3, "--limit", 2, "--json",
                "--threads", 1)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["images"] == 2 and res["layout"] == "davis" and res["n_clicks"] == 3
    assert 1 <= res["noc85"] <= 3 and 1 <= res["noc90"] <= 3 and res["noc85"] <= res["noc90"]
    assert 0 <= res["over_budget85"] <= res["over_budget90"] <= 2
    assert sorted(res["mean_iou_at_click"]) == ["1", "2", "3", "4", "5"]
    assert all(0.0 <= v <= 1.0 for v in res["mean_iou_at_click"].values())
    assert res["seconds_per_click"] > 0
    assert "evaluating" in proc.stderr               # progress bar on stderr
    assert res["settings"].startswith("zoom-in to 400 px (min crop 200), full size")

    # a checkpoint that recommends smaller inputs is evaluated with them, unless --ritm-settings
    from core_model.checkpoint import load_model, save_checkpoint
    hinted = tmp_path / "hinted.pth"
    save_checkpoint(load_model(ckpt), hinted, predictor_settings={"zoom_target_size": 192, "max_longest_side": 256,
                                                                  "zoom_min_crop_size": 100})
    for extra, expected in (((), "zoom-in to 192 px (min crop 100), longest side ≤ 256 px"),
                            (("--ritm-settings",), "zoom-in to 400 px (min crop 200), full size")):
        proc = _run("evaluate", "--checkpoint", hinted, "--dataset", root, "--n-clicks", 2, "--limit", 1,
                    "--threads", 1, *extra)
        assert proc.returncode == 0, proc.stderr
        assert f"predictor:  {expected}" in proc.stdout

    grab = tmp_path / "grab"
    (grab / "data_GT").mkdir(parents=True)
    (grab / "boundary_GT").mkdir()
    image, gt = synthetic_scene(64, seed=4)
    band = cv2.dilate(gt.astype(np.uint8), np.ones((5, 5), np.uint8)) - cv2.erode(gt.astype(np.uint8),
                                                                                   np.ones((5, 5), np.uint8))
    m = np.where(band > 0, 128, np.where(gt > 0, 255, 0)).astype(np.uint8)
    _write(grab / "data_GT" / "obj 1.jpg", image[..., ::-1].copy())
    _write(grab / "boundary_GT" / "obj 1.bmp", m)
    proc = _run("evaluate", "--checkpoint", ckpt, "--dataset", grab, "--layout", "grabcut", "--n-clicks", 2,
                "--threads", 1)
    assert proc.returncode == 0, proc.stderr
    assert "NoC@85" in proc.stdout and "NoC@90" in proc.stdout and "mean IoU after click 1:" in proc.stdout
    assert "grabcut layout, 1 images" in proc.stdout

    _one_error_line(_run("evaluate", "--checkpoint", ckpt, "--dataset", tmp_path / "none"), "does not exist")
    _one_error_line(_run("evaluate", "--checkpoint", ckpt, "--dataset", grab, "--layout", "davis"), "img/")
    _one_error_line(_run("evaluate", "--checkpoint", ckpt, "--dataset", root, "--n-clicks", 0), "--n-clicks")


def test_benchmark_reports_both_modes(ckpt):
    proc = _run("benchmark", "--checkpoint", ckpt, "--size", 64, "--clicks", 2, "--repeats", 1, "--threads", 1,
                "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert [m["mode"] for m in res["modes"]] == ["optimised", "reference-equivalent"]
    assert res["max_abs_prob_diff"] <= 1e-4 and len(res["clicks_list"]) == 2
    assert res["image_size"] == [64, 36] and res["speedup"] > 0
    assert res["ratio_per_click"] == pytest.approx(1 / res["speedup"]) and res["ratio_first_click"] > 0
    for m in res["modes"]:
        assert m["median_s_per_click"] > 0 and m["peak_memory_mib"] > 50
        assert m["median_s_first_click"] > 0 and m["median_s_later_clicks"] > 0
    # --unfused adds the third backend (the inference copy without fused activations); the text report
    # gives the per-click and first-click ratios.
    proc = _run("benchmark", "--checkpoint", ckpt, "--size", 64, "--clicks", 2, "--repeats", 1, "--threads", 1,
                "--no-memory", "--unfused")
    assert proc.returncode == 0, proc.stderr
    assert "optimised-unfused" in proc.stdout and " per click (speed-up " in proc.stdout
    assert " first click (speed-up " in proc.stdout
    _one_error_line(_run("benchmark", "--checkpoint", ckpt, "--device", "cuda") if not torch.cuda.is_available()
                    else _run("benchmark", "--checkpoint", ckpt, "--clicks", 0), "--" if torch.cuda.is_available()
                    else "CUDA")
