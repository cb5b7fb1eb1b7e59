"""Object-Contextual Representations head (OCR) as used by RITM's HRNet-OCR; module names match RITM."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int, norm_layer) -> list[nn.Module]:
    # RITM wraps norm+ReLU in an inner Sequential: keys look like "f_pixel.1.0.weight".
    return [nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=False), nn.Sequential(norm_layer(out_ch), nn.ReLU(inplace=True))]


class SpatialGather(nn.Module):
    """Soft object regions: softmax of the coarse logits over all pixels, weighted sum of features."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, feats: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        b, k = probs.shape[:2]
        weights = F.softmax(self.scale * probs.reshape(b, k, -1), dim=2)            # B×K×HW
        context = torch.matmul(weights, feats.reshape(b, feats.shape[1], -1).transpose(1, 2))  # B×K×C
        return context.transpose(1, 2).unsqueeze(3)                                  # B×C×K×1


class ObjectAttention(nn.Module):
    """Pixel-to-object attention (RITM's ObjectAttentionBlock2D with scale=1)."""

    def __init__(self, in_channels: int, key_channels: int, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.key_channels = key_channels
        self.f_pixel = nn.Sequential(*_conv_bn_relu(in_channels, key_channels, norm_layer),
                                     *_conv_bn_relu(key_channels, key_channels, norm_layer))
        self.f_object = nn.Sequential(*_conv_bn_relu(in_channels, key_channels, norm_layer),
                                      *_conv_bn_relu(key_channels, key_channels, norm_layer))
        self.f_down = nn.Sequential(*_conv_bn_relu(in_channels, key_channels, norm_layer))
        self.f_up = nn.Sequential(*_conv_bn_relu(key_channels, in_channels, norm_layer))

    def forward(self, x: torch.Tensor, proxy: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        query = self.f_pixel(x).reshape(b, self.key_channels, -1).transpose(1, 2)   # B×HW×Kc
        key = self.f_object(proxy).reshape(b, self.key_channels, -1)               # B×Kc×K
        value = self.f_down(proxy).reshape(b, self.key_channels, -1).transpose(1, 2)  # B×K×Kc
        sim = F.softmax((self.key_channels ** -0.5) * torch.matmul(query, key), dim=-1)
        context = torch.matmul(sim, value).transpose(1, 2).reshape(b, self.key_channels, h, w)
        return self.f_up(context)


class SpatialOCR(nn.Module):
    """Augments every pixel with its object context (RITM's SpatialOCR_Module)."""

    def __init__(self, in_channels: int, key_channels: int, out_channels: int, dropout: float = 0.05,
                 norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.object_context_block = ObjectAttention(in_channels, key_channels, norm_layer)
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(2 * in_channels, out_channels, kernel_size=1, bias=False),
            nn.Sequential(norm_layer(out_channels), nn.ReLU(inplace=True)),
            nn.Dropout2d(dropout),
        )

    def forward(self, feats: torch.Tensor, proxy: torch.Tensor) -> torch.Tensor:
        context = self.object_context_block(feats, proxy)
        return self.conv_bn_dropout(torch.cat([context, feats], 1))
