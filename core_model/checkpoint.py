"""Safe loading and saving of RITM-format checkpoints.

Layout (RITM's own): {'state_dict': {key: tensor}, 'config': {'class': 'isegm.model.is_hrnet_model.HRNetModel',
'params': {name: {'type': 'builtin' | 'class', 'value': ..., 'specified': bool}}}}.
An optional third key, 'predictor_settings' ({name: number}), holds the inference settings the model was
trained for (our default model: a smaller zoom-in and input size than RITM's); RITM ignores it.
Files are read with torch.load(weights_only=True), so a file cannot run code; the model is built from an
explicit table of known classes and parameters — nothing named in a file is ever imported.
"""
from __future__ import annotations

import numbers
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

from .inference_speedups import InferenceHRNetModel
from .model import HRNetModel

HRNET_CLASS = "isegm.model.is_hrnet_model.HRNetModel"
_MODEL_CLASSES = {HRNET_CLASS: HRNetModel}
# RITM model classes we recognise but cannot build (named in the refusal so the user knows what they have).
_OTHER_RITM_MODELS = {
    "isegm.model.is_deeplab_model.DeeplabModel": "a RITM DeepLab (ResNet) model",
    "isegm.model.is_segformer_model.SegformerModel": "a RITM SegFormer model",
    "isegm.model.is_plainvit_model.PlainVitModel": "a SimpleClick (plain ViT) model",
}
# 'class' parameter values we accept, by their recorded name (never imported).
_KNOWN_CLASSES = {
    "torch.nn.modules.batchnorm.BatchNorm2d": nn.BatchNorm2d,
    "torch.nn.BatchNorm2d": nn.BatchNorm2d,
    # SyncBatchNorm stores the same tensors and computes the same as BatchNorm2d at inference.
    "torch.nn.modules.batchnorm.SyncBatchNorm": nn.BatchNorm2d,
    "torch.nn.SyncBatchNorm": nn.BatchNorm2d,
}
_BOOL_PARAMS = {"small", "use_rgb_conv", "with_aux_output", "use_disks", "cpu_dist_maps", "with_prev_mask",
                "use_leaky_relu", "binary_prev_mask", "conv_extend"}
_INT_PARAMS = {"width", "ocr_width"}
_NUMBER_PARAMS = {"backbone_lr_mult", "norm_radius"}
_CLASS_PARAMS = {"norm_layer"}
_OTHER_PARAMS = {"clicks_groups", "norm_mean_std"}
KNOWN_PARAMS = _BOOL_PARAMS | _INT_PARAMS | _NUMBER_PARAMS | _CLASS_PARAMS | _OTHER_PARAMS
_NORM_LAYER_NAME = "torch.nn.modules.batchnorm.BatchNorm2d"


