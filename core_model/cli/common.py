"""What the core_model commands share: one-line errors with exit code 2 (core_model.cli.running), the model
options (checkpoint or catalogue model, engine, device, threads, and the predictor settings: --preset and
the single settings), the predictor (always made by core_model.load_predictor), image reading.
torch is imported only when the torch engine runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..engines import AUTO, ENGINES, ONNXRUNTIME, choose_engine
from ..errors import CliError
from .running import EXIT_BAD_INPUT, ArgumentParser, one_line as _one_line, run  # noqa: F401 - the commands' API


def add_model_arguments(parser: argparse.ArgumentParser, threads_default: int | None = None,
                        extra_engines: tuple[str, ...] = ()) -> None:
    """--checkpoint, --engine, --device, --threads and the predictor settings: --preset NAME|FILE (a
    catalogue model's recommended settings, or a JSON file) and the single settings, which win over the
    preset."""
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="RITM-format model checkpoint (.pth) or the name of an installed catalogue model "
                             "(python -m core_model.models list; its preset applies); default: the shipped "
                             "default model")
    parser.add_argument("--engine", default=AUTO, choices=(AUTO, *ENGINES, *extra_engines),
                        help="what runs the network: torch, onnxruntime (CPU, no torch needed) or auto "
                        "(torch when installed, else onnxruntime; default)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the network runs")
    parser.add_argument("--threads", type=int, default=threads_default,
                        help="CPU threads of the engine (default: its own choice)" if threads_default is None
                        else f"CPU threads of the engine (default {threads_default})")
    group = add_predictor_setting_arguments(parser)
    group.add_argument("--threshold", type=float, default=None, metavar="T", help="probability threshold of the mask")
    if hasattr(parser, "after_parse"):
        parser.after_parse(choose_model)


def add_predictor_setting_arguments(parser: argparse.ArgumentParser):
    """--preset and the single settings (zoom-in, its crop size, the longest side), for core_model's and the
    plugin's command lines alike; returns their argument group."""
    group = parser.add_argument_group("predictor settings (default: those the checkpoint recommends)")
    group.add_argument("--preset", default=None, metavar="NAME|FILE",
                       help="the settings of catalogue model NAME (e.g. aval_slf: no zoom-in, threshold 0.5, "
                            "longest side 800) or of a JSON file; settings it leaves out are RITM's defaults")
    group.add_argument("--zoom-in", action=argparse.BooleanOptionalAction, default=None,
                       help="RITM's zoom-in on the object from the second click on")
    group.add_argument("--zoom-target-size", type=int, default=None, metavar="PX", help="zoom-in crop size")
    group.add_argument("--max-longest-side", type=int, default=None, metavar="PX",
                       help="limit the model image's longest side (0: full size)")
    return group


def choose_model(args: argparse.Namespace) -> None:
    """After parsing: a catalogue name in --checkpoint becomes the installed file (with its preset), and
    --preset and the single settings ride on args.checkpoint to `predictor` (core_model.models.choice)."""
    from ..models.choice import choose_checkpoint
    if isinstance(args.checkpoint, list):   # evaluate's repeatable --checkpoint: it applies them itself
        return
    flags = {"zoom_in": args.zoom_in, "zoom_target_size": args.zoom_target_size,
             "max_longest_side": args.max_longest_side, "threshold": args.threshold}
    args.checkpoint = choose_checkpoint(args.checkpoint, args.preset, flags)


def setup_engine(args: argparse.Namespace):
    """Resolve args.engine ('auto' → torch or onnxruntime, in place) and prepare it (threads, device);
    returns the device."""
    if args.threads is not None and args.threads < 1:
        raise CliError(f"--threads must be at least 1, not {args.threads}.")
    args.engine = choose_engine(args.engine) if args.engine in (AUTO, *ENGINES) else args.engine
    if args.engine.startswith(ONNXRUNTIME):
        if args.device != "cpu":
            raise CliError("The ONNX Runtime engine runs on the CPU here; use --device cpu or --engine torch.")
        return "cpu"
    return setup_torch(args.device, args.threads)


def add_brs_argument(parser: argparse.ArgumentParser) -> None:
    from ..brs_modes import BRS_MODES, NO_BRS
    parser.add_argument("--brs", default=NO_BRS, choices=BRS_MODES, metavar="MODE",
                        help="refinement mode (RITM's back-propagating refinement): " + ", ".join(BRS_MODES)
                        + f" (default {NO_BRS})")


def setup_torch(device: str, threads: int | None):
    import torch
    if threads is not None:
        if threads < 1:
            raise CliError(f"--threads must be at least 1, not {threads}.")
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise CliError("CUDA was requested but no CUDA GPU is available here; use --device cpu.")
    return torch.device(device)


def checkpoint_path(arg: Path | None) -> Path:
    from ..default_model import default_checkpoint
    return default_checkpoint() if arg is None else arg


def predictor(arg: Path | None, device, settings=None, *, reference: bool = False, brs_mode: str = "NoBRS",
              fuse: bool = True, engine: str | None = None, threads: int | None = None, int8_calibration=None):
    """The predictor of checkpoint `arg` (default: the shipped model), made by core_model.load_predictor on
    `engine`; `brs_mode` replaces the refinement mode of `settings` (or of the checkpoint's recommended ones).
    When `arg` carries a preset and single settings (a ChosenCheckpoint from --preset and friends): the
    preset replaces the checkpoint's recommendation (not an explicit `settings`), the single settings
    replace both."""
    import dataclasses

    from ..load_predictor import load_predictor
    from ..predictor import PredictorSettings
    common = dict(device=device, reference=reference, fuse=fuse, engine=engine, threads=threads,
                  int8_calibration=int8_calibration)
    preset, flags = getattr(arg, "preset", None), dict(getattr(arg, "flags", None) or {})
    if settings is None and preset is not None:
        settings = PredictorSettings(**preset)
    if settings is not None:
        settings = dataclasses.replace(settings, **flags)
        return load_predictor(checkpoint_path(arg), settings=dataclasses.replace(settings, brs_mode=brs_mode), **common)
    return load_predictor(checkpoint_path(arg), brs_mode=brs_mode, **flags, **common)


def read_image(path: Path):
    """H×W×3 uint8 RGB; CliError with one sentence when missing or unreadable."""
    from ..datasets import DatasetError, read_rgb
    try:
        return read_rgb(path)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
