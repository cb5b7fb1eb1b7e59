"""How the command lines end on an error: bad input is one line and exit 2, anything else is a bug —
one line too (exit 1) unless ``--debug`` asks for the traceback."""
from __future__ import annotations

import sys

from ..engine.errors import USER_ERRORS
from .segment_options import EXIT_BAD_INPUT, EXIT_BUG


def one_line(text) -> str:
    return " ".join(str(text).split())


def bad_input_types() -> tuple:
    """The plugin's and core_model's own errors (``USER_ERRORS``) and OSError."""
    return USER_ERRORS + (OSError,)


def report_failure(exc: Exception, debug: bool) -> int:
    """Writes what went wrong to stderr; the exit code."""
    if isinstance(exc, bad_input_types()):
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return EXIT_BAD_INPUT
    if debug:
        if not getattr(exc, "traceback_printed", False):
            import traceback
            traceback.print_exc()
        return EXIT_BUG
    sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {one_line(exc)}); "
                     "rerun with --debug for details.\n")
    return EXIT_BUG