PREDICTOR_SETTINGS_KEY = "predictor_settings"
# Settings a checkpoint may recommend, with the smallest value that makes sense (None allowed where marked).
_HINT_LIMITS = {"zoom_target_size": (32, False), "zoom_min_crop_size": (1, False), "max_longest_side": (32, True),
                "zoom_expansion_ratio": (1.0, False), "zoom_prob_thresh": (0.0, False)}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one sentence naming the file and the reason."""


def _fail(path, reason: str) -> CheckpointError:
    return CheckpointError(f"Checkpoint {os.fspath(path)} {reason}.")


def _read_file(path: Path):
    if not path.exists():
        raise _fail(path, "does not exist")
    if not path.is_file():
        raise _fail(path, "is not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) == 0:
        raise _fail(path, "is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types here; all mean "unusable file"
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found or "Unsupported global" in text:
            what = f" ({found.group(1)})" if found else ""
            raise _fail(path, f"was refused because loading it would run code{what}; only plain weight "
                              "checkpoints are accepted") from None
        if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
            raise _fail(path, "is truncated or corrupted and cannot be read") from None
        raise _fail(path, "is not a PyTorch checkpoint file") from None


def _param_value(path, name: str, entry):
    if not isinstance(entry, dict) or "value" not in entry:
        raise _fail(path, f"has a malformed config entry for parameter '{name}'")
    kind, value = entry.get("type", "builtin"), entry["value"]
    if name not in KNOWN_PARAMS:
        raise _fail(path, f"has an unknown model parameter '{name}'")
    if kind == "class":
        if name not in _CLASS_PARAMS or value not in _KNOWN_CLASSES:
            raise _fail(path, f"names an unsupported class '{value}' for parameter '{name}'")
        return _KNOWN_CLASSES[value]
    if kind != "builtin" or name in _CLASS_PARAMS:
        raise _fail(path, f"has an unsupported entry type '{kind}' for parameter '{name}'")
    if name in _BOOL_PARAMS and isinstance(value, bool):
        return value
    if name in _INT_PARAMS and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if name in _NUMBER_PARAMS and isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0:
        return value
    if name == "clicks_groups":
        if value is None:
            return None
        raise _fail(path, "uses multi-radius click groups (clicks_groups), which are not supported")
    if name == "norm_mean_std" and _is_mean_std(value):
        return ([float(v) for v in value[0]], [float(v) for v in value[1]])
    raise _fail(path, f"has an invalid value {value!r} for parameter '{name}'")


def _is_mean_std(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (list, tuple)) and len(v) == 3
                    and all(isinstance(x, numbers.Real) for x in v) for v in value)
            and all(x > 0 for x in value[1]))


def _model_kwargs(path, data) -> dict:
    if not isinstance(data, dict):
        raise _fail(path, "does not hold a RITM checkpoint dictionary")
    if "config" not in data:
        if "state_dict" in data or all(isinstance(v, torch.Tensor) for v in data.values()):
            raise _fail(path, "holds only weights without the model config (RITM checkpoints carry "
                              "{'state_dict', 'config'})")
        raise _fail(path, "has no model config")
    config = data["config"]
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise _fail(path, "has a malformed model config")
    cls = config["class"]
    if cls not in _MODEL_CLASSES:
        if cls in _OTHER_RITM_MODELS:
            raise _fail(path, f"is {_OTHER_RITM_MODELS[cls]} ({cls}); only RITM HRNet models are supported")
        if cls.startswith("isegm."):
            raise _fail(path, f"is a RITM model of class {cls}, which is not supported; only RITM HRNet "
                              "models are supported")
        raise _fail(path, f"names an unknown model class '{cls}'")
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise _fail(path, "has a malformed model config")
    return {name: _param_value(path, name, entry) for name, entry in params.items()}


def _state_dict(path, data) -> dict:
    state = data.get("state_dict")
    if not isinstance(state, dict) or not state:
        raise _fail(path, "has no weights ('state_dict')")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise _fail(path, f"has a non-tensor entry {key!r} in its weights")
        out[key] = value.float() if value.is_floating_point() else value
    return out


def _predictor_hints(path, data) -> dict:
    """The checkpoint's recommended predictor settings ({} when it has none); unknown names are ignored."""
    hints = data.get(PREDICTOR_SETTINGS_KEY)
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        raise _fail(path, "has malformed predictor settings")
    out = {}
    for name, value in hints.items():
        if name not in _HINT_LIMITS:
            continue
        low, none_ok = _HINT_LIMITS[name]
        if value is None and none_ok:
            out[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < low:
            raise _fail(path, f"recommends an invalid predictor setting {name}={value!r}")
        out[name] = int(value) if name in ("zoom_target_size", "zoom_min_crop_size", "max_longest_side") \
            else float(value)
    return out


def _short(keys) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def load_model(path, device="cpu") -> HRNetModel:
    """Build the model described by a RITM-format checkpoint and load its weights (strict); eval mode."""
    path = Path(path)
    data = _read_file(path)
    kwargs = _model_kwargs(path, data)
    state = _state_dict(path, data)
    hints = _predictor_hints(path, data)
    try:
        model = HRNetModel(**kwargs)
    except ValueError as exc:
        raise _fail(path, f"describes a model that cannot be built ({exc})") from None
    expected = model.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing:
        raise _fail(path, f"does not match its config ({model.arch_name}): weights missing for {_short(missing)}")
    if unexpected:
        raise _fail(path, f"does not match its config ({model.arch_name}): unexpected weights {_short(unexpected)}")
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise _fail(path, f"does not match its config ({model.arch_name}): {k} has shape "
                          f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=True)
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
