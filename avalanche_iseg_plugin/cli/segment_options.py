"""Options of the headless segmenter (``python -m avalanche_iseg_plugin.segment``): the parser, its
help (the clicks file format) and the checks made before anything heavy starts.  ``InputError``: bad
input to the tool, one sentence."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..engine.errors import AvalancheError
from core_model.brs_modes import BRS_MODES

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_SKIPPED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143
PROG = "python -m avalanche_iseg_plugin.segment"

CLICKS_HELP = """\
CLICKS.json holds the clicks of one object, or a list of objects (each a list of clicks):
  one object:   [{"x": 2600195.2, "y": 1199850.0, "positive": true},
                 {"x": 2600230.0, "y": 1199790.5, "positive": false}]
  two objects:  [[{"x": 2600195.2, "y": 1199850.0}],
                 [{"row": 120, "col": 610}, {"row": 150, "col": 640, "positive": false}]]
A click is {"x": X, "y": Y} in the raster's CRS (map units; for a photo without georeference QGIS's
pixel units: x = column, y = -row) or {"row": R, "col": C}: integer pixel indices of the raster
(row 0 = top), clicked at the pixel's centre. "positive": true (default) = on the avalanche,
false = not the avalanche. Clicks are applied in order; each object needs a positive click.

Each object becomes one feature of the layer (id, area_m2, perimeter_m, source, n_pos, n_neg, model,
threshold, created_utc, method=interactive; with --dem also its terrain). All objects are segmented before anything is written.
Exit codes: 0 done, 2 bad input (one line on stderr), 3 some objects skipped (--keep-going),
1 unexpected failure, 130 interrupted (Ctrl+C), 143 terminated (SIGTERM); an interrupted run
removes a GeoPackage it created but had not written to yet.
Example:
  python scripts/make_sample.py /tmp/ava
  python -m avalanche_iseg_plugin.segment --raster /tmp/ava/ortho.tif --clicks /tmp/ava/clicks.json \\
      --out /tmp/ava/avalanches.gpkg"""


class InputError(AvalancheError):
    """Bad input to the tool; the message is one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse API: one line, exit 2
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Segment avalanches from clicks on an orthoimage or photo into a "
                "GeoPackage, with the bundled interactive-segmentation model (no display needed).",
                epilog=CLICKS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raster", required=True, type=Path, metavar="RASTER", help="orthoimage (GeoTIFF, any GDAL raster) or photo")
    p.add_argument("--clicks", required=True, type=Path, metavar="CLICKS.json", help="clicks file (JSON, see below)")
    p.add_argument("--out", required=True, type=Path, metavar="AVALANCHES.gpkg",
                   help="avalanche GeoPackage (.gpkg); created if missing, appended to otherwise")
    add_model_choice_arguments(p)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the model runs (default cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--brs", choices=BRS_MODES, default="NoBRS", metavar="MODE",
                   help="refinement mode (RITM's back-propagating refinement; slower per click): "
                        + ", ".join(BRS_MODES) + " (default NoBRS)")
    p.add_argument("--max-side", type=int, default=1600, metavar="PX",
                   help="longest side of the image the model sees; larger windows are downsampled (default 1600)")
    p.add_argument("--min-area", type=float, default=None, metavar="A",
                   help="drop parts and fill holes smaller than this, in map units² (default: 4 model-image pixels)")
    p.add_argument("--simplify", type=float, default=0.0, metavar="TOL",
                   help="simplification tolerance in map units (default 0: exact pixel outline)")
    p.add_argument("--dem", type=Path, default=None, metavar="DEM",
                   help="elevation model (any GDAL raster, any CRS): adds elev_min_m, elev_max_m, slope_mean_deg, "
                        "aspect_deg and area_3d_m2 to each avalanche (empty, with a warning, where it leaves the DEM)")
    p.add_argument("--layer-name", default="avalanches", metavar="NAME", help="layer inside the GeoPackage (default avalanches)")
    p.add_argument("--keep-going", action="store_true",
                   help="skip objects that fail (warning on stderr, exit code 3) and write the others")
    p.add_argument("--debug", action="store_true", help="show tracebacks of unexpected failures")
    return p


