"""The run folder's train_state.pth, read without trusting it: a corrupted or foreign file (or one of
another program) is a TrainingError of one sentence naming it, never a traceback.

The state file is read like a checkpoint (core_model.checkpoint_file: bounded decompression, zip CRCs,
no code) and its parts are checked before a run resumes from it: the step, the optimiser and schedule
states, the epoch accumulators and the run's settings (TrainConfig's fields only).
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

STATE_NAME = "train_state.pth"
_ACC_KEYS = {"n", "loss", "focal", "aux_bce", "sim_clicks", "seconds"}


class TrainingError(Exception):
    """Root of training's own errors: a run that cannot start or continue; the message is one sentence.
    Bad data raise core_model's DatasetError (training.datasets.DataError)."""


def _fail(path: Path, reason: str) -> TrainingError:
    from core_model.checkpoint_file import cap
    return TrainingError(f"{cap(path, 300)} {reason}; it cannot be resumed (start a new run with another --out).")


def read_train_state(path: Path, config_type) -> dict:
    """The checked contents of `path` ({'step', 'optimizer', 'scheduler', 'epoch_acc', 'config', ...});
    `config` is validated against the fields of `config_type` (TrainConfig)."""
    from core_model.checkpoint_file import load_untrusted

    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path.parent} holds no run to resume (no {STATE_NAME}).")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise _fail(path, "is empty")
    state = load_untrusted(path, head, lambda reason: _fail(path, reason))
    if not isinstance(state, dict):
        raise _fail(path, "is not a training state written by training.train")
    missing = sorted({"step", "optimizer", "scheduler", "epoch_acc", "config"} - set(state))
    if missing:
        raise _fail(path, f"is not a training state written by training.train (no {missing[0]!r})")
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 10 ** 12:
        raise _fail(path, "holds an invalid step count")
    for key in ("optimizer", "scheduler"):
        if not isinstance(state[key], dict) or (key == "optimizer" and not {"state", "param_groups"} <= set(state[key])):
            raise _fail(path, f"holds a malformed {key} state")
    acc = state["epoch_acc"]
    if not isinstance(acc, dict) or set(acc) != _ACC_KEYS or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in acc.values()):
        raise _fail(path, "holds malformed epoch totals")
    config = state["config"]
    names = {f.name for f in fields(config_type)}
    if not isinstance(config, dict) or not set(config) <= names or not {"data", "out"} <= set(config):
        raise _fail(path, "holds settings of another program or version")
    for f in fields(config_type):
        if f.name in config and not _same_kind(config[f.name], f.default if f.default is not f.default_factory
                                                else None, f.type):
            raise _fail(path, f"holds an invalid setting {f.name}")
    return state


def _same_kind(value, default, annotation) -> bool:
    text = str(annotation)
    if value is None:
        return "None" in text
    if text.startswith("list"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if "bool" in text:
        return isinstance(value, bool)
    if "int" in text and "float" not in text:
        return isinstance(value, int) and not isinstance(value, bool)
    if "float" in text:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if "str" in text:
        return isinstance(value, str)
    return True
