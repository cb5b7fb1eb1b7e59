"""Back-propagating refinement (core_model.brs): undo, zoom-in with the input modes, the inference copy's
gradient path, the command lines' --brs, and the plugin's copy of the mode list."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO
from core_model import brs, brs_objective
from core_model.inference_speedups import optimize_for_inference
from core_model.model import build_model
from core_model.predictor import InteractivePredictor, PredictorSettings


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny():
    """An untrained hrnet18s (seeded) and a 72×96 image with a bright square."""
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    image = np.full((72, 96, 3), 60, np.uint8)
    image[20:50, 30:70] = 200
    return model, image


def _settings(mode, **kw):
    return PredictorSettings(brs_mode=mode, **{"zoom_in": False, **kw})


def test_modes_and_limits():
    from core_model.brs_modes import BRS_MODES   # the front ends' list, torch-free
    assert BRS_MODES is brs.BRS_MODES            # one definition
    assert [brs.brs_net_clicks_limit(m) for m in brs.BRS_MODES] == [None, 8, 8, 8, 5, 5]
    assert brs_objective.LBFGS_PARAMS == dict(m=20, factr=0, pgtol=1e-8, maxfun=20, maxiter=40)
    with pytest.raises(ValueError, match="Unknown refinement mode 'x-BRS'; choose one of NoBRS"):
        brs.check_brs_mode("x-BRS")


def test_insertion_points_have_ritms_channel_counts(tiny):
    model, _ = tiny
    a = brs.make_refiner("f-BRS-A", model, True, PredictorSettings())
    c = brs.make_refiner("f-BRS-C", model, True, PredictorSettings())
    assert (a.insertion, a.num_channels) == ("A", 15 * 18) and (c.insertion, c.num_channels) == ("C", 2 * 48)
    assert brs.make_refiner("f-BRS-B", model, True, PredictorSettings()).insertion == "A"
    assert brs.make_refiner("NoBRS", model, True, PredictorSettings()) is None


def test_click_masks_are_ritms_squares():
    from core_model.points import NetClick
    pos, neg = brs_objective.click_masks([[NetClick(2.5, 3.4, True, 0), NetClick(0.0, 9.0, False, 1)]], (6, 10),
                                         "cpu")
    assert pos.shape == (1, 1, 6, 10) and pos.sum() == 9 and pos[0, 0, 1:4, 2:5].all()   # round(2.5) = 2
    assert neg.sum() == 0        # RITM's numpy slice -1:2 is empty at the top edge


@pytest.mark.parametrize("mode", ["f-BRS-B", "f-BRS-C", "RGB-BRS", "DistMap-BRS"])
def test_refinement_moves_towards_the_clicks_and_undo_is_exact(tiny, mode):
    model, image = tiny
    nobrs, pred = (InteractivePredictor(model, settings=_settings(m)) for m in ("NoBRS", mode))
    for p in (nobrs, pred):
        p.set_image(image)
    clicks = [(35, 50, True), (35, 60, False), (10, 10, True)]
    after = []
    for row, col, positive in clicks:
        plain = nobrs.add_click(row, col, positive)
        after.append(pred.add_click(row, col, positive))
        if len(after) == 1:
            assert np.abs(after[0] - plain).max() <= 1e-5      # the first click is not optimised
    assert pred._refiner.evaluations >= 1
    # Refinement brings the clicked pixels closer to their labels than the plain network does (the untrained
    # network's output hardly depends on the click maps, so DistMap-BRS may only keep it).
    err = lambda probs: sum(abs(float(probs[r, c]) - p) for r, c, p in clicks)   # noqa: E731
    assert err(after[-1]) <= err(plain) and (mode == "DistMap-BRS" or err(after[-1]) < err(plain))
    assert np.array_equal(pred.undo(), after[1])
    state = pred._refiner.get_state()
    assert np.array_equal(pred.add_click(*clicks[2]), after[2])            # same parameters, same result
    pred.undo()
    assert pred._refiner.get_state()[0] is state[0]
    pred.undo()
    assert np.array_equal(pred.probabilities, after[0])
    pred.reset()
    assert pred._refiner.opt_data is None


@pytest.mark.parametrize("mode", ["RGB-BRS", "DistMap-BRS"])
def test_input_modes_work_with_zoom_in(tiny, mode):
    """RITM's input modes fail with zoom-in; here the bias follows the network input (crop or whole image)."""
    model, image = tiny
    settings = _settings(mode, zoom_in=True, zoom_target_size=48, zoom_min_crop_size=20)
    pred = InteractivePredictor(model, settings=settings)
    pred.set_image(image)
    outline = np.zeros(image.shape[:2], bool)
    outline[25:45, 35:65] = True
    pred.set_initial_mask(outline)           # the first click already zooms in on the outline
    shapes = []
    for row, col, positive in [(35, 50, True), (30, 45, False), (40, 60, True)]:
        probs = pred.add_click(row, col, positive)
        assert probs.shape == image.shape[:2] and np.isfinite(probs).all()
        zoomed = pred._zoom.object_roi is not None
        shapes.append((zoomed, pred._refiner.opt_data.shape[2:]))
    assert shapes[0][0] and shapes[0][1] != image.shape[:2]                # sized to the zoomed crop
    for zoomed, shape in shapes:
        assert zoomed or shape == image.shape[:2]


