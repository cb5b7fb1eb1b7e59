"""The predictor and click simulator against sessions recorded with the reference RITM implementation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SHARED, shared_path
from core_model.clicks import Click, next_click
from core_model.noc import iou
from core_model.predictor import InteractivePredictor, PredictorSettings

REF = SHARED / "ritm_reference"
# NoBRS sessions are named <model>_session_<name>.npz; the refinement-mode ones <model>_<MODE>_session_<name>.npz
# (test_brs_parity.py).
SESSIONS = sorted(p.name for p in REF.glob("*_session_*.npz") if "BRS" not in p.name) \
    or ["hrnet18s_itermask_ref_session_davis017.npz"]
PROB_TOL = 1e-4
_models: dict[str, torch.nn.Module] = {}


def _model(name: str):
    if name not in _models:
        from core_model.checkpoint import load_model
        _models[name] = load_model(shared_path("ritm_reference", name + ".pth"))
    return _models[name]


@pytest.fixture(autouse=True, scope="module")
def _two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)
    _models.clear()


@pytest.mark.parametrize("session", SESSIONS)
def test_session_parity_and_simulated_clicks(session):
    data = np.load(shared_path("ritm_reference", session))
    model = _model(session.split("_session_")[0])
    pred = InteractivePredictor(model)
    pred.set_image(data["image"])
    gt = data["gt"]
    mask = np.zeros(gt.shape, dtype=bool)
    diffs = []
    for k, (row, col, positive) in enumerate(data["clicks"].tolist()):
        simulated = next_click(gt, mask, clicked=pred.clicks)
        assert simulated == Click(row, col, bool(positive)), f"click {k + 1}"
        probs = pred.add_click(row, col, bool(positive))
        assert probs.dtype == np.float32 and probs.shape == gt.shape
        diffs.append(float(np.abs(probs - data["probs"][k]).max()))
        mask = pred.mask
        assert np.array_equal(mask, probs > 0.49)
        assert iou(gt, mask) == pytest.approx(data["ious"][k], abs=1e-3)
    print(f"{session}: max |probs - reference| per click: " + ", ".join(f"{d:.1e}" for d in diffs))
    assert max(diffs) <= PROB_TOL


def test_cache_changes_nothing_and_undo_is_exact():
    data = np.load(shared_path("ritm_reference", "hrnet18s_itermask_ref_session_davis017.npz"))
    model = _model("hrnet18s_itermask_ref")
    fast, plain = InteractivePredictor(model), InteractivePredictor(model, cache=False)
    fast.set_image(data["image"])
    plain.set_image(data["image"])
    clicks = data["clicks"][:4].tolist()
    after = []
    for row, col, positive in clicks[:3]:
        after.append(fast.add_click(row, col, bool(positive)))
        assert np.array_equal(after[-1], plain.add_click(row, col, bool(positive)))
    # Undo restores the state after click 2 exactly; redoing click 3 gives the same map again.
    assert np.array_equal(fast.undo(), after[1])
    assert np.array_equal(fast.probabilities, after[1])
    assert fast.clicks == [Click(*clicks[0][:2], True), Click(*clicks[1][:2], True)]
    assert np.array_equal(fast.add_click(*clicks[2][:2], bool(clicks[2][2])), after[2])
    # A different click 3 after the undo, then undo again.
    other = fast.add_click(*clicks[3][:2], bool(clicks[3][2]))
    assert not np.array_equal(other, after[2])
    fast.undo()
    fast.undo()
    fast.undo()
    assert fast.undo() is None and fast.clicks == [] and fast.probabilities is None
    assert np.array_equal(fast.add_click(*clicks[0][:2], True), after[0])


def test_initial_mask_zooms_first_click_and_undo_returns_it():
    data = np.load(shared_path("ritm_reference", "hrnet18s_itermask_ref_session_davis017.npz"))
    model = _model("hrnet18s_itermask_ref")
    gt = data["gt"] == 1
    pred = InteractivePredictor(model)
    pred.set_image(data["image"])
    pred.set_initial_mask(gt)
    assert np.array_equal(pred.mask, gt)
    row, col, _ = data["clicks"][0].tolist()
    with_mask = pred.add_click(row, col, True)
    assert pred._zoom.object_roi is not None          # the outline made the first click zoom in
    assert np.all(with_mask[:100] == 0)               # outside the zoomed region (rows 164–364) nothing
    assert np.abs(with_mask - data["probs"][0]).max() > 0.1   # differs from the same click without outline
    back = pred.undo()
    assert np.array_equal(back, gt.astype(np.float32))
    pred.reset()
    assert pred.clicks == [] and np.array_equal(pred.mask, gt)
    pred.set_image(data["image"])
    assert pred.probabilities is None


def test_no_flip_no_zoom_setting_differs_but_runs():
    data = np.load(shared_path("ritm_reference", "hrnet18s_itermask_ref_session_davis017.npz"))
    pred = InteractivePredictor(_model("hrnet18s_itermask_ref"),
                                settings=PredictorSettings(flip=False, zoom_in=False, max_longest_side=300))
    pred.set_image(data["image"])
    row, col, _ = data["clicks"][0].tolist()
    probs = pred.add_click(row, col, True)
    assert probs.shape == data["gt"].shape
    assert 0.0 < np.abs(probs - data["probs"][0]).max() < 1.0


class _FakeNet(torch.nn.Module):
    """Deterministic stand-in with the network's call signature: logits from the image, the previous mask
    and disks around the clicks (no shared data needed)."""
    with_prev_mask = True

    def forward(self, image, points):
        b, _, h, w = image.shape
        rows = torch.arange(h, dtype=torch.float32)[:, None]
        cols = torch.arange(w, dtype=torch.float32)[None, :]
        logits = image[:, :3].mean(1, keepdim=True) - 0.5 + 2 * image[:, 3:] - 1
        n = points.shape[1] // 2
        for i in range(b):
            for j in range(points.shape[1]):
                r, c, _ = points[i, j].tolist()
                if r < 0:
                    continue
                disk = ((rows - r) ** 2 + (cols - c) ** 2 <= 36).float()
                logits[i, 0] += (6.0 if j < n else -6.0) * disk
        return {"instances": logits}


def test_misuse_raises_clear_errors_and_points_layout():
    from core_model.predictor import points_tensor
    from core_model.transforms import NetClick
    pred = InteractivePredictor(_FakeNet())
    with pytest.raises(ValueError, match="call set_image"):
        pred.add_click(1, 1, True)
    assert pred.undo() is None and pred.probabilities is None and pred.image_shape is None
    with pytest.raises(ValueError, match="uint8"):
        pred.set_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="H×W×3"):
        pred.set_image(np.zeros((10, 10, 5), np.uint8))
    image = np.full((60, 80, 3), 128, np.uint8)
    pred.set_image(image)
    assert pred.image_shape == (60, 80)
    with pytest.raises(ValueError, match="outside the 80×60 image"):
        pred.add_click(60, 5, True)
    with pytest.raises(ValueError, match="of the image's size"):
        pred.set_initial_mask(np.zeros((10, 10), bool))
    assert pred.clicks == [] and pred.probabilities is None
    probs = pred.add_click(30, 40, True)
    assert probs[30, 40] > 0.9 and probs[0, 0] < 0.5
    probs = pred.add_click(30, 46, False)
    assert probs[30, 47] < 0.5 and pred.mask[30, 36]
    # points: first half positive, second half negative, (-1, -1, -1) padding, index in column 3
    pts = points_tensor([[NetClick(1.5, 2.0, True, 0), NetClick(3.0, 4.0, False, 1), NetClick(5.0, 6.0, True, 2)]])
    assert pts.dtype == torch.float32 and pts.tolist() == [[[1.5, 2.0, 0], [5.0, 6.0, 2], [3.0, 4.0, 1],
                                                            [-1, -1, -1]]]
    assert points_tensor([[]]).tolist() == [[[-1, -1, -1], [-1, -1, -1]]]
    limited = points_tensor([[NetClick(1, 1, True, 0), NetClick(2, 2, True, 1), NetClick(3, 3, False, 2)]],
                            net_clicks_limit=1)
    assert limited.tolist() == [[[1, 1, 0], [-1, -1, -1]]]


def test_inference_copy_keeps_parity():
    """The fast path the plugin uses (optimize_for_inference + caches) stays within tolerance of RITM."""
    from core_model.inference_speedups import optimize_for_inference
    data = np.load(shared_path("ritm_reference", "hrnet18s_itermask_ref_session_davis017.npz"))
    pred = InteractivePredictor(optimize_for_inference(_model("hrnet18s_itermask_ref")))
    pred.set_image(data["image"])
    for k, (row, col, positive) in enumerate(data["clicks"][:3].tolist()):
        probs = pred.add_click(row, col, bool(positive))
        assert np.abs(probs - data["probs"][k]).max() <= PROB_TOL
