"""python -m training.train — RITM's iterative training with mask guidance (ITER-M) for core_model.

Examples:
    python -m training.train --data ../shared/datasets/DAVIS --data "../shared/datasets/COCO_MVal_subset,val=40" \\
        --arch hrnet18s --out runs/default --threads 1 --until 10:20
    python -m training.train --data "gis:ortho.tif,avalanches.gpkg,split_field=split" \\
        --weights core_model/weights/avalanche_iseg_default.pth --out runs/finetune --epochs 10
    python -m training.train --out runs/default --resume --max-minutes 60
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core_model.openmp import passive_openmp  # noqa: E402 - torch-free

passive_openmp()   # before torch loads its OpenMP runtime, i.e. before the imports below

from core_model.errors import CoreModelError  # noqa: E402

from .trainer import RunControl, TrainConfig, Trainer, TrainingError  # noqa: E402

DATA_HELP = """training data; repeat for several. Forms:
  FOLDER[,val=N|F][,layout=ritm|grabcut|images-masks]   image/mask folder (img/+gt/ as DAVIS and COCO-MVal,
      GrabCut's data_GT/+boundary_GT/ where 128 = ignore, or images/+masks/ as Berkeley and the avalanche
      sets); val = images held out for validation by --split-seed, a count (val=40) or a fraction (val=0.1);
      default 0.
  coco:JSON,IMAGES[,val=N|F][,objects=union|instances]   a COCO-style annotation file (Scalabel's export;
      a .json first path is recognised without coco:) and its image folder; an image's objects as one
      (union, default) or one per annotation.
  gis:RASTER,POLYGONS[,split_field=NAME][,val_value=VALUE][,val=F][,negatives=F][,layer=NAME]
      a raster (GeoTIFF…, any CRS) and a polygon layer of avalanche outlines (GeoPackage/Shapefile, any
      CRS, reprojected for you); windows around each outline with random context, neighbouring outlines
      as other objects, plus `negatives` windows without avalanches per outline (default 0.25).
      Outlines with NAME = VALUE (default "val") are validation; without split_field a share val
      (default 0.15) is."""


def parse_until(text: str) -> float:
    """'HH:MM' (UTC, today — tomorrow if already past) or an ISO date-time → epoch seconds."""
    now = datetime.now(timezone.utc)
    try:
        if len(text) <= 5 and ":" in text:
            hh, mm = (int(x) for x in text.split(":"))
            when = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
            if when <= now:
                when += timedelta(days=1)
            return when.timestamp()
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    except ValueError:
        raise TrainingError(f"--until {text!r} is not a time like 10:20 (UTC) or 2026-11-25T10:20.") from None


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data=[], out="")
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", action="append", default=[], metavar="SPEC", help=DATA_HELP)
    p.add_argument("--val-data", action="append", default=[], metavar="SPEC",
                   help="a dataset used only for validation (same forms as --data)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (checkpoints, log.csv, log.png)")
    p.add_argument("--resume", action="store_true",
                   help="continue the stopped run in --out exactly where it stopped (its saved settings are used;\n"
                        "only --until/--max-minutes/--max-steps/--threads/--device/--no-progress apply, and\n"
                        "--epochs, which changes the length of the run and stretches its cosine schedule)")
    p.add_argument("--arch", choices=["hrnet18s", "hrnet18", "hrnet32"], default=d.arch,
                   help="architecture when training from scratch (default %(default)s)")
    p.add_argument("--weights", metavar="CHECKPOINT",
                   help="fine-tune from a checkpoint core_model loads (official RITM, the avalanche fork's, ours);\n"
                        "its architecture replaces --arch")
    p.add_argument("--click-scale-init", type=float, default=d.click_scale_init,
                   help="from scratch: start value of the ScaleLayer ending maps_transform (RITM: 0.05). Without\n"
                        "ImageNet weights RITM's 0.05 lets training drive the click path to zero; 1.0\n"
                        "(default) keeps the clicks carrying. Ignored with --weights.")
    p.add_argument("--crop-size", type=int, default=d.crop_size, help="square training crop in pixels (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="default %(default)s")
    p.add_argument("--epochs", type=int, default=d.epochs, help="default %(default)s")
    p.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch, help="default %(default)s")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default %(default)s)")
    p.add_argument("--backbone-lr-mult", type=float, default=d.backbone_lr_mult,
                   help="learning-rate factor of the HRNet backbone (default %(default)s, RITM's)")
    p.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio,
                   help="cosine schedule ends at lr × this (default %(default)s)")
    p.add_argument("--max-points", type=int, default=d.max_points, help="sampled clicks per sign (default %(default)s)")
    p.add_argument("--max-next-clicks", type=int, default=d.max_next_clicks,
                   help="most clicks simulated from the model's own predictions per step (default %(default)s)")
    p.add_argument("--prev-mask-drop-prob", type=float, default=d.prev_mask_drop_prob, help="default %(default)s")
    p.add_argument("--object-crop-prob", type=float, default=d.object_crop_prob,
                   help="share of samples that are zoom-in-like views: a square 1.2-2x one object's box, resized to\n"
                        "the crop (default %(default)s; RITM: 0)")
    p.add_argument("--min-object-area", type=int, default=None,
                   help="objects smaller than this in a crop are dropped (default 0.65%% of the crop)")
    p.add_argument("--val-clicks", type=int, default=d.val_clicks, help="clicks per validation image (default %(default)s)")
    p.add_argument("--val-max-images", type=int, default=d.val_max_images, help="default %(default)s")
    p.add_argument("--val-every", type=int, default=d.val_every, help="validate every N epochs (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="training randomness (default %(default)s)")
    p.add_argument("--split-seed", type=int, default=d.split_seed, help="validation split (default %(default)s)")
    p.add_argument("--save-every-minutes", type=float, default=d.save_every_minutes,
                   help="also save last_checkpoint + state this often within an epoch (default %(default)s)")
    p.add_argument("--no-epoch-checkpoints", action="store_true", help="keep only last and best checkpoints")
    p.add_argument("--until", metavar="HH:MM", help="stop (saving everything) at this UTC time or ISO date-time")
    p.add_argument("--max-minutes", type=float, help="stop (saving everything) after this many minutes")
    p.add_argument("--max-steps", type=int, help="stop (saving everything) after this many steps in this invocation")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch and OpenCV (default %(default)s)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def config_from_args(args) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values["keep_epoch_checkpoints"] = not args.no_epoch_checkpoints
    return TrainConfig(**values)


def control_from_args(args) -> RunControl:
    deadlines = []
    if args.until:
        deadlines.append(parse_until(args.until))
    if args.max_minutes is not None:
        deadlines.append(time.time() + args.max_minutes * 60)
    return RunControl(deadline=min(deadlines) if deadlines else None, max_steps=args.max_steps,
                      threads=args.threads, device=args.device, progress=not args.no_progress)


def check(cfg: TrainConfig, resume: bool) -> None:
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--out {out} is a file, not a run folder; name a folder (it is created if missing).")
    if not resume and (out / "train_state.pth").exists():
        raise TrainingError(f"{out} already holds a run; add --resume to continue it or choose another --out.")
    if not cfg.data:
        raise TrainingError("no training data: give at least one --data (see --help for the forms).")
    for name in ("crop_size", "batch_size", "epochs", "steps_per_epoch", "max_points", "val_clicks"):
        if getattr(cfg, name) < 1:
            raise TrainingError(f"--{name.replace('_', '-')} must be at least 1.")
    if cfg.crop_size % 32:
        raise TrainingError(f"--crop-size must be a multiple of 32 (HRNet's stride), not {cfg.crop_size}.")
    if cfg.weights and not Path(cfg.weights).is_file():
        raise TrainingError(f"--weights {cfg.weights} does not exist.")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.epochs_given = any(a == "--epochs" or a.startswith("--epochs=") for a in argv)
    try:
        control = control_from_args(args)
        if args.resume:
            from .run_state import read_train_state

            saved = dict(read_train_state(Path(args.out) / "train_state.pth", TrainConfig)["config"])
            saved["out"] = str(args.out)  # the run folder is where the state file is, wherever it was made
            if args.epochs_given:
                saved["epochs"] = args.epochs  # a longer or shorter run: the cosine schedule is stretched
            cfg = TrainConfig(**saved)
        else:
            cfg = config_from_args(args)
        check(cfg, args.resume)
        trainer = Trainer(cfg, control, resume=args.resume, log=lambda msg: print(msg, flush=True))
        print(f"training {trainer.model.arch_name} on {len(trainer.batches)} images/windows "
              f"({', '.join(d.name for d in trainer.train_sets)}), validating on {len(trainer.val_items)}; "
              f"device {trainer.device}, step {trainer.step} of {trainer.total_steps}", flush=True)
        trainer.run()
    except (TrainingError, CoreModelError, OSError) as exc:  # and DataError, CheckpointError (CoreModelError)
        print(f"training: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