def _first_evaluation(monkeypatch, predictor, image, clicks):
    """(f, ∇f) at the first optimised click's starting point."""
    seen = []

    def once(objective, x0):
        seen.append(objective(x0))
        return x0

    monkeypatch.setattr(brs, "minimize", once)
    predictor.set_image(image)
    for click in clicks:
        predictor.add_click(*click)
    return seen[0]


@pytest.mark.parametrize("mode", ["f-BRS-B", "RGB-BRS", "DistMap-BRS"])
def test_inference_copy_gives_the_same_gradient(tiny, monkeypatch, mode):
    model, image = tiny
    clicks = [(35, 50, True), (35, 60, False)]
    f_ref, g_ref = _first_evaluation(monkeypatch, InteractivePredictor(model, settings=_settings(mode)), image,
                                     clicks)
    fast = InteractivePredictor(optimize_for_inference(model), settings=_settings(mode))
    f_fast, g_fast = _first_evaluation(monkeypatch, fast, image, clicks)
    assert np.abs(g_ref).max() > 0
    assert float(f_fast) == pytest.approx(float(f_ref), rel=1e-4)
    assert np.abs(g_fast - g_ref).max() <= 1e-3 * np.abs(g_ref).max()


def test_model_without_hrnet_parts_is_refused():
    with pytest.raises(ValueError, match="f-BRS-C needs a core_model HRNet model"):
        InteractivePredictor(torch.nn.Conv2d(4, 1, 1), settings=_settings("f-BRS-C"))


def _cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_predict_cli_brs_mode(tmp_path, tiny):
    import cv2
    from core_model.checkpoint import save_checkpoint
    model, image = tiny
    ckpt = tmp_path / "tiny.pth"
    save_checkpoint(model, ckpt)
    cv2.imwrite(str(tmp_path / "img.png"), image[..., ::-1])
    clicks = [[35, 50, True], [35, 60, False]]
    (tmp_path / "clicks.json").write_text(json.dumps(clicks))
    out = tmp_path / "probs.npy"
    proc = _cli("core_model.predict", "--checkpoint", ckpt, "--image", tmp_path / "img.png", "--clicks",
                tmp_path / "clicks.json", "--out", out, "--threads", 1, "--brs", "f-BRS-C")
    assert proc.returncode == 0, proc.stderr
    from core_model.load_predictor import load_predictor
    pred = load_predictor(ckpt, brs_mode="f-BRS-C")
    pred.set_image(image)
    for r, c, p in clicks:
        expected = pred.add_click(r, c, p)
    assert np.abs(np.load(out) - expected).max() <= 1e-4
    bad = _cli("core_model.evaluate", "--dataset", tmp_path, "--brs", "BRS")
    assert bad.returncode == 2 and "invalid choice: 'BRS'" in bad.stderr and "Traceback" not in bad.stderr
