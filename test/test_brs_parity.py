"""Refinement modes against sessions recorded with the reference RITM implementation (get_predictor's
defaults; ../shared/README.md "Refinement-mode sessions"), on the inference copy the plugin uses.

Every click is fed as recorded; the click simulator must choose the recorded click from our previous mask,
and the probabilities must match to PROB_TOL.  One session is different: in f-BRS-B on coco_donut, L-BFGS-B
stops at maxfun in the middle of a line search from the third click on, and which of its last evaluations
is the best one is decided by differences of 1e-6 in the float32 loss — our own implementation lands
3e-2–8e-2 apart at the third click with 1 or 2 threads or with the model as loaded, and the sessions part
from there (other masks, other zoom regions: up to 0.57 later).  Those clicks are fed and only checked to
give probability maps; the first two are compared."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SHARED, shared_path
from core_model.clicks import Click, next_click
from core_model.noc import iou
from core_model.predictor import InteractivePredictor, PredictorSettings

REF = SHARED / "ritm_reference"
SESSIONS = sorted(p.name for p in REF.glob("*_session_*.npz") if "BRS" in p.name) \
    or ["hrnet18s_itermask_ref_f-BRS-B_session_davis017.npz"]
PROB_TOL = 1e-3
SESSION_TOL: dict[str, float] = {}
CHAOTIC_FROM = {"hrnet18s_itermask_ref_f-BRS-B_session_coco_donut.npz": 2}   # first click index not compared
# Input-optimising modes with a violated negative click run L-BFGS-B to maxfun on the whole image, so the
# float rounding of the CPU's kernels picks other steps: on an AMD EPYC (AVX2) our inference copy lands 1.7e-3,
# 5.7e-3, 2.9e-3 from the DistMap-BRS reference (Intel AVX-512: 7.1e-4, 7.4e-4, 6.8e-4), and the model as loaded
# — the same arithmetic up to rounding — 2.5e-3, 7.8e-3, 4.4e-3. There the bar is the reference lying within
# our own float-noise envelope on this CPU: each click's distance at most PROB_TOL plus twice the distance
# between the inference copy and the model as loaded (a real defect moves probabilities by 0.1 and more).
NOISE_ENVELOPE = {"hrnet18s_itermask_ref_DistMap-BRS_session_coco_donut.npz",
                  "hrnet18s_itermask_ref_RGB-BRS_session_coco_donut.npz"}


@pytest.fixture(scope="module")
def fast_model():
    from core_model.checkpoint import load_model
    from core_model.inference_speedups import optimize_for_inference
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield optimize_for_inference(load_model(shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")))
    torch.set_num_threads(old)


def _replay(model, data) -> tuple[list[np.ndarray], list[float]]:
    """Probabilities and IoUs after each recorded click, fed as recorded."""
    pred = InteractivePredictor(model, settings=PredictorSettings(brs_mode=str(data["mode"]),
                                                                  zoom_in=bool(data["zoom_in"])))
    pred.set_image(data["image"])
    probs, ious = [], []
    for row, col, positive in data["clicks"].tolist():
        probs.append(pred.add_click(row, col, bool(positive)))
        ious.append(iou(data["gt"], pred.mask))
    return probs, ious


@pytest.mark.parametrize("session", sorted(NOISE_ENVELOPE & set(SESSIONS)))
def test_brs_session_within_float_noise(session, fast_model):
    from core_model.checkpoint import load_model
    data = np.load(shared_path("ritm_reference", session))
    fast_probs, fast_ious = _replay(fast_model, data)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loaded_probs, loaded_ious = _replay(load_model(shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")), data)
    finally:
        torch.set_num_threads(old)
    for k, (fast, loaded) in enumerate(zip(fast_probs, loaded_probs)):
        spread = float(np.abs(fast - loaded).max())
        to_reference = float(np.abs(fast - data["probs"][k]).max())
        print(f"{session} click {k + 1}: to reference {to_reference:.1e}, own spread {spread:.1e}")
        assert to_reference <= PROB_TOL + 2 * spread, f"click {k + 1}"
        iou_spread = abs(fast_ious[k] - loaded_ious[k])
        assert fast_ious[k] == pytest.approx(data["ious"][k], abs=1e-3 + 2 * iou_spread), f"click {k + 1}"


@pytest.mark.parametrize("session", sorted(set(SESSIONS) - NOISE_ENVELOPE))
def test_brs_session_parity(session, fast_model):
    data = np.load(shared_path("ritm_reference", session))
    mode = str(data["mode"])
    assert session.startswith(f"hrnet18s_itermask_ref_{mode}_session_")
    pred = InteractivePredictor(fast_model, settings=PredictorSettings(brs_mode=mode, zoom_in=bool(data["zoom_in"])))
    pred.set_image(data["image"])
    gt = data["gt"]
    mask = np.zeros(gt.shape, dtype=bool)
    stable = CHAOTIC_FROM.get(session, len(data["clicks"]))
    diffs = []
    for k, (row, col, positive) in enumerate(data["clicks"].tolist()):
        if k <= stable:   # the click after the last compared one is still chosen from a compared mask
            assert next_click(gt, mask, clicked=pred.clicks) == Click(row, col, bool(positive)), f"click {k + 1}"
        probs = pred.add_click(row, col, bool(positive))
        assert probs.shape == gt.shape and np.isfinite(probs).all() and 0 <= probs.min() <= probs.max() <= 1
        diffs.append(float(np.abs(probs - data["probs"][k]).max()))
        mask = pred.mask
        if k < stable:
            assert iou(gt, mask) == pytest.approx(data["ious"][k], abs=1e-3)
    print(f"{session}: max |probs - reference| per click: " + ", ".join(f"{d:.1e}" for d in diffs))
    assert max(diffs[:stable]) <= SESSION_TOL.get(session, PROB_TOL)
