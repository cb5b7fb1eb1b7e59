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
from .checkpoint_values import KNOWN_PARAMS, param_value, predictor_hints, state_dict  # noqa: F401 - API
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
_NORM_LAYER_NAME = "torch.nn.modules.batchnorm.BatchNorm2d"
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
            raise _fail(path, f"is a RITM model of class {cap(cls, 80)}, which is not supported; only RITM "
                              "HRNet models are supported")
        raise _fail(path, f"names an unknown model class {quote(cls)}")
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise _fail(path, "has a malformed model config")
    fail = lambda reason: _fail(path, reason)  # noqa: E731
    return {name: param_value(fail, name, entry) for name, entry in params.items()}


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
