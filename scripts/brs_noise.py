"""How far a refinement-mode session moves when only float rounding changes (issue 17: the parity figures).

    .venv/bin/python scripts/brs_noise.py [--sessions RGB-BRS_session_coco_donut f-BRS-B_session_coco_donut ...]

Replays each stored reference session (../shared/ritm_reference/hrnet18s_itermask_ref_<session>.npz: the
recorded clicks, in order) through core_model's predictor in four variants that are the same arithmetic up
to float rounding:
- the inference copy with 1 torch thread (what test/test_brs_parity.py checks, and the plugin runs),
- the same with 2 threads (other summation order inside the convolutions),
- the model as loaded (BatchNorm not folded, nothing fused), 1 thread,
- the model as loaded in float64 (every module's inputs cast to float64, the objective's too).
It prints, per click, the largest |Δprob| of each variant against the reference's probabilities and the
largest |Δprob| between any two of our variants.  After the first click (no refinement yet) the variants
agree to ~1e-6; from the second on L-BFGS-B (factr 0, maxfun 20, RITM's settings) amplifies those
differences, so the spread among our own variants is what separates any re-implementation from the
reference that is not bit-identical to it.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REF = REPO.parent / "shared" / "ritm_reference"
DEFAULT_SESSIONS = ("RGB-BRS_session_coco_donut", "f-BRS-B_session_coco_donut", "DistMap-BRS_session_coco_donut",
                    "f-BRS-C_session_coco_donut")


@contextlib.contextmanager
def float64_everywhere(model):
    """Run `model` and the predictor's float32 conversions in float64 (a diagnostic, not a product path)."""
    to, as_float, from_numpy = torch.Tensor.to, torch.Tensor.float, torch.from_numpy

    def to64(self, *args, **kwargs):
        args = tuple(torch.float64 if a is torch.float32 else a for a in args)
        if kwargs.get("dtype") is torch.float32:
            kwargs["dtype"] = torch.float64
        return to(self, *args, **kwargs)

    def cast_inputs(_module, args):
        return tuple(a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
    hooks = [m.register_forward_pre_hook(cast_inputs) for m in model.modules()]
    torch.Tensor.to, torch.Tensor.float = to64, lambda self, *a, **k: self.double()
    torch.from_numpy = lambda a: from_numpy(a.astype(np.float64) if a.dtype == np.float32 else a)
    try:
        yield model.double()
    finally:
        torch.Tensor.to, torch.Tensor.float, torch.from_numpy = to, as_float, from_numpy
        for h in hooks:
            h.remove()


def replay(model, data, threads: int) -> list[np.ndarray]:
    from core_model.predictor import InteractivePredictor, PredictorSettings
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pred = InteractivePredictor(model, settings=PredictorSettings(brs_mode=str(data["mode"]),
                                                                      zoom_in=bool(data["zoom_in"])))
        pred.set_image(data["image"])
        return [pred.add_click(r, c, bool(p)).astype(np.float64) for r, c, p in data["clicks"].tolist()]
    finally:
        torch.set_num_threads(old)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", nargs="+", default=list(DEFAULT_SESSIONS))
    args = parser.parse_args(argv)
    from core_model.checkpoint import load_model
    from core_model.inference_speedups import optimize_for_inference
    checkpoint = REF / "hrnet18s_itermask_ref.pth"
    fast = optimize_for_inference(load_model(checkpoint))
    print("| session | click | inference copy, 1 thread | 2 threads | as loaded | as loaded, float64 "
          "| spread among ours |\n|---|---:|---:|---:|---:|---:|---:|")
    for session in args.sessions:
        data = np.load(REF / f"hrnet18s_itermask_ref_{session}.npz")
        runs = [replay(fast, data, 1), replay(fast, data, 2), replay(load_model(checkpoint), data, 1)]
        with float64_everywhere(load_model(checkpoint)) as model64:
            runs.append(replay(model64, data, 1))
        for k, ref in enumerate(data["probs"].astype(np.float64)):
            to_ref = [np.abs(r[k] - ref).max() for r in runs]
            spread = max(np.abs(a[k] - b[k]).max() for a, b in combinations(runs, 2))
            print(f"| {session} | {k + 1} | " + " | ".join(f"{d:.1e}" for d in to_ref) + f" | {spread:.1e} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
