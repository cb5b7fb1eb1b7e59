"""HRNet backbone with OCR head (RITM's HighResolutionNet); module names match RITM's state-dict keys."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ocr import SpatialGather, SpatialOCR


def _upsample(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out.add_(residual))   # in place: `out` is a fresh tensor


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out.add_(residual))   # in place: `out` is a fresh tensor


def _make_blocks(block, inplanes: int, planes: int, n_blocks: int, norm_layer) -> nn.Sequential:
    downsample = None
    if inplanes != planes * block.expansion:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, bias=False),
                                   norm_layer(planes * block.expansion))
    layers = [block(inplanes, planes, downsample=downsample, norm_layer=norm_layer)]
    layers += [block(planes * block.expansion, planes, norm_layer=norm_layer) for _ in range(1, n_blocks)]
    return nn.Sequential(*layers)


def _conv3x3_bn(in_ch: int, out_ch: int, stride: int, norm_layer, relu: bool) -> nn.Sequential:
    layers = [nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False), norm_layer(out_ch)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of basic blocks, then every branch receives the sum of all (resampled) branches."""

    def __init__(self, channels: list[int], n_blocks: int, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.num_branches = n = len(channels)
        self.branches = nn.ModuleList(_make_blocks(BasicBlock, c, c, n_blocks, norm_layer) for c in channels)
        fuse_layers = []
        for i in range(n):
            row = []
            for j in range(n):
                if j > i:    # lower resolution: 1×1 conv, upsampled in forward
                    row.append(nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, bias=False),
                                             norm_layer(channels[i])))
                elif j == i:
                    row.append(None)
                else:        # higher resolution: chain of stride-2 3×3 convs
                    steps = [_conv3x3_bn(channels[j], channels[j], 2, norm_layer, relu=True)
                             for _ in range(i - j - 1)]
                    steps.append(_conv3x3_bn(channels[j], channels[i], 2, norm_layer, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i in range(self.num_branches):
            y = xs[0] if i == 0 else self.fuse_layers[i][0](xs[0])
            fresh = i != 0   # whether `y` may be summed into in place (never a branch output itself)
            for j in range(1, self.num_branches):
                if j == i:
                    term = xs[j]
                elif j > i:
                    term = _upsample(self.fuse_layers[i][j](xs[j]), xs[i].shape[-2:])
                else:
                    term = self.fuse_layers[i][j](xs[j])
                y = y.add_(term) if fresh else y + term
                fresh = True
            out.append(self.relu(y))
        return out


class HighResolutionNet(nn.Module):
    """HRNet-W{width} (small: 2 blocks per branch, fewer modules) + OCR head; returns [logits, aux logits]
    at 1/4 of the input resolution."""

    def __init__(self, width: int, num_classes: int = 1, ocr_width: int = 256, small: bool = False,
                 norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.width = width
        self.ocr_width = ocr_width
        self.small = small
        n_blocks = 2 if small else 4
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = norm_layer(64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_blocks(Bottleneck, 64, 64, n_blocks, norm_layer)

        self.stage2_num_branches, self.stage3_num_branches, self.stage4_num_branches = 2, 3, 4
        ch2, ch3, ch4 = ([width * 2 ** k for k in range(n)] for n in (2, 3, 4))
        self.transition1 = self._transition([64 * Bottleneck.expansion], ch2, norm_layer)
        self.stage2 = nn.Sequential(HighResolutionModule(ch2, n_blocks, norm_layer))
        self.transition2 = self._transition(ch2, ch3, norm_layer)
        self.stage3 = nn.Sequential(*(HighResolutionModule(ch3, n_blocks, norm_layer)
                                      for _ in range(3 if small else 4)))
        self.transition3 = self._transition(ch3, ch4, norm_layer)
        self.stage4 = nn.Sequential(*(HighResolutionModule(ch4, n_blocks, norm_layer)
                                      for _ in range(2 if small else 3)))

        last_ch = sum(ch4)
        if ocr_width > 0:
            mid = 2 * ocr_width
            self.conv3x3_ocr = nn.Sequential(nn.Conv2d(last_ch, mid, 3, padding=1), norm_layer(mid),
                                             nn.ReLU(inplace=True))
            self.ocr_gather_head = SpatialGather()
            self.ocr_distri_head = SpatialOCR(mid, ocr_width, mid, dropout=0.05, norm_layer=norm_layer)
            self.cls_head = nn.Conv2d(mid, num_classes, 1)
            self.aux_head = nn.Sequential(nn.Conv2d(last_ch, last_ch, 1), norm_layer(last_ch),
                                          nn.ReLU(inplace=True), nn.Conv2d(last_ch, num_classes, 1))
        else:
            self.cls_head = nn.Sequential(nn.Conv2d(last_ch, last_ch, 3, padding=1), norm_layer(last_ch),
                                          nn.ReLU(inplace=True), nn.Conv2d(last_ch, num_classes, 1))

    @staticmethod
    def _transition(pre: list[int], cur: list[int], norm_layer) -> nn.ModuleList:
        layers = []
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(None if c == pre[i] else _conv3x3_bn(pre[i], c, 1, norm_layer, relu=True))
            else:
                n_down = i + 1 - len(pre)
                steps = [_conv3x3_bn(pre[-1], c if k == n_down - 1 else pre[-1], 2, norm_layer, relu=True)
                         for k in range(n_down)]
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    # --- forward pieces -------------------------------------------------------------------------
    def image_stem(self, x: torch.Tensor) -> torch.Tensor:
        """First conv of the (normalised) image: image-only work, cacheable while clicks change."""
        return self.relu(self.bn1(self.conv1(x)))

    def forward_from_stem(self, x: torch.Tensor, additional_features=None):
        """Everything after the first stem conv; `additional_features` (the click maps, 64 channels at 1/2
        resolution) are added here, as in RITM — in place, so pass a tensor that may be overwritten."""
        if additional_features is not None:
            # Summed into the (fresh) click features, never into `x`, which callers may cache.
            x = additional_features.add_(x)
        return self._head(self.backbone_features(x))

    def backbone_features(self, x: torch.Tensor) -> torch.Tensor:
        """From the stem (click features added) to the concatenated multi-resolution features at 1/4
        resolution (15 × width channels; RITM's compute_hrnet_feats, f-BRS-A/B's insertion point)."""
        x = self.relu(self.bn2(self.conv2(x)))
        return self._aggregate(self._branches(self.layer1(x)))

    def ocr_features(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features → (the OCR block's output, 2 × ocr_width channels — f-BRS-C's insertion
        point —, the auxiliary logits)."""
        out_aux = self.aux_head(feats)
        feats = self.conv3x3_ocr(feats)
        return self.ocr_distri_head(feats, self.ocr_gather_head(feats, out_aux)), out_aux

    def _head(self, feats: torch.Tensor):
        if self.ocr_width <= 0:
            return [self.cls_head(feats), None]
        feats, out_aux = self.ocr_features(feats)
        return [self.cls_head(feats), out_aux]

    def forward(self, x: torch.Tensor, additional_features=None):
        return self.forward_from_stem(self.image_stem(x), additional_features)

    @staticmethod
    def _through(transition: nn.ModuleList, ys: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, t in enumerate(transition):
            src = ys[i] if i < len(ys) else ys[-1]
            out.append(src if t is None else t(src))
        return out

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        ys = self.stage2(self._through(self.transition1, [x]))
        ys = self.stage3(self._through(self.transition2, ys))
        return self.stage4(self._through(self.transition3, ys))

    @staticmethod
    def _aggregate(ys: list[torch.Tensor]) -> torch.Tensor:
        size = ys[0].shape[-2:]
        return torch.cat([ys[0]] + [_upsample(y, size) for y in ys[1:]], 1)
