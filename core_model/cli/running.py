"""How every core_model command line runs (torch-free): argparse usage errors and bad input are one line
on stderr with exit code 2, never a traceback; library warnings are one line each."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from ..errors import CoreModelError

EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr (exit code 2) and runs the hooks that
    option groups register (`after_parse`, e.g. the model options turning --preset into settings)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after_parse_hooks: list[Callable[[argparse.Namespace], None]] = []

    def after_parse(self, hook: Callable[[argparse.Namespace], None]) -> None:
        self.after_parse_hooks.append(hook)

    def parse_known_args(self, args=None, namespace=None):
        namespace, rest = super().parse_known_args(args, namespace)
        for hook in self.after_parse_hooks:
            hook(namespace)
        return namespace, rest

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def one_line(text) -> str:
    return " ".join(str(text).split())


def run(main: Callable[[], int | None]) -> None:
    """Run a CLI main; bad input (CoreModelError: CliError, CheckpointError, DatasetError, …; OSError) becomes
    one line on stderr and exit code 2, never a traceback; anything else, a ValueError included, is a bug
    (one line, exit 1); library warnings are one line each after a successful run and dropped after a
    failed one."""
    from ..warning_lines import warnings_as_lines
    try:
        with warnings_as_lines():
            code = main()
    except (CoreModelError, OSError) as exc:
        sys.stderr.write(f"error: {one_line(exc)}\n")
        raise SystemExit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # a bug, not bad input: still one line, different exit code
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {one_line(exc)})\n")
        raise SystemExit(1) from None
    raise SystemExit(code or 0)
