"""The texts of the Models… dialog: a catalogue row, a model's card, the download's progress line."""
from __future__ import annotations

import html

from .model_chooser import AVALANCHE_MARK, size_text

UNPINNED = ("Unpinned: no published id is known for this file, so it is accepted only after the safe load "
            "and the architecture check.")


def row_texts(info) -> tuple[str, str, str, str, str]:
    """(model, trained on, licence, size, installed) of a core_model ModelInfo."""
    entry = info.entry
    name = (AVALANCHE_MARK if entry.avalanche else "") + info.name + (" (unpinned)" if info.unpinned else "")
    size = size_text(info.size) or (f"{entry.size_mb:g} MB" if entry.size_mb else "")
    if info.bundled:
        state = "bundled"
    elif info.installed is not None:
        state = "custom" if info.custom else "yes"
    elif info.partial_bytes:
        state = f"partial ({size_text(info.partial_bytes) or '<1 MB'})"
    else:
        state = "no"
    return name, entry.trained_on, entry.licence, size, state


def _preset_text(settings: dict) -> str:
    if not settings:
        return "RITM's evaluation setting (zoom-in to 400 px, full size, threshold 0.49)"
    words = {"zoom_in": lambda v: f"zoom-in {'on' if v else 'off'}", "threshold": lambda v: f"threshold {v:g}",
             "zoom_target_size": lambda v: f"zoom-in size {v} px",
             "max_longest_side": lambda v: "full size" if v is None else f"longest side {v} px"}
    return ", ".join(words.get(k, lambda v, k=k: f"{k.replace('_', ' ')} {v}")(v) for k, v in settings.items())


def _figures(published: dict) -> str:
    rows = []
    for dataset, values in published.items():
        if isinstance(values, dict):
            rows.append(f"{dataset}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
        else:
            rows.append(f"{values}")
    return "; ".join(rows)


def card_text(info) -> str:
    """The selected model's card as rich text: description, preset, figures, citation, unpinned."""
    entry = info.entry
    esc = html.escape
    parts = [f"<b>{esc(info.name)}</b> — {esc(entry.description)}"]
    parts.append(f"<b>Preset:</b> {esc(_preset_text(entry.settings))}")
    if entry.published:
        parts.append(f"<b>Published:</b> {esc(_figures(entry.published))}")
    if entry.citation:
        parts.append(f"<b>Cite:</b> {esc(entry.citation)}")
    if info.unpinned:
        parts.append(f"<b>{esc(UNPINNED)}</b>")
    if info.installed is not None:
        parts.append(f"<b>File:</b> {esc(str(info.installed))}")
    return "<br>".join(parts)


def progress_text(done: int, total, speed: float) -> str:
    """'12.3 of 120.0 MB · 3.4 MB/s'."""
    of = f" of {total / 1e6:.1f}" if total else ""
    return f"{done / 1e6:.1f}{of} MB · {speed / 1e6:.1f} MB/s"
