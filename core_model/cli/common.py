"""What the core_model commands share: one-line errors with exit code 2, the model options (checkpoint,
engine, device, threads), the predictor (always made by core_model.load_predictor), image reading.
torch is imported only when the torch engine runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..engines import AUTO, ENGINES, ONNXRUNTIME, choose_engine
from ..errors import CliError, CoreModelError

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr (exit code 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(main: Callable[[], int | None]) -> None:
    """Run a CLI main; bad input becomes one line on stderr and exit code 2, never a traceback; library
    warnings are one line each after a successful run and dropped after a failed one."""
    from ..warning_lines import warnings_as_lines
    try:
        with warnings_as_lines():
            code = main()
    except (CoreModelError, ValueError, OSError) as exc:
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, not bad input: still one line, different exit code
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {_one_line(exc)})\n")
        raise SystemExit(1) from None
    raise SystemExit(code or 0)


def add_model_arguments(parser: argparse.ArgumentParser, threads_default: int | None = None,
                        extra_engines: tuple[str, ...] = ()) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="RITM-format model checkpoint (.pth); default: the shipped default model")
    parser.add_argument("--engine", default=AUTO, choices=(AUTO, *ENGINES, *extra_engines),
                        help="what runs the network: torch, onnxruntime (CPU, no torch needed) or auto "
                        "(torch when installed, else onnxruntime; default)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the network runs")
    parser.add_argument("--threads", type=int, default=threads_default,
                        help="CPU threads of the engine (default: its own choice)" if threads_default is None
                        else f"CPU threads of the engine (default {threads_default})")


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
    `engine`; `brs_mode` replaces the refinement mode of `settings` (or of the checkpoint's recommended ones)."""
    import dataclasses

    from ..load_predictor import load_predictor
    common = dict(device=device, reference=reference, fuse=fuse, engine=engine, threads=threads,
                  int8_calibration=int8_calibration)
    if settings is not None:
        return load_predictor(checkpoint_path(arg), settings=dataclasses.replace(settings, brs_mode=brs_mode), **common)
    return load_predictor(checkpoint_path(arg), brs_mode=brs_mode, **common)


def read_image(path: Path):
    """H×W×3 uint8 RGB; CliError with one sentence when missing or unreadable."""
    from ..datasets import DatasetError, read_rgb
    try:
        return read_rgb(path)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
