"""What a checkpoint may say: its model parameters, recommended predictor settings and weights, each
checked against a range before anything is built from it (a value that would allocate gigabytes, run
forever or give NaN at click time is refused at load).

`fail(reason)` is the caller's one-sentence error naming the file; values are quoted short (`quote`).
Torch-free: shared by the torch loader (core_model.checkpoint) and the torch-free one (checkpoint_arrays);
each checks the weights of its own array type.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable

from .checkpoint_file import cap, quote

Fail = Callable[[str], Exception]

HRNET_CLASS = "isegm.model.is_hrnet_model.HRNetModel"
IMAGENET_MEAN_STD = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
# RITM's HRNetModel defaults of the parameters a config may leave out (those the torch-free engine reads;
# core_model.model.HRNetModel has the same defaults in its signature).
HRNET_DEFAULTS = dict(width=48, ocr_width=256, small=False, use_rgb_conv=True, use_leaky_relu=False, conv_extend=False,
                      with_prev_mask=False, binary_prev_mask=False, use_disks=False, norm_radius=260.0,
                      norm_mean_std=IMAGENET_MEAN_STD)
# RITM model classes we recognise but cannot build (named in the refusal so the user knows what they have).
OTHER_RITM_MODELS = {
    "isegm.model.is_deeplab_model.DeeplabModel": "a RITM DeepLab (ResNet) model",
    "isegm.model.is_segformer_model.SegformerModel": "a RITM SegFormer model",
    "isegm.model.is_plainvit_model.PlainVitModel": "a SimpleClick (plain ViT) model",
}
# 'class' parameter values we accept, by their recorded name (never imported), and the layer each means.
BATCH_NORM = "BatchNorm2d"
KNOWN_CLASSES = {
    "torch.nn.modules.batchnorm.BatchNorm2d": BATCH_NORM,
    "torch.nn.BatchNorm2d": BATCH_NORM,
    # SyncBatchNorm stores the same tensors and computes the same as BatchNorm2d at inference.
    "torch.nn.modules.batchnorm.SyncBatchNorm": BATCH_NORM,
    "torch.nn.SyncBatchNorm": BATCH_NORM,
}
BOOL_PARAMS = {"small", "use_rgb_conv", "with_aux_output", "use_disks", "cpu_dist_maps", "with_prev_mask",
               "use_leaky_relu", "binary_prev_mask", "conv_extend"}
# Known bounds (RITM's HRNets: width 18/32/48, OCR width 48–256; radii 5 (disks) to 260 (distance maps)).
INT_PARAMS = {"width": (1, 128), "ocr_width": (1, 1024)}
NUMBER_PARAMS = {"backbone_lr_mult": (1e-6, 100.0), "norm_radius": (1e-3, 1000.0)}
CLASS_PARAMS = {"norm_layer"}
OTHER_PARAMS = {"clicks_groups", "norm_mean_std"}
KNOWN_PARAMS = BOOL_PARAMS | set(INT_PARAMS) | set(NUMBER_PARAMS) | CLASS_PARAMS | OTHER_PARAMS
MEAN_RANGE, STD_RANGE = (-1e3, 1e3), (1e-6, 1e3)

# Settings a checkpoint may recommend: (smallest, largest, integer?, None allowed?).
HINT_LIMITS = {"zoom_target_size": (32, 2048, True, False), "zoom_min_crop_size": (1, 100_000, True, False),
               "max_longest_side": (32, 4096, True, True), "zoom_expansion_ratio": (1.0, 10.0, False, False),
               "zoom_prob_thresh": (0.0, 1.0, False, False)}


def in_range(value, low, high) -> bool:
    """A real number (not bool, not NaN/inf) with low <= value <= high; huge integers compare exactly."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(value, numbers.Integral):
        return low <= value <= high
    return math.isfinite(float(value)) and low <= value <= high


