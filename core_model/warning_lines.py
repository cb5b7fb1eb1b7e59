"""Library warnings in a command line: one line each on stderr after a successful run, none after a
failed one (whose stderr is exactly its one error line).

torch, numpy and OpenCV warn with several lines (a file:line prefix and the source line), e.g. torch's
"Detected pickle protocol 5" while a refused checkpoint is read; left alone they break the one-line
contract of the command lines.  Imports nothing beyond the standard library.
"""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager

MAX_WARNING_CHARS = 300


def warning_line(w: warnings.WarningMessage) -> str:
    text = " ".join(str(w.message).split())
    if len(text) > MAX_WARNING_CHARS:
        text = text[:MAX_WARNING_CHARS - 1] + "…"
    return f"warning: {text}"


@contextmanager
def warnings_as_lines(stream=None):
    """Collect the warnings of the block; when it ends normally write each distinct one as one line to
    `stream` (default sys.stderr); when it raises, drop them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        yield caught
    stream = stream or sys.stderr
    for line in dict.fromkeys(warning_line(w) for w in caught):
        stream.write(line + "\n")
