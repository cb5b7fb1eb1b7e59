"""What the core_model commands share: one-line errors with exit code 2, the model options, the predictor
(always made by core_model.load_predictor), image reading."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import torch

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
    except (CoreModelError, OSError) as exc:   # CliError, CheckpointError, DatasetError
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, not bad input: still one line, different exit code
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {_one_line(exc)})\n")
        raise SystemExit(1) from None
    raise SystemExit(code or 0)


def add_model_arguments(parser: argparse.ArgumentParser, threads_default: int | None = None) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="RITM-format model checkpoint (.pth); default: the shipped default model")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the network runs")
    parser.add_argument("--threads", type=int, default=threads_default,
                        help="torch CPU threads (default: torch's choice)" if threads_default is None
                        else f"torch CPU threads (default {threads_default})")


def add_brs_argument(parser: argparse.ArgumentParser) -> None:
    from ..brs import BRS_MODES, NO_BRS
    parser.add_argument("--brs", default=NO_BRS, choices=BRS_MODES, metavar="MODE",
                        help="refinement mode (RITM's back-propagating refinement): " + ", ".join(BRS_MODES)
                        + f" (default {NO_BRS})")


def setup_torch(device: str, threads: int | None) -> torch.device:
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
              fuse: bool = True):
    """The predictor of checkpoint `arg` (default: the shipped model), made by core_model.load_predictor;
    `brs_mode` replaces the refinement mode of `settings` (or of the checkpoint's recommended ones)."""
    import dataclasses

    from ..load_predictor import load_predictor
    if settings is not None:
        return load_predictor(checkpoint_path(arg), device=device, reference=reference, fuse=fuse,
                              settings=dataclasses.replace(settings, brs_mode=brs_mode))
    return load_predictor(checkpoint_path(arg), device=device, reference=reference, fuse=fuse, brs_mode=brs_mode)


def read_image(path: Path):
    """H×W×3 uint8 RGB; CliError with one sentence when missing or unreadable."""
    from ..datasets import DatasetError, read_rgb
    try:
        return read_rgb(path)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
