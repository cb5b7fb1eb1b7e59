"""Inference-only copy of the model (see optimize_for_inference): same outputs up to float rounding
(measured ≤1.3e-5 against the reference RITM forward), about 1.3–1.5× faster per forward on CPU.

Where the time goes (hrnet18s, batch 2 × 400², one thread): ~89 % convolutions.  What the copy changes:
BatchNorm folded into the convs (153 fewer ops), channels_last activations (oneDNN's 3×3 convs run 1.5–3×
faster than on NCHW here), 1×1 convs sent straight to oneDNN (eager PyTorch falls back to im2col for them on
channels_last), activations and residual sums fused into the convs as oneDNN post-ops (core_model.fused_convs;
1–2 % on top: the convolutions are the time, see docs/profile.md), no autograd bookkeeping.
python -m core_model.model_speed measures it.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .hrnet import BasicBlock, Bottleneck, HighResolutionNet
from .model import HRNetModel, ScaleLayer
from .pointwise_conv import replace_pointwise_convs

_BLOCK_PAIRS = {BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
                Bottleneck: (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
                HighResolutionNet: (("conv1", "bn1"), ("conv2", "bn2"))}


@torch.no_grad()
def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d into it (in place); returns the count."""
    folded = 0
    for parent in list(module.modules()):
        for conv_name, bn_name in _BLOCK_PAIRS.get(type(parent), ()):
            conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                _fold(conv, bn)
                setattr(parent, bn_name, nn.Identity())
                folded += 1
        if isinstance(parent, nn.Sequential):
            items = list(parent)
            for i in range(len(items) - 1):
                conv, nxt = items[i], items[i + 1]
                if not isinstance(conv, nn.Conv2d):
                    continue
                if isinstance(nxt, nn.BatchNorm2d):
                    _fold(conv, nxt)
                    parent[i + 1] = nn.Identity()
                    folded += 1
                elif isinstance(nxt, nn.Sequential) and len(nxt) and isinstance(nxt[0], nn.BatchNorm2d):
                    _fold(conv, nxt[0])
                    nxt[0] = nn.Identity()
                    folded += 1
    return folded


@torch.no_grad()
def fold_scale_layer(model: HRNetModel) -> bool:
    """Fold maps_transform's ScaleLayer (|s|·x) into the conv before it."""
    mt = model.maps_transform
    if not isinstance(mt, nn.Sequential) or len(mt) < 2 or not isinstance(mt[-1], ScaleLayer) \
            or not isinstance(mt[-2], nn.Conv2d):
        return False
    scale = torch.abs(mt[-1].scale * mt[-1].lr_mult)
    conv = mt[-2]
    conv.weight.mul_(scale)
    if conv.bias is not None:
        conv.bias.mul_(scale)
    mt[-1] = nn.Identity()
    return True


class InferenceHRNetModel(HRNetModel):
    """An HRNetModel prepared by optimize_for_inference; every call runs under torch.inference_mode."""

    def forward(self, image, points, with_aux=None):
        with torch.inference_mode():
            return super().forward(image, points, with_aux=with_aux)

    def image_features(self, rgb):
        with torch.inference_mode():
            return super().image_features(rgb)

    def forward_from_features(self, feats, prev_mask, points, with_aux=None):
        with torch.inference_mode():
            return super().forward_from_features(feats, prev_mask, points, with_aux=with_aux)

    def train(self, mode: bool = True):
        if mode:
            raise RuntimeError("an inference copy cannot be trained; train the original model instead.")
        return super().train(False)


def optimize_for_inference(model: HRNetModel, channels_last: bool = True, fuse: bool = True) -> InferenceHRNetModel:
    """Return an inference-only copy of `model` (the original is untouched): BatchNorm and the click-path
    ScaleLayer folded into the convolutions, channels_last activations (faster oneDNN 3×3 convolutions on
    CPU) with 1×1 convolutions as matrix products, and every call under torch.inference_mode.  Outputs equal
    the original's up to float rounding.  Call it like the model; `fast(image, points, with_aux=False)`
    skips upsampling the auxiliary output.  With `fuse` (and channels_last) the convolutions carry their
    activations and residual sums as oneDNN post-ops (core_model.fused_convs)."""
    if not isinstance(model, HRNetModel):
        raise TypeError("optimize_for_inference needs a core_model HRNetModel (from build_model/load_model).")
    fast = copy.deepcopy(model).eval()
    fast.__class__ = InferenceHRNetModel
    fast.n_folded_batchnorms = fold_batchnorm(fast)
    fold_scale_layer(fast)
    for p in fast.parameters():
        p.requires_grad_(False)
    for m in fast.modules():
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            m.inplace = True   # their inputs are always fresh conv outputs
    fast.n_fused_convs = 0
    if channels_last:
        fast.memory_format = torch.channels_last
        if fuse:
            from .fused_convs import fuse_activations
            fast.n_fused_convs = fuse_activations(fast)
        fast.n_pointwise_convs = replace_pointwise_convs(fast)
        fast.to(memory_format=torch.channels_last)
    return fast


def tune_glibc_allocator(keep_bytes: int = 512 << 20, mmap_threshold: int = 64 << 20) -> bool:
    """Opt-in, process-wide (Linux/glibc only): serve buffers below `mmap_threshold` from the heap and let
    glibc keep up to `keep_bytes` of freed heap for reuse, instead of handing every large activation buffer
    back to the OS and page-faulting it in again on the next forward.  Measured: 15–20 % less CPU time for
    the unoptimised model, about 10 % for the optimised copy; the process keeps its peak memory.  Returns
    False (and changes nothing) where glibc's mallopt is not available (Windows, macOS, musl)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, int(mmap_threshold))) and bool(mallopt(m_trim_threshold, int(keep_bytes)))
