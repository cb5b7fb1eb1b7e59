"""Where the project's shipped default model lives."""
from __future__ import annotations

from pathlib import Path

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "avalanche_iseg_default.pth"


def default_checkpoint() -> Path:
    """The default checkpoint's path; CheckpointError if it is not installed."""
    from .errors import CheckpointError
    if not DEFAULT_CHECKPOINT.is_file():
        raise CheckpointError(f"The default model {DEFAULT_CHECKPOINT} is not installed; pass --checkpoint "
                              "with a RITM-format .pth file or put the default model there.")
    return DEFAULT_CHECKPOINT
