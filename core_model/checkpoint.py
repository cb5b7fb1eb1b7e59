"""Safe loading and saving of RITM-format checkpoints.

Layout (RITM's own): {'state_dict': {key: tensor}, 'config': {'class': 'isegm.model.is_hrnet_model.HRNetModel',
'params': {name: {'type': 'builtin' | 'class', 'value': ..., 'specified': bool}}}}.
An optional third key, 'predictor_settings' ({name: number}), holds the inference settings the model was
trained for (our default model: a smaller zoom-in and input size than RITM's); RITM ignores it.
Files are read with torch.load(weights_only=True), so a file cannot run code; the model is built from an
explicit table of known classes and parameters — nothing named in a file is ever imported.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .errors import CheckpointError
from .checkpoint_file import cap, load_untrusted, quote
from .checkpoint_values import (BATCH_NORM, HRNET_CLASS, KNOWN_PARAMS, model_params,  # noqa: F401 - API
                                predictor_hints)
from .inference_speedups import InferenceHRNetModel
from .model import HRNetModel

_NORM_LAYER_NAME = "torch.nn.modules.batchnorm.BatchNorm2d"
_NORM_LAYERS = {BATCH_NORM: torch.nn.BatchNorm2d}
# Weight types a checkpoint may hold (floats are used as float32).
_TENSOR_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.int32}
# The largest model built from a file (elements of its weights; RITM's HRNet-48 has about 66 million).
MAX_MODEL_PARAMETERS = 150_000_000

PREDICTOR_SETTINGS_KEY = "predictor_settings"


def _fail(path, reason: str) -> CheckpointError:
    return CheckpointError(f"Checkpoint {cap(os.fspath(path), 300)} {reason}.")


def _read_file(path: Path):
    if not path.exists():
        raise _fail(path, "does not exist")
    if not path.is_file():
        raise _fail(path, "is not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) == 0:
        raise _fail(path, "is empty")
    return load_untrusted(path, head, lambda reason: _fail(path, reason))


def _model_kwargs(path, data) -> dict:
    fail = lambda reason: _fail(path, reason)  # noqa: E731
    kwargs = model_params(fail, data, lambda v: isinstance(v, torch.Tensor))
    if "norm_layer" in kwargs:
        kwargs["norm_layer"] = _NORM_LAYERS[kwargs["norm_layer"]]
    return kwargs


def state_dict(fail, data: dict) -> dict:
    """The weights: dense CPU tensors of a real type, finite, BatchNorm variances not negative; floats
    as float32."""
    state = data.get("state_dict")
    if not isinstance(state, dict) or not state:
        raise fail("has no weights ('state_dict')")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise fail(f"has a non-tensor entry {quote(key)} in its weights")
        if value.layout != torch.strided or value.device.type != "cpu" or value.dtype not in _TENSOR_DTYPES:
            what = (f"{value.layout}".replace("torch.", "") if value.layout != torch.strided
                    else value.device.type if value.device.type != "cpu" else str(value.dtype).replace("torch.", ""))
            raise fail(f"holds weight {quote(key)} as a {what} tensor; only dense real-valued tensors are "
                       "accepted")
        if value.is_floating_point():
            value = value.float()
            if not bool(torch.isfinite(value).all()):
                raise fail(f"holds non-finite numbers (NaN or infinity) in weight {quote(key)}")
            if key.endswith("running_var") and bool((value < 0).any()):
                raise fail(f"holds a negative BatchNorm variance in {quote(key)}")
        out[key] = value
    return out


def _short(keys) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _build(path, kwargs: dict, state: dict) -> HRNetModel:
    """The model of `kwargs` with the weights `state`: first built on the meta device (no memory), where
    its size and its weight names and shapes are compared with the file's; only then for real."""
    try:
        with torch.device("meta"):
            skeleton = HRNetModel(**kwargs)
    except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
        raise _fail(path, f"describes a model that cannot be built ({cap(exc, 120)})") from None
    expected = skeleton.state_dict()
    name = skeleton.arch_name
    size = sum(t.numel() for t in expected.values())
    if size > MAX_MODEL_PARAMETERS:
        raise _fail(path, f"describes a model of {size:,} weights ({name}), more than the {MAX_MODEL_PARAMETERS:,} "
                          "of any supported model")
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing:
        raise _fail(path, f"does not match its config ({name}): weights missing for {_short(missing)}")
    if unexpected:
        raise _fail(path, f"does not match its config ({name}): unexpected weights {_short(unexpected)}")
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise _fail(path, f"does not match its config ({name}): {k} has shape "
                          f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)}")
    model = HRNetModel(**kwargs)
    model.load_state_dict(state, strict=True)
    return model


def load_model(path, device="cpu") -> HRNetModel:
    """Build the model described by a RITM-format checkpoint and load its weights (strict); eval mode.
    Every problem is a CheckpointError (one sentence naming the file)."""
    path = Path(path)
    data = _read_file(path)
    if not isinstance(data, dict):
        raise _fail(path, "does not hold a RITM checkpoint dictionary")
    fail = lambda reason: _fail(path, reason)  # noqa: E731
    kwargs = _model_kwargs(path, data)
    state = state_dict(fail, data)
    hints = predictor_hints(fail, data.get(PREDICTOR_SETTINGS_KEY))
    model = _build(path, kwargs, state)
    model.checkpoint_path = str(path)
    model.predictor_hints = hints
    return model.to(device).eval()


def checkpoint_config(model: HRNetModel) -> dict:
    """RITM's serialised config for `model` ('builtin' params plus norm_layer as a 'class' entry)."""
    params = {name: {"type": "builtin", "value": value, "specified": True} for name, value in model.params.items()}
    params["norm_mean_std"]["value"] = tuple(list(v) for v in params["norm_mean_std"]["value"])
    params["norm_layer"] = {"type": "class", "value": _NORM_LAYER_NAME, "specified": False}
    return {"class": HRNET_CLASS, "params": params}


def save_checkpoint(model: HRNetModel, path, extra: dict | None = None, half: bool = False,
                    predictor_settings: dict | None = None) -> None:
    """Write `model` in RITM's checkpoint layout (atomically); half=True stores float tensors as float16;
    `predictor_settings` (e.g. {'zoom_target_size': 192}) are stored as the model's recommended inference
    settings, else the model's own (`predictor_hints` from load_model) are kept."""
    if not isinstance(model, HRNetModel) or isinstance(model, InferenceHRNetModel):
        raise TypeError("save_checkpoint needs a core_model HRNetModel as returned by build_model/load_model "
                        "(not an optimize_for_inference copy, whose weights are folded).")
    extra = dict(extra or {})
    clash = {"state_dict", "config"} & set(extra)
    if clash:
        raise ValueError(f"extra keys must not replace {', '.join(sorted(clash))}.")
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        state[key] = value.half() if half and value.is_floating_point() else value.clone()
    data = {"state_dict": state, "config": checkpoint_config(model), **extra}
    hints = predictor_settings if predictor_settings is not None else getattr(model, "predictor_hints", None)
    if hints:
        data[PREDICTOR_SETTINGS_KEY] = dict(hints)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(data, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
