"""Profile one simulated interactive session per stage and per op (issue 18; the table in docs/profile.md).

    .venv/bin/python scripts/profile_session.py [--checkpoint PATH] [--image IMG --mask GT] [--clicks 10]
                                                [--threads 2] [--pipeline optimised|reference-equivalent]

Default: the hrnet18s reference checkpoint and DAVIS 017 from ../shared (RITM's setting: zoom-in, flip
averaging, previous mask fed back).  The clicks come from RITM's simulated user; a first, untimed session
warms torch up.  Stages are torch.profiler.record_function ranges put around the predictor's and the
network's pieces (nested ranges: a stage's time includes its children, e.g. "net" includes "net/stage3");
the op table is torch.profiler's self-CPU time per aten op over the whole timed session.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"


def _wrap(obj, attr: str, label: str) -> None:
    fn = getattr(obj, attr)

    @functools.wraps(fn)
    def wrapped(*a, **k):
        with record_function(label):
            return fn(*a, **k)
    setattr(obj, attr, wrapped)


def instrument(pred) -> None:
    """Put named ranges around the pieces of one predictor and its model (instance attributes only)."""
    from core_model import predictor as predictor_module
    from core_model import transforms as tr
    m = pred.model
    fe = m.feature_extractor
    _wrap(pred, "_network", "net")
    _wrap(m, "image_features", "net/image stem (normalise + conv1)")
    _wrap(m.dist_maps, "forward", "net/click maps")
    _wrap(m.maps_transform, "forward", "net/maps_transform (click features)")
    for name in ("conv2", "layer1", "stage2", "stage3", "stage4", "aux_head", "conv3x3_ocr", "ocr_gather_head",
                 "ocr_distri_head", "cls_head"):
        _wrap(getattr(fe, name), "forward", f"net/{name}")
    for name in ("transition1", "transition2", "transition3"):
        for t in getattr(fe, name):
            if t is not None:
                _wrap(t, "forward", f"net/{name}")
    _wrap(fe, "_aggregate", "net/aggregate (upsample + cat)")
    for t in pred._transforms:
        _wrap(t, "transform", f"transform/{type(t).__name__}")
        _wrap(t, "inv_transform", f"inv_transform/{type(t).__name__}")
    if not getattr(predictor_module, "_profiled", False):
        predictor_module._profiled = True
        predictor_module.points_tensor = _labelled(predictor_module.points_tensor, "points tensor")
        tr.object_roi = _labelled(tr.object_roi, "zoom: object box (threshold + bbox)")


def _labelled(fn, label):
    @functools.wraps(fn)
    def wrapped(*a, **k):
        with record_function(label):
            return fn(*a, **k)
    return wrapped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=SHARED / "ritm_reference" / "hrnet18s_itermask_ref.pth")
    ap.add_argument("--image", type=Path, default=SHARED / "datasets" / "DAVIS" / "img" / "017.jpg")
    ap.add_argument("--mask", type=Path, default=SHARED / "datasets" / "DAVIS" / "gt" / "017.png")
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pipeline", choices=("optimised", "reference-equivalent"), default="optimised")
    ap.add_argument("--ops", type=int, default=25, help="rows of the op table")
    args = ap.parse_args()
    from core_model.clicks import ClickSimulator
    from core_model.datasets import davis_mask, read_rgb
    from core_model.load_predictor import load_predictor
    torch.set_num_threads(args.threads)
    image, gt = read_rgb(args.image), davis_mask(args.mask)
    pred = load_predictor(args.checkpoint, reference=args.pipeline != "optimised")
    pred.set_image(image)
    sim, mask = ClickSimulator(gt), np.zeros(gt.shape, dtype=bool)
    for _ in range(args.clicks):       # untimed: choose the clicks, warm up
        c = sim.next(mask)
        mask = pred.add_click(c.row, c.col, c.is_positive) > pred.settings.threshold
    clicks = sim.clicks
    instrument(pred)
    pred.set_image(image)
    per_click = []
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for k, c in enumerate(clicks):
            start = time.perf_counter()
            with record_function("click (add_click)"):
                p = pred.add_click(c.row, c.col, c.is_positive)
            with record_function("threshold (mask)"):
                _ = p > pred.settings.threshold
            per_click.append(time.perf_counter() - start)
    events = prof.key_averages()
    total = sum(e.cpu_time_total for e in events if e.key == "click (add_click)")
    print(f"# {args.pipeline}: {args.checkpoint.name}, {args.image.name} {image.shape[1]}×{image.shape[0]}, "
          f"{len(clicks)} clicks, {args.threads} threads (profiler on; wall s per click: "
          + ", ".join(f"{t:.3f}" for t in per_click) + ")\n")
    print("| stage | calls | total ms | % of session |\n|---|---:|---:|---:|")
    stages = [e for e in events if e.key.startswith(("net", "transform/", "inv_transform/", "click", "points",
                                                     "zoom:", "threshold"))]
    for e in sorted(stages, key=lambda e: e.key):
        print(f"| {e.key} | {e.count} | {e.cpu_time_total / 1e3:.1f} | {100 * e.cpu_time_total / total:.1f} |")
    print("\n| op (self CPU) | calls | self ms | % of session |\n|---|---:|---:|---:|")
    ops = sorted((e for e in events if e.key.startswith(("aten::", "mkldnn::"))), key=lambda e: -e.self_cpu_time_total)
    for e in ops[:args.ops]:
        print(f"| {e.key} | {e.count} | {e.self_cpu_time_total / 1e3:.1f} | "
              f"{100 * e.self_cpu_time_total / total:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
