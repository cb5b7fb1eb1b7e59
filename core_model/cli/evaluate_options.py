"""The options of python -m core_model.evaluate (RITM's evaluate_model.py and the avalanche fork's), read
into the runs to make: checkpoints × modes × datasets, and the files to write."""
from __future__ import annotations

from pathlib import Path

from ..datasets import EVAL_LAYOUT_ALIASES, EVAL_LAYOUTS
from ..evaluation.modes import RECOMMENDED, RITM, check_mode
from ..evaluation.runs import Named, RunOptions
from .common import ArgumentParser, CliError, add_brs_argument, add_model_arguments

DEFAULT_VIS = 5


def build_parser(description: str) -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core_model.evaluate", description=description, conflict_handler="resolve")
    add_model_arguments(parser)
    add_brs_argument(parser)
    parser.add_argument("--checkpoint", action="append", default=[], metavar="[NAME=]PATH",
                        help="RITM-format checkpoint (.pth), repeatable: several are compared in one table; "
                             "NAME= names its rows (default: the file name; no --checkpoint: the shipped model)")
    parser.add_argument("--dataset", action="append", required=True, metavar="[NAME=]DIR",
                        help="dataset folder, repeatable (img/+gt/, data_GT/+boundary_GT/, images/+masks/, "
                             "img/+inst/ (SBD), JPEGImages/+SegmentationObject/ (VOC))")
    parser.add_argument("--layout", choices=(*EVAL_LAYOUTS, *EVAL_LAYOUT_ALIASES), default=None,
                        help="default: detected from each dataset's folders")
    parser.add_argument("--split", default=None, help="image-set list of SBD / VOC (default val)")
    parser.add_argument("--n-clicks", type=int, default=20, help="click budget per sample (default 20)")
    parser.add_argument("--min-n-clicks", type=int, default=5,
                        help="clicks made even when the target IoU is reached earlier (default 5: the IoU after "
                             "clicks 1–5 is always measured; RITM's script uses 1)")
    parser.add_argument("--target-iou", type=float, nargs="+", default=[0.90], metavar="IOU",
                        help="target IoU(s): NoC is reported for each (and always for 0.85 and 0.90); a session "
                             "stops at the highest (default 0.90)")
    parser.add_argument("--thresh", type=float, default=None,
                        help="the seed's name for --threshold: probability threshold of the mask (default: the "
                             "mode's; RITM 0.49)")
    parser.add_argument("--clicks-limit", type=int, default=None,
                        help="clicks the network sees at most (RITM's net_clicks_limit; -1: the click budget)")
    parser.add_argument("--eval-mode", nargs="+", default=None, metavar="MODE",
                        help="cvpr (RITM's protocol: zoom-in to 400 px, 600 on DAVIS) or fixedN (every crop "
                             "resized to N×N, from the first click), recommended (the checkpoint's own "
                             "settings, the default) or ritm (as --ritm-settings); several are compared")
    parser.add_argument("--ritm-settings", action="store_true",
                        help="use RITM's predictor settings even where the checkpoint recommends others")
    parser.add_argument("--resize", type=int, nargs=2, default=None, metavar=("W", "H"),
                        help="resize images larger than W×H to W×H before the session (the avalanche fork's)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples of each dataset")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the run's files: summary.md, and ious.csv, iou_analysis.png, vis/")
    parser.add_argument("--save-ious", action="store_true",
                        help="write OUT/ious.csv: one row per sample, IoU after each click, NoC per target")
    parser.add_argument("--print-ious", action="store_true",
                        help="add mean IoU after clicks 1, 2, 3, 5, 10, 20 to the table (sessions use every click)")
    parser.add_argument("--iou-analysis", action="store_true",
                        help="write OUT/iou_analysis.png: mean IoU against clicks (sessions use every click)")
    parser.add_argument("--vis-preds", type=int, nargs="?", const=DEFAULT_VIS, default=None, metavar="N",
                        help=f"write OUT/vis/: a picture per click of the N worst samples of each run "
                             f"(default {DEFAULT_VIS})")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON (one run: a flat object; several: {\"runs\": [...]})")
    return parser


def named(text: str, default_name: str | None = None) -> Named:
    """NAME=PATH, or PATH named by its file or folder name (a path that exists is never split)."""
    if "=" in text and not Path(text).exists():
        name, path = text.split("=", 1)
        if not name.strip() or not path.strip():
            raise CliError(f"{text!r} is not of the form NAME=PATH.")
        return Named(name.strip(), Path(path.strip()))
    path = Path(text)
    return Named(default_name or path.stem or path.name, path)


def unique_names(items: list[Named]) -> list[Named]:
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item.name] = seen.get(item.name, 0) + 1
        out.append(item if seen[item.name] == 1 else Named(f"{item.name}-{seen[item.name]}", item.path))
    return out