def param_value(fail: Fail, name, entry):
    """The value of config parameter `name` from its RITM entry {'type', 'value', 'specified'}."""
    if not isinstance(name, str) or name not in KNOWN_PARAMS:
        raise fail(f"has an unknown model parameter {quote(name)}")
    if not isinstance(entry, dict) or "value" not in entry:
        raise fail(f"has a malformed config entry for parameter '{name}'")
    kind, value = entry.get("type", "builtin"), entry["value"]
    if kind == "class":
        if name not in CLASS_PARAMS or not isinstance(value, str) or value not in KNOWN_CLASSES:
            raise fail(f"names an unsupported class {quote(value)} for parameter '{name}'")
        return KNOWN_CLASSES[value]
    if kind != "builtin" or name in CLASS_PARAMS:
        raise fail(f"has an unsupported entry type {quote(kind)} for parameter '{name}'")
    if name in BOOL_PARAMS and isinstance(value, bool):
        return value
    if name in INT_PARAMS and isinstance(value, int) and not isinstance(value, bool):
        low, high = INT_PARAMS[name]
        if low <= value <= high:
            return value
        raise fail(f"has {name}={quote(value)}, outside the range {low}–{high} of any supported model")
    if name in NUMBER_PARAMS and isinstance(value, numbers.Real) and not isinstance(value, bool):
        low, high = NUMBER_PARAMS[name]
        if in_range(value, low, high):
            return float(value)
        raise fail(f"has {name}={quote(value)}, outside the range {low:g}–{high:g} (finite) it may take")
    if name == "clicks_groups":
        if value is None:
            return None
        raise fail("uses multi-radius click groups (clicks_groups), which are not supported")
    if name == "norm_mean_std" and _is_mean_std(value):
        return ([float(v) for v in value[0]], [float(v) for v in value[1]])
    if name == "norm_mean_std":
        raise fail(f"has an invalid normalisation norm_mean_std={quote(value)} (three finite means and three "
                   f"standard deviations between {STD_RANGE[0]:g} and {STD_RANGE[1]:g} are needed)")
    raise fail(f"has an invalid value {quote(value)} for parameter '{name}'")


def _is_mean_std(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (list, tuple)) and len(v) == 3 for v in value)
            and all(in_range(x, *MEAN_RANGE) for x in value[0])
            and all(in_range(x, *STD_RANGE) for x in value[1]))


def predictor_hints(fail: Fail, hints) -> dict:
    """The checkpoint's recommended predictor settings ({} when it has none); unknown names are ignored."""
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        raise fail("has malformed predictor settings")
    out = {}
    for name, value in hints.items():
        if not isinstance(name, str) or name not in HINT_LIMITS:
            continue
        low, high, integer, none_ok = HINT_LIMITS[name]
        if value is None and none_ok:
            out[name] = None
            continue
        if not in_range(value, low, high) or (integer and float(value) != int(value)):
            kind = "a whole number" if integer else "a finite number"
            raise fail(f"recommends an invalid predictor setting {name}={quote(value)} ({kind} from {low:g} "
                       f"to {high:g} is needed)")
        out[name] = int(value) if integer else float(value)
    return out


def model_params(fail: Fail, data, is_weight: Callable[[object], bool]) -> dict:
    """The HRNetModel keyword arguments of checkpoint dictionary `data` (norm_layer as the layer's name,
    see KNOWN_CLASSES); `is_weight(value)` tells a weight of the loader's array type."""
    if not isinstance(data, dict):
        raise fail("does not hold a RITM checkpoint dictionary")
    if "config" not in data:
        if "state_dict" in data or all(is_weight(v) for v in data.values()):
            raise fail("holds only weights without the model config (RITM checkpoints carry "
                       "{'state_dict', 'config'})")
        raise fail("has no model config")
    config = data["config"]
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise fail("has a malformed model config")
    cls = config["class"]
    if cls != HRNET_CLASS:
        if cls in OTHER_RITM_MODELS:
            raise fail(f"is {OTHER_RITM_MODELS[cls]} ({cls}); only RITM HRNet models are supported")
        if cls.startswith("isegm."):
            raise fail(f"is a RITM model of class {cap(cls, 80)}, which is not supported; only RITM "
                       "HRNet models are supported")
        raise fail(f"names an unknown model class {quote(cls)}")
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise fail("has a malformed model config")
    return {name: param_value(fail, name, entry) for name, entry in params.items()}
