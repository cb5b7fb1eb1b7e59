"""Which model a batch front end (Processing, `segment`, `webcam project`) runs, with which settings.

The parts come from core_model (one definition): an installed catalogue model's file and preset
(core_model.models.ModelStore), a `--preset NAME|FILE` (core_model.models.presets.resolve_preset, or
core_model.models.choice.choose_checkpoint on a command line) and the single settings, which win.
A preset is complete (what it leaves out is RITM's default); single settings without a preset change
the checkpoint's own recommendation.  `ModelChoice.factory_kwargs()` is what make_predictor takes beyond
(checkpoint, device, threshold): nothing when nothing was chosen, so three-argument factories still work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core_model.errors import CatalogueError

DEFAULT_THRESHOLD = 0.49


@dataclass(frozen=True)
class ModelChoice:
    checkpoint: str
    threshold: float
    preset: dict | None = None                       # complete predictor settings, None: the checkpoint's own
    overrides: dict = field(default_factory=dict)    # single settings on top (threshold apart)
    model_name: str = ""                             # the catalogue model's name, '' for a file

    def factory_kwargs(self) -> dict:
        kwargs = {}
        if self.preset is not None:
            kwargs["settings"] = {k: v for k, v in self.preset.items() if k != "threshold"}
        if self.overrides:
            kwargs["overrides"] = dict(self.overrides)
        return kwargs

    def describe(self) -> str:
        """'preset aval_slf: zoom_in False, max_longest_side 800' for a log line ('' when nothing chosen)."""
        values = {**(self.preset or {}), **self.overrides}
        values.pop("threshold", None)
        if self.preset is None and not values:
            return ""
        return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "RITM's settings"


def combine(checkpoint: str, preset: dict | None, flags: dict, default_threshold: float = DEFAULT_THRESHOLD,
            model_name: str = "") -> ModelChoice:
    """A ModelChoice from a preset (or None) and single settings (None values: not given)."""
    flags = {k: v for k, v in flags.items() if v is not None}
    threshold = flags.pop("threshold", None)
    if threshold is None:
        threshold = (preset or {}).get("threshold", default_threshold)
    if "max_longest_side" in flags:
        flags["max_longest_side"] = flags["max_longest_side"] or None   # 0 (or None): full size
    return ModelChoice(str(checkpoint), float(threshold), None if preset is None else dict(preset), flags, model_name)


def choose_installed(store, model: str, checkpoint: str, preset_value: str, flags: dict,
                     default_threshold: float = DEFAULT_THRESHOLD) -> ModelChoice:
    """Processing's choice: installed model `model` of `store` (its file and preset) or, when `model` is
    '', the file `checkpoint`; `preset_value` (a catalogue name or a JSON file) replaces the preset."""
    from core_model.models.presets import resolve_preset
    preset = None
    if model:
        path = store.installed_path(model)
        if path is None:
            raise CatalogueError(f"Model {model} is not installed in {store.folder}; download it with the dock's "
                                 "Models… button or choose another model.")
        checkpoint, preset = str(path), store.preset(model)
    if preset_value:
        preset = resolve_preset(preset_value, store.catalogue)
    return combine(checkpoint, preset, flags, default_threshold, model)


def choose_on_command_line(checkpoint, preset_value, flags: dict, default_threshold: float = DEFAULT_THRESHOLD):
    """The command lines' choice: core_model's --checkpoint NAME|FILE, --preset and single settings
    (core_model.models.choice.choose_checkpoint; CliError with one sentence); the checkpoint may be None
    (the default model)."""
    from core_model.models.choice import choose_checkpoint
    chosen = choose_checkpoint(checkpoint, preset_value, dict(flags))
    preset = getattr(chosen, "preset", None)
    checked = dict(getattr(chosen, "flags", None) or {})    # checked there
    if "max_longest_side" in checked and checked["max_longest_side"] is None:
        checked["max_longest_side"] = 0     # full size, asked for (combine's None means not asked)
    if chosen is None:
        from core_model.default_model import default_checkpoint
        chosen = default_checkpoint()
    return combine(str(chosen), preset, checked, default_threshold, getattr(chosen, "model_name", None) or "")
