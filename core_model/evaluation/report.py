"""What a run reports: NoC per target IoU, the flat JSON object, the text block, the Markdown table RITM's
evaluation script prints (one row per checkpoint × mode × dataset) and the per-sample IoU CSV."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..noc import IOU_CURVE_CLICKS, NOC_THRESHOLDS, clicks_to_reach, mean_iou_at, noc
from .runs import RunResult

PRINT_IOU_CLICKS = (1, 2, 3, 5, 10, 20)     # RITM's --print-ious columns (mIoU@k)


def percent(t: float) -> str:
    """0.85 → '85', 0.875 → '87.5'."""
    return f"{t * 100:g}"


def table_targets(targets) -> list[float]:
    """NoC@85 and NoC@90 always (RITM's table), and every other target asked for."""
    return sorted({*NOC_THRESHOLDS, *(round(float(t), 4) for t in targets)})


def summarise(result: RunResult, targets=NOC_THRESHOLDS) -> dict:
    """The flat object of one run (the keys `--json` has always had, plus NoC per target)."""
    all_ious, n = result.ious, result.n_clicks
    nocs, over = noc(all_ious, NOC_THRESHOLDS, n)
    all_t = table_targets(targets)
    nocs_t, over_t = noc(all_ious, all_t, n)
    return {
        "checkpoint": str(result.checkpoint.path), "name": result.checkpoint.name, "arch": result.arch,
        "mode": result.mode, "dataset": str(result.dataset.path), "dataset_name": result.dataset.name,
        "layout": result.layout, "settings": result.settings,
        "images": len(all_ious), "n_clicks": n,
        "noc85": nocs[0], "noc90": nocs[1], "over_budget85": over[0], "over_budget90": over[1],
        "noc_at": {percent(t): v for t, v in zip(all_t, nocs_t)},
        "over_budget_at": {percent(t): v for t, v in zip(all_t, over_t)},
        "mean_iou_at_click": {str(k): mean_iou_at(all_ious, k) for k in range(1, IOU_CURVE_CLICKS + 1)},
        "seconds_per_click": result.seconds_per_click,
        "total_clicks": result.total_clicks,
        "seconds": result.wall_seconds,
    }


def format_block(res: dict) -> str:
    """The run's description and mean IoU after clicks 1–5 (as the command has always printed them)."""
    n = res["n_clicks"]
    lines = [f"checkpoint: {res['checkpoint']} ({res['arch']})",
             f"predictor:  {res['settings']}",
             f"dataset:    {res['dataset']} ({res['layout']} layout, {res['images']} images, budget {n} clicks)"]
    ious = res["mean_iou_at_click"]
    lines.append("mean IoU after click " + ", ".join(f"{k}: {v:.3f}" for k, v in ious.items()))
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def miou_columns(n_clicks: int) -> list[int]:
    return [k for k in PRINT_IOU_CLICKS if k <= n_clicks]


def markdown_table(results: list[RunResult], targets=NOC_THRESHOLDS, print_ious: bool = False) -> str:
    """RITM's results table in Markdown: NoC per target, samples that used the whole budget at 85 / 90 %
    (and any other target), seconds per click, the run's time; with `print_ious` mIoU@1,2,3,5,10,20."""
    all_t = table_targets(targets)
    n_set = sorted({r.n_clicks for r in results})
    budget = str(n_set[0]) if len(n_set) == 1 else "N"
    head = ["Model", "Mode", "Dataset", "Samples", *(f"NoC@{percent(t)}" for t in all_t),
            *(f"≥{budget}@{percent(t)}" for t in all_t), "SPC, s", "Time"]
    mious = miou_columns(max(n_set)) if print_ious else []
    head += [f"mIoU@{k}" for k in mious]
    rows = []
    for r in results:
        nocs, over = noc(r.ious, all_t, r.n_clicks)
        row = [r.checkpoint.name, r.mode, r.dataset.name, str(len(r.ious)), *(f"{v:.2f}" for v in nocs),
               *(str(v) for v in over), f"{r.seconds_per_click:.3f}", _clock(r.wall_seconds)]
        row += [f"{mean_iou_at(r.ious, k):.2%}" if k <= r.n_clicks else "" for k in mious]
        rows.append(row)
    align = ["---"] * 3 + ["---:"] * (len(head) - 3)
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [head, align, *rows])


def write_ious_csv(path: Path, results: list[RunResult], targets=NOC_THRESHOLDS) -> int:
    """One row per sample of every run: who, how many clicks, NoC per target, IoU after each click (empty
    after the session stopped). Returns the number of rows written."""
    all_t = table_targets(targets)
    width = max(r.n_clicks for r in results)
    head = ["model", "mode", "dataset", "sample", "clicks", *(f"noc{percent(t)}" for t in all_t),
            *(f"iou_{k}" for k in range(1, width + 1))]
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        for r in results:
            for name, ious in zip(r.names, r.ious):
                values = [f"{v:.6f}" for v in ious] + [""] * (width - len(ious))
                writer.writerow([r.checkpoint.name, r.mode, r.dataset.name, name, len(ious),
                                 *(clicks_to_reach(ious, t, r.n_clicks) for t in all_t), *values])
                rows += 1
    return rows


def worst_samples(result: RunResult, count: int, targets=NOC_THRESHOLDS) -> list[int]:
    """Indices of the `count` worst samples: most clicks to the highest target, then lowest final IoU."""
    top = max(table_targets(targets))
    keys = [(-clicks_to_reach(x, top, result.n_clicks), float(x[-1]) if len(x) else math.nan)
            for x in result.ious]
    order = sorted(range(len(keys)), key=lambda i: (keys[i][0], keys[i][1], i))
    return order[:count]


def mean_curve(result: RunResult) -> np.ndarray:
    """Mean IoU after clicks 1…n (a session that stopped early keeps its last IoU)."""
    return np.array([mean_iou_at(result.ious, k) for k in range(1, result.n_clicks + 1)])