def add_model_choice_arguments(p) -> None:
    """--checkpoint NAME|FILE, --threshold, --preset and the single predictor settings (segment and
    webcam project; resolved by core_model, see engine.model_choice)."""
    p.add_argument("--checkpoint", type=Path, default=None, metavar="CKPT",
                   help="RITM-format model checkpoint (.pth) or the name of an installed catalogue model "
                        "(python -m core_model.models list; its preset applies); default: the shipped default "
                        "model core_model/weights/avalanche_iseg_default.pth")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="probability above which a pixel is avalanche (default: the preset's, else 0.49)")
    p.add_argument("--engine", choices=("auto", "onnxruntime", "torch"), default="auto",
                   help="what runs the network: auto (PyTorch where installed, else ONNX Runtime; default), "
                        "onnxruntime (CPU, no PyTorch needed) or torch (refinement modes, CUDA)")
    from core_model.cli.common import add_predictor_setting_arguments

    add_predictor_setting_arguments(p)


def model_choice(args):
    """The model, preset and settings of the options (engine.model_choice.ModelChoice); sets
    args.threshold to the one that applies.  InputError with one sentence for a bad choice."""
    from core_model.errors import CoreModelError

    from ..engine.model_choice import choose_on_command_line
    flags = {"zoom_in": args.zoom_in, "zoom_target_size": args.zoom_target_size,
             "max_longest_side": args.max_longest_side, "threshold": args.threshold}
    try:
        choice = choose_on_command_line(args.checkpoint, args.preset, flags)
    except CoreModelError as exc:
        raise InputError(str(exc)) from None
    args.threshold = choice.threshold
    return choice


# -- checks before anything heavy starts ---------------------------------------------------------------
def check_options(args) -> None:
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise InputError(f"--threshold must be between 0 and 1 (exclusive), not {args.threshold:g}.")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64 pixels, not {args.max_side}.")
    if args.min_area is not None and args.min_area < 0:
        raise InputError(f"--min-area cannot be negative ({args.min_area:g}).")
    if args.simplify < 0:
        raise InputError(f"--simplify cannot be negative ({args.simplify:g}).")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be at least 1, not {args.threads}.")
    if not args.layer_name.strip():
        raise InputError("--layer-name cannot be empty.")
    if getattr(args, "dem", None) is not None:
        from ..engine.gdal_open import open_quietly

        readable = args.dem.is_file() and open_quietly(args.dem)[0] is not None
        if not readable:
            raise InputError(f"The DEM '{args.dem}' {'cannot be read as a raster' if args.dem.is_file() else 'does not exist'}"
                             "; pass --dem with an elevation GeoTIFF (or any GDAL raster).")


def check_output(path: Path) -> Path:
    """The output GeoPackage path, absolute; InputError when it cannot be written."""
    path = Path(os.path.abspath(path))
    if path.suffix.lower() != ".gpkg":
        raise InputError(f"The output must be a GeoPackage: give a file name ending in .gpkg, not '{path.name}'.")
    if path.is_dir():
        raise InputError(f"The output '{path}' is a folder; give a .gpkg file name.")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"Cannot write '{path}': the folder '{folder}' does not exist.")
    if path.exists():
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise InputError(f"The output '{path}' exists and is not a GeoPackage; choose another file name.")
        if not os.access(path, os.W_OK):
            raise InputError(f"The output '{path}' is read-only; choose a file you can write to.")
    else:  # try it: permissions alone say nothing for root, read-only file systems, /proc, ...
        try:
            with open(path, "xb"):
                pass
            path.unlink()
        except OSError as exc:
            raise InputError(f"Cannot write '{path}' ({exc.strerror or exc}); choose a folder you can write to.") \
                from None
    return path


def resolve_checkpoint(arg: Path | None) -> Path:
    if arg is None:
        from core_model.default_model import default_checkpoint
        return default_checkpoint()  # CheckpointError (one sentence) when it is not installed
    if not arg.is_file():
        what = "is a folder" if arg.is_dir() else "does not exist"
        raise InputError(f"The checkpoint '{arg}' {what}; pass --checkpoint with a RITM-format .pth file "
                         "or leave it out to use the default model.")
    return arg


def check_device(device: str, threads: int | None) -> str:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu.")
    return device
