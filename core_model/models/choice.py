"""A command line's model choice: which checkpoint, with which preset and single settings.

`--checkpoint NAME` may name an installed catalogue model (its preset applies unless --preset says
otherwise); `--preset NAME|FILE` and the single settings (--zoom-in/--no-zoom-in, --zoom-target-size,
--max-longest-side, --threshold) travel with the checkpoint's path as a ChosenCheckpoint, so every command
that hands its --checkpoint to core_model.cli.common.predictor gets them without further code.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import CliError
from .entry import NAME


class ChosenCheckpoint(type(Path())):
    """A checkpoint path that also carries `preset` (complete settings or None: the checkpoint's own) and
    `flags` (single settings that win over the preset)."""
    preset: dict | None = None
    flags: dict = {}
    model_name: str | None = None


def _checked_flags(flags: dict) -> dict:
    out = {k: v for k, v in flags.items() if v is not None}
    if "zoom_target_size" in out and out["zoom_target_size"] < 16:
        raise CliError(f"--zoom-target-size must be at least 16 pixels, not {out['zoom_target_size']}.")
    if "max_longest_side" in out:
        if out["max_longest_side"] < 0:
            raise CliError(f"--max-longest-side must be 0 (full size) or a number of pixels, not {out['max_longest_side']}.")
        out["max_longest_side"] = out["max_longest_side"] or None
    if "threshold" in out and not 0.0 < out["threshold"] < 1.0:
        raise CliError(f"--threshold must lie between 0 and 1, not {out['threshold']}.")
    return out


def _installed_by_name(arg: Path):
    """(path, preset, name) of the installed catalogue model `arg` names, else None."""
    text = str(arg)
    if arg.exists() or not NAME.match(text) or arg.suffix.lower() in (".pth", ".pt"):
        return None
    from .store import ModelStore
    store = ModelStore()
    if text not in store.names():
        return None
    path = store.installed_path(text)
    if path is None:
        raise CliError(f"Model {text} is not installed; run: python -m core_model.models download {text}")
    return path, store.preset(text), text


def choose_checkpoint(checkpoint: Path | None, preset: str | None, flags: dict) -> Path | None:
    """`checkpoint` as given (or None: the default model) when nothing else was chosen, else a
    ChosenCheckpoint with the preset and the single settings."""
    from ..errors import CatalogueError
    from .presets import resolve_preset
    flags = _checked_flags(flags)
    settings, name = None, None
    if checkpoint is not None:
        found = _installed_by_name(checkpoint)
        if found is not None:
            checkpoint, settings, name = found
    if preset is not None:
        try:
            settings = resolve_preset(preset)
        except CatalogueError as exc:
            raise CliError(str(exc)) from None
    if settings is None and not flags and name is None:
        return checkpoint
    if checkpoint is None:
        from ..default_model import DEFAULT_CHECKPOINT
        checkpoint = DEFAULT_CHECKPOINT
    chosen = ChosenCheckpoint(checkpoint)
    chosen.preset, chosen.flags, chosen.model_name = settings, flags, name
    return chosen
