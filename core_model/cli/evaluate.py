"""NoC evaluation in RITM's protocol: python -m core_model.evaluate --dataset DIR [--layout davis|grabcut]

For each image, RITM's simulated user clicks (next click in the larger error region, farthest from its
boundary) until the IoU reaches 90 % (at least 5 clicks, so that the IoU after clicks 1–5 is known) or the
click budget is used.  Reports NoC@85 / NoC@90, how many images used the whole budget, the mean IoU after
clicks 1–5 and the predictor's seconds per click.  The predictor runs with the settings the checkpoint
recommends (RITM's for official checkpoints); --ritm-settings forces RITM's (zoom-in to 400 px, full size).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..noc import IOU_CURVE_CLICKS, NOC_THRESHOLDS, evaluate_sample, mean_iou_at, noc
from .common import ArgumentParser, CliError, add_brs_argument, add_model_arguments, checkpoint_path, predictor as make_predictor, \
    run, setup_engine


def summarise(all_ious, seconds: float, max_clicks: int) -> dict:
    nocs, over = noc(all_ious, NOC_THRESHOLDS, max_clicks)
    n_clicks = sum(len(x) for x in all_ious)
    return {
        "images": len(all_ious),
        "n_clicks": max_clicks,
        "noc85": nocs[0], "noc90": nocs[1],
        "over_budget85": over[0], "over_budget90": over[1],
        "mean_iou_at_click": {str(k): mean_iou_at(all_ious, k) for k in range(1, IOU_CURVE_CLICKS + 1)},
        "seconds_per_click": seconds / n_clicks if n_clicks else float("nan"),
        "total_clicks": n_clicks,
    }


def describe_settings(settings) -> str:
    """The settings that matter for NoC, in one line."""
    zoom = (f"zoom-in to {settings.zoom_target_size} px (min crop {settings.zoom_min_crop_size})"
            if settings.zoom_in else "no zoom-in")
    side = f"longest side ≤ {settings.max_longest_side} px" if settings.max_longest_side else "full size"
    return (f"{zoom}, {side}, {'flip' if settings.flip else 'no flip'}, threshold {settings.threshold}, "
            f"{settings.brs_mode}")


def format_table(res: dict) -> str:
    n = res["n_clicks"]
    lines = [f"checkpoint: {res['checkpoint']} ({res['arch']})",
             f"predictor:  {res['settings']}",
             f"dataset:    {res['dataset']} ({res['layout']} layout, {res['images']} images, budget {n} clicks)"]
    head = f"| {'NoC@85':>7} | {'NoC@90':>7} | {'>=' + str(n) + '@85':>7} | {'>=' + str(n) + '@90':>7} | {'s/click':>7} |"
    row = (f"| {res['noc85']:7.2f} | {res['noc90']:7.2f} | {res['over_budget85']:7d} | {res['over_budget90']:7d} "
           f"| {res['seconds_per_click']:7.3f} |")
    lines += ["-" * len(head), head, row, "-" * len(head)]
    ious = res["mean_iou_at_click"]
    lines.append("mean IoU after click " + ", ".join(f"{k}: {v:.3f}" for k, v in ious.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m core_model.evaluate", description=__doc__.split("\n")[0])
    add_model_arguments(parser)
    add_brs_argument(parser)
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (img/+gt/ or data_GT/+boundary_GT/)")
    parser.add_argument("--layout", choices=("davis", "grabcut"), default=None, help="default: detected from the folders")
    parser.add_argument("--n-clicks", type=int, default=20, help="click budget per image (default 20)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    parser.add_argument("--ritm-settings", action="store_true",
                        help="use RITM's predictor settings even where the checkpoint recommends others")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.n_clicks < 1:
        raise CliError(f"--n-clicks must be at least 1, not {args.n_clicks}.")
    if args.limit is not None and args.limit < 1:
        raise CliError(f"--limit must be at least 1, not {args.limit}.")

    from ..datasets import EvalDataset
    from ..predictor import PredictorSettings
    dataset = EvalDataset(args.dataset, args.layout)
    device = setup_engine(args)
    ckpt = checkpoint_path(args.checkpoint)
    predictor = make_predictor(ckpt, device, PredictorSettings() if args.ritm_settings else None, brs_mode=args.brs,
                               engine=args.engine, threads=args.threads)
    settings, model = predictor.settings, predictor.model
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    from tqdm import tqdm
    all_ious, seconds = [], 0.0
    for i in tqdm(range(n), desc="evaluating", unit="image", file=sys.stderr, dynamic_ncols=True):
        sample = dataset[i]
        ious, _, spent = evaluate_sample(predictor, sample.image, sample.gt, args.n_clicks)
        all_ious.append(ious)
        seconds += spent
    res = {"checkpoint": str(ckpt), "arch": getattr(model, "arch_name", "?"), "dataset": str(args.dataset),
           "layout": dataset.layout, "settings": describe_settings(settings), **summarise(all_ious, seconds, args.n_clicks)}
    print(json.dumps(res, indent=2) if args.json else format_table(res))
    return 0


def cli() -> None:
    run(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
