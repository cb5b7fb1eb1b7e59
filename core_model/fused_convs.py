"""Convolutions fused with what follows them, for the inference copy of the model (issue 18).

After BatchNorm folding (core_model.inference_speedups) most convolutions of the HRNet are followed by a
ReLU / LeakyReLU, and the last one of every residual block by "add the shortcut, then ReLU".  oneDNN runs
these as one primitive (post-ops) on channels_last tensors: the activation and the sum are applied while
the output tile is still in cache, instead of two more passes over a large activation each.  The values
equal the unfused ones up to float rounding (the same products and sums; measured ≤ 1e-6).

`fuse_activations(model)` rewrites a folded model in place.  A FusedConv falls back to the plain
ops wherever the fused primitive does not apply — a gradient is needed (the BRS refinement modes
back-propagate through the inference copy), a non-CPU device, another dtype, or a PyTorch build
without the oneDNN op — so every caller of the model's pieces keeps working unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .hrnet import BasicBlock, Bottleneck, HighResolutionNet
from .pointwise_conv import MKLDNN_CONV, PointwiseConv, is_pointwise

_ACTS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu"}


def _fused_op_works() -> bool:
    try:
        x = torch.ones(1, 8, 3, 3).contiguous(memory_format=torch.channels_last)
        w = torch.ones(4, 8, 1, 1)
        other = torch.full((1, 4, 3, 3), -9.0).contiguous(memory_format=torch.channels_last)
        y = torch.ops.mkldnn._convolution_pointwise(x, w, None, [0, 0], [1, 1], [1, 1], 1, "leaky_relu", [0.5], "")
        z = torch.ops.mkldnn._convolution_pointwise.binary(x, other, w, None, [0, 0], [1, 1], [1, 1], 1, "add",
                                                           None, "relu", [], "")
        return bool(torch.all(y == 8)) and bool(torch.all(z == 0))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


FUSED_OP = _fused_op_works()


class FusedConv(nn.Module):
    """A Conv2d (BatchNorm already folded into it) with its activation: "none", "relu" or "leaky_relu"
    (negative slope `slope`).  `add_relu(x, other)` is relu(conv(x) + other)."""

    def __init__(self, conv: nn.Conv2d, act: str = "none", slope: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        bias = conv.bias.detach().clone() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.stride, self.padding, self.dilation = list(conv.stride), list(conv.padding), list(conv.dilation)
        self.groups = conv.groups
        self.act, self.slope = act, float(slope)
        self.pointwise = is_pointwise(conv)
        self.use_mkldnn = self.pointwise and MKLDNN_CONV

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, kernel={tuple(self.weight.shape[2:])}, " \
               f"stride={tuple(self.stride)}, act={self.act}"

    def _fusable(self, x: torch.Tensor) -> bool:
        return (FUSED_OP and x.device.type == "cpu" and x.dtype == torch.float32 and x.ndim == 4
                and not (torch.is_grad_enabled() and x.requires_grad))

    def _conv(self, x):
        # The unfused ops of the inference copy exactly (core_model.pointwise_conv.PointwiseConv for
        # 1×1 convs), so that a gradient path gives what it gave before fusion.
        if self.pointwise:
            return PointwiseConv.forward(self, x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def _activate(self, y):
        if self.act == "relu":
            return F.relu(y)
        if self.act == "leaky_relu":
            return F.leaky_relu(y, self.slope)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._fusable(x):
            return self._activate(self._conv(x))
        x = x.contiguous(memory_format=torch.channels_last)
        scalars = [self.slope] if self.act == "leaky_relu" else []
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, self.stride,
                                                       self.dilation, self.groups, self.act, scalars, "")

    def add_relu(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """relu(conv(x) + other) (this conv's own activation must be "none")."""
        if not self._fusable(x) or other.shape[0] != x.shape[0] or other.dtype != x.dtype:
            return F.relu(self._conv(x) + other)
        x = x.contiguous(memory_format=torch.channels_last)
        other = other.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise.binary(x, other, self.weight, self.bias, self.padding,
                                                              self.stride, self.dilation, self.groups, "add",
                                                              None, "relu", [], "")


class FusedBasicBlock(BasicBlock):
    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return self.conv2.add_relu(self.conv1(x), residual)


class FusedBottleneck(Bottleneck):
    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return self.conv3.add_relu(self.conv2(self.conv1(x)), residual)


class FusedHighResolutionNet(HighResolutionNet):
    """The stem's ReLUs are in conv1/conv2 now (and bn1/bn2 are folded away): not applied a second time."""

    def image_stem(self, x):
        return self.conv1(x)

    def backbone_features(self, x):
        return self._aggregate(self._branches(self.layer1(self.conv2(x))))


def _worth_fusing(conv: nn.Conv2d) -> bool:
    """1×1 convs of very few input channels stay one matrix product (PointwiseConv)."""
    return not (is_pointwise(conv) and conv.in_channels < 8)


def _fuse_sequential(seq: nn.Sequential) -> int:
    """Conv2d, then Identity (a folded BatchNorm) / Sequential(Identity, act) / act → one FusedConv."""
    count = 0
    items = list(seq)
    for i, conv in enumerate(items):
        if type(conv) is not nn.Conv2d or not _worth_fusing(conv):
            continue
        act, slope, holder = "none", 0.0, None
        for k in range(i + 1, len(items)):
            nxt = items[k]
            if isinstance(nxt, nn.Identity):
                continue
            if type(nxt) in _ACTS:
                holder = (seq, k)
            elif isinstance(nxt, nn.Sequential) and len(nxt) == 2 and isinstance(nxt[0], nn.Identity) \
                    and type(nxt[1]) in _ACTS:
                holder = (nxt, 1)
            break
        if holder is not None:
            act_module = holder[0][holder[1]]
            act = _ACTS[type(act_module)]
            slope = getattr(act_module, "negative_slope", 0.0)
            holder[0][holder[1]] = nn.Identity()
        seq[i] = FusedConv(conv, act, slope)
        count += 1
    return count


def _fused_plain(conv) -> FusedConv:
    return FusedConv(conv) if type(conv) is nn.Conv2d else conv


def fuse_activations(model: nn.Module) -> int:
    """Rewrite a BatchNorm-folded HRNetModel in place: convolutions become FusedConvs carrying their
    activation (and the residual sum of each block); returns the number of fused convolutions.  Does
    nothing (returns 0) where the fused oneDNN op is not available."""
    if not FUSED_OP:
        return 0
    count = 0
    for m in list(model.modules()):
        if type(m) is BasicBlock and isinstance(m.bn1, nn.Identity) and isinstance(m.bn2, nn.Identity):
            m.conv1, m.conv2 = FusedConv(m.conv1, "relu"), FusedConv(m.conv2)
            m.__class__ = FusedBasicBlock
            count += 2
        elif type(m) is Bottleneck and all(isinstance(getattr(m, f"bn{k}"), nn.Identity) for k in (1, 2, 3)):
            m.conv1, m.conv2 = FusedConv(m.conv1, "relu"), FusedConv(m.conv2, "relu")
            m.conv3 = FusedConv(m.conv3)
            m.__class__ = FusedBottleneck
            count += 3
        elif type(m) is HighResolutionNet and isinstance(m.bn1, nn.Identity) and isinstance(m.bn2, nn.Identity):
            m.conv1, m.conv2 = FusedConv(m.conv1, "relu"), FusedConv(m.conv2, "relu")
            m.__class__ = FusedHighResolutionNet
            count += 2
    for m in list(model.modules()):
        if isinstance(m, nn.Sequential):
            count += _fuse_sequential(m)
    for m in list(model.modules()):    # convs held outside a Sequential (heads)
        for name, child in list(m.named_children()):
            if type(child) is nn.Conv2d and _worth_fusing(child):
                setattr(m, name, FusedConv(child))
                count += 1
    return count
