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
CHAOTIC_FROM = {"hrnet18s_itermask_ref_f-BRS-B_session_coco_donut.npz": 2}   # first click index not compared
# Input-optimising modes with a violated negative click run L-BFGS-B to maxfun on the whole image, and the
# float rounding of the CPU's convolution kernels picks other steps. Largest |Δprob| to the reference at clicks
# 2-4, our inference copy: DistMap-BRS 7.1e-4, 7.4e-4, 6.8e-4 on an Intel Xeon (AVX-512), 1.7e-3, 5.7e-3,
# 2.9e-3 on an AMD EPYC (AVX2); RGB-BRS 7.9e-4, 1.1e-3, 1.6e-3 (Intel), 8.2e-4, 1.5e-3, 8.3e-4 (AMD). The model
# as loaded — the same arithmetic up to rounding — lands 2.5e-3, 7.8e-3, 4.4e-3 from the DistMap reference on
# the AMD. These two sessions are held to the measured float-noise floor across CPUs (1e-2 in probability and
# in IoU), ten times the non-chaotic bar.
SESSION_TOL = {"hrnet18s_itermask_ref_DistMap-BRS_session_coco_donut.npz": 1e-2,
               "hrnet18s_itermask_ref_RGB-BRS_session_coco_donut.npz": 1e-2}


@pytest.fixture(scope="module")
def fast_model():
    from core_model.checkpoint import load_model
    from core_model.inference_speedups import optimize_for_inference
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield optimize_for_inference(load_model(shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")))
    torch.set_num_threads(old)


@pytest.mark.parametrize("session", SESSIONS)
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
            assert iou(gt, mask) == pytest.approx(data["ious"][k], abs=max(1e-3, SESSION_TOL.get(session, 0)))
    print(f"{session}: max |probs - reference| per click: " + ", ".join(f"{d:.1e}" for d in diffs))
    assert max(diffs[:stable]) <= SESSION_TOL.get(session, PROB_TOL)
