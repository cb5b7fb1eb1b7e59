"""Evaluation modes: which predictor settings a run uses.

- `recommended` (no --eval-mode): the settings the checkpoint recommends (RITM's for official ones);
- `ritm` (--ritm-settings): RITM's defaults whatever the checkpoint recommends;
  (both may also be named in --eval-mode, to compare them with the modes below in one table)
- `cvpr`: RITM's paper protocol — zoom-in with crops resized to 400 px on their longest side, 600 px on
  DAVIS (a dataset folder named DAVIS), from the second click on;
- `fixedN` (e.g. fixed400): zoom-in from the first click (the whole image is the first crop) and every
  crop resized to exactly N×N pixels (RITM's skip_clicks=-1, target size (N, N)).
Then the run's overrides (zoom-in on/off, --thresh, --clicks-limit, --brs) change the mode's settings.
"""
from __future__ import annotations

import dataclasses
import re

from ..errors import CliError

RECOMMENDED, RITM, CVPR = "recommended", "ritm", "cvpr"
CVPR_TARGET, CVPR_DAVIS_TARGET = 400, 600
_FIXED = re.compile(r"^fixed(\d+)$")
MIN_FIXED, MAX_FIXED = 32, 4096


def check_mode(mode: str) -> str:
    """`mode` if it is recommended, ritm, cvpr or fixedN with a sensible N; else a CliError of one sentence."""
    if mode in (RECOMMENDED, RITM, CVPR):
        return mode
    m = _FIXED.match(mode)
    if m is None:
        raise CliError(f"--eval-mode {mode!r} is not an evaluation mode; use cvpr, fixedN (e.g. fixed400), "
                       "recommended or ritm.")
    n = int(m.group(1))
    if not MIN_FIXED <= n <= MAX_FIXED:
        raise CliError(f"--eval-mode {mode}: the crop size must be {MIN_FIXED} to {MAX_FIXED} pixels, not {n}.")
    return mode


def mode_values(mode: str, dataset_name: str = "") -> dict:
    """The PredictorSettings fields a mode sets on top of RITM's defaults (empty for recommended / ritm)."""
    if mode in (RECOMMENDED, RITM):
        return {}
    if mode == CVPR:
        return {"zoom_in": True, "zoom_skip_clicks": 1,
                "zoom_target_size": CVPR_DAVIS_TARGET if dataset_name.lower() == "davis" else CVPR_TARGET}
    n = int(check_mode(mode)[5:])
    return {"zoom_in": True, "zoom_skip_clicks": -1, "zoom_target_size": (n, n)}


def run_settings(mode: str, dataset_name: str, overrides: dict, recommended=None):
    """The PredictorSettings of a run: `recommended` (the checkpoint's) for the recommended mode, else RITM's
    defaults with the mode's values; then `overrides` (None values are left out)."""
    from ..predictor import PredictorSettings
    base = recommended if mode == RECOMMENDED and recommended is not None else PredictorSettings()
    changes = {**mode_values(mode, dataset_name), **{k: v for k, v in overrides.items() if v is not None}}
    return dataclasses.replace(base, **changes)


def describe_settings(settings) -> str:
    """The settings that matter for NoC, in one line."""
    size = settings.zoom_target_size
    target = f"{size[1]}×{size[0]} px" if isinstance(size, (tuple, list)) else f"{size} px"
    first = ", from the first click" if settings.zoom_skip_clicks < 0 else ""
    zoom = (f"zoom-in to {target} (min crop {settings.zoom_min_crop_size}{first})" if settings.zoom_in
            else "no zoom-in")
    side = f"longest side ≤ {settings.max_longest_side} px" if settings.max_longest_side else "full size"
    return (f"{zoom}, {side}, {'flip' if settings.flip else 'no flip'}, threshold {settings.threshold}, "
            f"{settings.brs_mode}")
