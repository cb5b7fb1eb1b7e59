"""The network variants the ONNX Runtime engine has graphs for, and the match of a checkpoint to one.

A variant is what changes the network's graph (not its weights' values): the HRNet width and whether
it is the small one, the OCR width, LeakyReLU or ReLU, RGB-conv or click-map-conv input, the extended
click conv and whether the previous mask is an input.  The click maps (use_disks, norm_radius), the
normalisation and binary_prev_mask are applied in numpy outside the graph, so they need no variant of
their own.  Graphs live gzipped in core_model/onnx_graphs/ (scripts/export_onnx_graphs.py writes them); beside
each graph, `<variant>.json.gz` lists its weights and the names and shapes of the variant's full state dict.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .checkpoint_file import cap
from .checkpoint_values import HRNET_DEFAULTS

GRAPH_DIR = Path(__file__).resolve().parent / "onnx_graphs"
WEIGHTS_LOCATION = "checkpoint-weights"  # the external-data location the graphs name (supplied in memory)


@dataclass(frozen=True)
class Variant:
    width: int
    small: bool
    ocr_width: int
    use_leaky_relu: bool = True
    use_rgb_conv: bool = False
    conv_extend: bool = False
    with_prev_mask: bool = True

    @property
    def name(self) -> str:
        parts = [f"hrnet{self.width}{'s' if self.small else ''}", f"ocr{self.ocr_width}",
                 "leaky" if self.use_leaky_relu else "relu",
                 "rgbconv" if self.use_rgb_conv else ("mapsconv-extend" if self.conv_extend else "mapsconv"),
                 "prevmask" if self.with_prev_mask else "noprevmask"]
        return "_".join(parts)

    @property
    def graph_file(self) -> str:
        return self.name + ".onnx.gz"

    @property
    def manifest_file(self) -> str:
        return self.name + ".json.gz"

    @property
    def coord_channels(self) -> int:
        return 3 if self.with_prev_mask else 2

    def model_params(self) -> dict:
        """HRNetModel keyword arguments that build this variant (for the export)."""
        return dict(width=self.width, small=self.small, ocr_width=self.ocr_width, use_leaky_relu=self.use_leaky_relu,
                    use_rgb_conv=self.use_rgb_conv, conv_extend=self.conv_extend, with_prev_mask=self.with_prev_mask,
                    with_aux_output=True)


def variant_of(params: dict) -> Variant:
    """The variant of a checkpoint's HRNetModel keyword arguments (RITM's defaults for those left out)."""
    p = {**HRNET_DEFAULTS, **params}
    return Variant(int(p["width"]), bool(p["small"]), int(p["ocr_width"]), bool(p["use_leaky_relu"]),
                   bool(p["use_rgb_conv"]), bool(p["conv_extend"]) and not p["use_rgb_conv"], bool(p["with_prev_mask"]))


# The official RITM architectures (h18s, h18, h32, and h48 with RITM's OCR widths), as trained by RITM's
# scripts (LeakyReLU, click-map conv), with and without the previous mask.
SHIPPED = tuple(Variant(w, s, o, with_prev_mask=prev) for w, s, o in ((18, True, 48), (18, False, 64),
                                                                      (32, False, 128), (48, False, 256))
                for prev in (True, False))


@lru_cache(maxsize=None)
def manifest_entry(variant: Variant) -> dict | None:
    """The variant's manifest ({'graph', 'graph_weights', 'state_dict': {key: shape}}), None if not shipped."""
    path = GRAPH_DIR / variant.manifest_file
    return json.loads(gzip.decompress(path.read_bytes())) if path.is_file() else None


def _short(keys) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def match_variant(fail, params: dict, state: dict) -> tuple[Variant, dict]:
    """The variant of a checkpoint and its manifest entry; `fail(reason)` when no graph is shipped for it or
    the weights do not match it (names and shapes, as the torch loader's strict check)."""
    variant = variant_of(params)
    entry = manifest_entry(variant)
    if entry is None:
        shipped = ", ".join(sorted({f"hrnet{v.width}{'s' if v.small else ''} (OCR width {v.ocr_width})"
                                    for v in SHIPPED}))
        raise fail(f"describes a network ({cap(variant.name, 80)}) for which the ONNX Runtime engine has no graph, "
                   f"so its weights can only be used with torch (graphs: {shipped}, LeakyReLU, click-map conv)")
    expected = entry["state_dict"]
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing:
        raise fail(f"does not match its config ({variant.name}): weights missing for {_short(missing)}")
    if unexpected:
        raise fail(f"does not match its config ({variant.name}): unexpected weights {_short(unexpected)}")
    for key, shape in expected.items():
        if tuple(state[key].shape) != tuple(shape):
            raise fail(f"does not match its config ({variant.name}): {key} has shape "
                       f"{tuple(state[key].shape)} instead of {tuple(shape)}")
    return variant, entry
