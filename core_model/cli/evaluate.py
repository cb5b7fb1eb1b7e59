"""NoC evaluation in RITM's protocol: python -m core_model.evaluate --dataset DIR [--checkpoint PATH …]

For each sample, RITM's simulated user clicks (next click in the larger error region, farthest from its
boundary) until the IoU reaches the target (90 %; at least 5 clicks, so that the IoU after clicks 1–5 is
known) or the click budget is used.  Reports NoC@85 / NoC@90 (and any --target-iou), how many samples used
the whole budget, the mean IoU after clicks 1–5 and the predictor's seconds per click, for every checkpoint ×
evaluation mode × dataset, as the Markdown table RITM's script prints.  The predictor runs with the settings
the checkpoint recommends (RITM's for official checkpoints), or those of --eval-mode / --ritm-settings.
With --out DIR: DIR/summary.md, and DIR/ious.csv (--save-ious), DIR/iou_analysis.png (--iou-analysis),
DIR/vis/ (--vis-preds).  See docs/evaluate.md.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..evaluation.modes import describe_settings  # noqa: F401 - a public name of this module before
from ..evaluation.report import format_block as format_table
from .common import run, setup_engine
from .evaluate_options import build_parser, checkpoints, datasets, modes, run_options


def _summary_markdown(args, argv: list[str], results, table: str, files: list[str]) -> str:
    from ..evaluation.report import summarise
    lines = ["# Evaluation", "", "```", "python -m core_model.evaluate " + " ".join(argv), "```", "",
             table, "", "## Runs", ""]
    for r in results:
        res = summarise(r, args.target_iou)
        ious = ", ".join(f"{k}: {v:.3f}" for k, v in res["mean_iou_at_click"].items())
        lines.append(f"- **{r.label}** on **{r.dataset.name}** ({r.layout} layout, {len(r.ious)} samples, "
                     f"budget {r.n_clicks} clicks): `{r.checkpoint.path}` ({r.arch}); predictor: {r.settings}; "
                     f"mean IoU after click {ious}")
    if files:
        lines += ["", "## Files", "", *(f"- `{f}`" for f in files)]
    return "\n".join(lines) + "\n"


def _draw_worst(result, ds, options, out: Path, count: int, targets) -> list[Path]:
    from ..evaluation.report import worst_samples
    from ..evaluation.runs import replay
    from ..evaluation.vis import picture_writer, safe_name
    folder = out / "vis" / safe_name(f"{result.label}_{result.dataset.name}")
    written = []
    for index in worst_samples(result, count, targets):
        writer = picture_writer(folder, result.names[index])
        replay(result, ds, index, options, writer)
        written += writer.paths
    return written


def main(argv=None) -> int:
    parser = build_parser(__doc__.split("\n")[0])
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser.parse_args(argv)
    options = run_options(args)
    run_modes, ckpts, sets = modes(args), checkpoints(args), datasets(args)

    from ..datasets import EvalDataset
    from ..evaluation.report import markdown_table, summarise, write_ious_csv
    from ..evaluation.runs import run_one
    loaded = [(d, EvalDataset(d.path, args.layout, args.split)) for d in sets]   # all read before any run
    device = setup_engine(args)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    results, pictures = [], []
    several = len(ckpts) * len(sets) * len(run_modes) > 1
    for dataset, ds in loaded:
        for ckpt in ckpts:
            for mode in run_modes:
                result = run_one(ckpt, mode, dataset, ds, options, device, progress=several)
                if args.vis_preds is not None:
                    pictures += _draw_worst(result, ds, options, args.out, args.vis_preds, args.target_iou)
                result.predictor = None
                results.append(result)

    table = markdown_table(results, args.target_iou, print_ious=args.print_ious)
    files = []
    if args.out is not None:
        if args.save_ious:
            write_ious_csv(args.out / "ious.csv", results, args.target_iou)
            files.append(args.out / "ious.csv")
        if args.iou_analysis:
            from ..evaluation.plots import plot_iou_analysis
            files.append(plot_iou_analysis(results, args.out / "iou_analysis.png"))
        listed = [str(f) for f in files] + sorted({f"{p.parent}/" for p in pictures})
        (args.out / "summary.md").write_text(_summary_markdown(args, argv, results, table, listed), encoding="utf-8")
        files.insert(0, args.out / "summary.md")

    summaries = [summarise(r, args.target_iou) for r in results]
    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"runs": summaries}, indent=2))
    else:
        print("\n\n".join(format_table(s) for s in summaries))
        print()
        print(table)
        if args.out is not None:
            extra = f" and {len(pictures)} pictures in vis/" if pictures else ""
            print(f"\nwrote {', '.join(f.name for f in files)}{extra} under {args.out}")
    return 0


def cli() -> None:
    run(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