def checkpoints(args) -> list[Named]:
    if not args.checkpoint:
        from ..default_model import default_checkpoint
        return [Named("default", default_checkpoint())]
    return unique_names([named(t) for t in args.checkpoint])


def datasets(args) -> list[Named]:
    return unique_names([named(t, None) for t in args.dataset])


def modes(args) -> list[str]:
    if args.eval_mode and args.ritm_settings:
        raise CliError("--ritm-settings and --eval-mode both choose the predictor settings; pass one of them.")
    if args.eval_mode:
        return list(dict.fromkeys(check_mode(m) for m in args.eval_mode))
    return [RITM if args.ritm_settings else RECOMMENDED]


def run_options(args) -> RunOptions:
    if args.n_clicks < 1:
        raise CliError(f"--n-clicks must be at least 1, not {args.n_clicks}.")
    if args.min_n_clicks < 1:
        raise CliError(f"--min-n-clicks must be at least 1, not {args.min_n_clicks}.")
    if args.limit is not None and args.limit < 1:
        raise CliError(f"--limit must be at least 1, not {args.limit}.")
    for t in args.target_iou:
        if not 0.0 < t <= 1.0:
            raise CliError(f"--target-iou must be above 0 and at most 1, not {t}.")
    if args.thresh is not None and not 0.0 < args.thresh < 1.0:
        raise CliError(f"--thresh must be between 0 and 1, not {args.thresh}.")
    limit = args.clicks_limit
    if limit is not None:
        if limit == -1:
            limit = args.n_clicks
        elif limit < 1:
            raise CliError(f"--clicks-limit must be at least 1 (or -1 for the click budget), not {limit}.")
    if args.resize is not None and min(args.resize) < 1:
        raise CliError(f"--resize needs a width and a height of at least 1 pixel, "
                       f"not {args.resize[0]} {args.resize[1]}.")
    if args.vis_preds is not None and args.vis_preds < 1:
        raise CliError(f"--vis-preds must be at least 1, not {args.vis_preds}.")
    for flag, value in (("--save-ious", args.save_ious), ("--iou-analysis", args.iou_analysis),
                        ("--vis-preds", args.vis_preds is not None)):
        if value and args.out is None:
            raise CliError(f"{flag} writes its file into the run's folder; pass --out DIR as well.")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out {args.out} is a file; pass a folder.")
    preset = {}
    if args.preset is not None:
        from ..errors import CatalogueError
        from ..models.presets import resolve_preset
        try:
            preset = resolve_preset(args.preset)
        except CatalogueError as exc:
            raise CliError(str(exc)) from None
    singles = {"threshold": args.thresh if args.thresh is not None else args.threshold,
               "zoom_in": args.zoom_in, "zoom_target_size": args.zoom_target_size,
               "max_longest_side": args.max_longest_side,     # 0: full size
               "net_clicks_limit": limit, "brs_mode": args.brs}
    overrides = {**preset, **{k: v for k, v in singles.items() if v is not None}}
    return RunOptions(n_clicks=args.n_clicks, min_clicks=args.min_n_clicks,
                      targets=tuple(sorted(set(args.target_iou))),
                      full_sessions=args.print_ious or args.iou_analysis,
                      resize=tuple(args.resize) if args.resize else None, overrides=overrides, limit=args.limit,
                      preset=args.preset, engine=args.engine, threads=args.threads)
