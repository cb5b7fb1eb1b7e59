"""RITM's interactive HRNet-OCR model (isegm.model.is_hrnet_model.HRNetModel on top of ISModel).

`model(image, points)` takes `image` B×4×H×W in [0, 1] (RGB then the previous mask) and `points` B×2N×3
(row, col, click index; first N positive, last N negative; (-1, -1, -1) padding) and returns
{'instances': B×1×H×W logits, 'instances_aux': B×1×H×W logits} — exactly RITM's outputs.  Parameter
names equal the official state-dict keys, so RITM checkpoints load strictly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint_values import IMAGENET_MEAN_STD  # noqa: F401 - one definition (torch-free), importable here
from .click_maps import ClickMaps
from .hrnet import HighResolutionNet

# Backbone of each supported architecture: width, small, default OCR width (that of the official checkpoints).
ARCHITECTURES = {
    "hrnet18s": dict(width=18, small=True, ocr_width=48),
    "hrnet18": dict(width=18, small=False, ocr_width=64),
    "hrnet32": dict(width=32, small=False, ocr_width=128),
}

# ISModel keyword defaults used by build_model: those of the official *_itermask checkpoints.
ITERMASK_DEFAULTS = dict(use_leaky_relu=True, use_rgb_conv=False, use_disks=True, norm_radius=5,
                         with_prev_mask=True, with_aux_output=True)


def arch_name_of(width: int, small: bool) -> str:
    for name, spec in ARCHITECTURES.items():
        if spec["width"] == width and spec["small"] == bool(small):
            return name
    return f"hrnet{width}{'s' if small else ''}"


class ScaleLayer(nn.Module):
    """Multiplies by |scale · lr_mult| (RITM's ScaleLayer; the stored parameter is init_value / lr_mult)."""

    def __init__(self, init_value: float = 1.0, lr_mult: float = 1.0):
        super().__init__()
        self.lr_mult = lr_mult
        self.scale = nn.Parameter(torch.full((1,), init_value / lr_mult, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.abs(self.scale * self.lr_mult)


class HRNetModel(nn.Module):
    """Interactive segmentation network: click maps (+ previous mask) fused into an HRNet-OCR backbone."""

    memory_format = torch.contiguous_format  # inference copies may switch to torch.channels_last

    def __init__(self, width: int = 48, ocr_width: int = 256, small: bool = False, backbone_lr_mult: float = 0.1,
                 norm_layer=nn.BatchNorm2d, use_rgb_conv: bool = True, with_aux_output: bool = False,
                 norm_radius: float = 260, use_disks: bool = False, cpu_dist_maps: bool = False,
                 clicks_groups=None, with_prev_mask: bool = False, use_leaky_relu: bool = False,
                 binary_prev_mask: bool = False, conv_extend: bool = False,
                 norm_mean_std=IMAGENET_MEAN_STD, maps_scale_init: float = 0.05):
        super().__init__()
        if clicks_groups is not None:
            raise ValueError("clicks_groups (RITM's multi-radius click encoding) is not supported.")
        self.params = dict(width=width, ocr_width=ocr_width, small=bool(small), backbone_lr_mult=backbone_lr_mult,
                           use_rgb_conv=use_rgb_conv, with_aux_output=with_aux_output, norm_radius=norm_radius,
                           use_disks=use_disks, cpu_dist_maps=cpu_dist_maps, clicks_groups=None,
                           with_prev_mask=with_prev_mask, use_leaky_relu=use_leaky_relu,
                           binary_prev_mask=binary_prev_mask, conv_extend=conv_extend,
                           norm_mean_std=(list(norm_mean_std[0]), list(norm_mean_std[1])))
        self.arch_name = arch_name_of(width, small)
        self.checkpoint_path = None
        self.with_aux_output = with_aux_output
        self.with_prev_mask = with_prev_mask
        self.binary_prev_mask = binary_prev_mask
        self.backbone_lr_mult = backbone_lr_mult
        self.register_buffer("norm_mean", torch.tensor(norm_mean_std[0], dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("norm_std", torch.tensor(norm_mean_std[1], dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)

        coord_ch = 2 + (1 if with_prev_mask else 0)
        act = (lambda: nn.LeakyReLU(negative_slope=0.2)) if use_leaky_relu else (lambda: nn.ReLU(inplace=True))
        self.maps_transform = None
        if use_rgb_conv:
            self.rgb_conv = nn.Sequential(nn.Conv2d(3 + coord_ch, 6 + coord_ch, 1), norm_layer(6 + coord_ch),
                                          act(), nn.Conv2d(6 + coord_ch, 3, 1))
        else:
            self.rgb_conv = None
            if conv_extend:
                self.maps_transform = nn.Conv2d(coord_ch, 64, 3, stride=2, padding=1)
            else:
                self.maps_transform = nn.Sequential(nn.Conv2d(coord_ch, 16, 1), act(),
                                                    nn.Conv2d(16, 64, 3, stride=2, padding=1),
                                                    ScaleLayer(init_value=maps_scale_init, lr_mult=1))
        self.dist_maps = ClickMaps(norm_radius=norm_radius, use_disks=use_disks)
        self.feature_extractor = HighResolutionNet(width=width, num_classes=1, ocr_width=ocr_width, small=small,
                                                   norm_layer=norm_layer)

    # --- the RITM forward ---------------------------------------------------------------------------
    def forward(self, image: torch.Tensor, points: torch.Tensor, with_aux: bool | None = None) -> dict:
        """RITM's ISModel.forward.  with_aux=False skips upsampling the auxiliary output (not returned)."""
        n_channels = 4 if self.with_prev_mask else 3
        if image.ndim != 4 or image.shape[1] != n_channels:
            raise ValueError(f"image must be B×{n_channels}×H×W (RGB in [0, 1]"
                             f"{' then the previous mask' if self.with_prev_mask else ''}), got {tuple(image.shape)}.")
        feats = self.image_features(image[:, :3])
        prev_mask = image[:, 3:] if self.with_prev_mask else None
        return self.forward_from_features(feats, prev_mask, points, with_aux=with_aux)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.norm_mean) / self.norm_std

    def image_features(self, rgb: torch.Tensor) -> dict:
        """Image-only work: ImageNet normalisation and the first stem conv + BN + ReLU (RITM adds the click
        features right after it).  Reusable for any clicks / previous mask on the same image batch via
        forward_from_features; that saves about 2–3 % of a forward (the rest depends on the clicks)."""
        rgb = self.normalize(rgb).contiguous(memory_format=self.memory_format)
        if self.rgb_conv is not None:
            return {"rgb": rgb, "stem": None}
        return {"rgb": rgb, "stem": self.feature_extractor.image_stem(rgb)}

    def forward_from_features(self, feats: dict, prev_mask, points: torch.Tensor,
                              with_aux: bool | None = None) -> dict:
        rgb = feats["rgb"]
        if points.ndim != 3 or points.shape[2] != 3 or points.shape[1] % 2 or points.shape[0] != rgb.shape[0]:
            raise ValueError(f"points must be B×2N×3 (row, col, click index; first N positive) for a batch of "
                             f"{rgb.shape[0]}, got {tuple(points.shape)}.")
        if self.with_prev_mask:
            if prev_mask is None:
                raise ValueError("this model needs the previous mask (4th image channel); pass zeros for none.")
            if self.binary_prev_mask:
                prev_mask = (prev_mask > 0.5).float()
        coord = self.coord_features(rgb, prev_mask, points)
        if self.rgb_conv is not None:
            x = self.rgb_conv(torch.cat((rgb, coord), dim=1))
            out, aux = self.feature_extractor(x)
        else:
            out, aux = self.feature_extractor.forward_from_stem(feats["stem"], self.maps_transform(coord))
        size = rgb.shape[2:]
        outputs = {"instances": F.interpolate(out, size=size, mode="bilinear", align_corners=True)}
        want_aux = self.with_aux_output if with_aux is None else (with_aux and self.with_aux_output)
        if want_aux and aux is not None:
            outputs["instances_aux"] = F.interpolate(aux, size=size, mode="bilinear", align_corners=True)
        return outputs

    def coord_features(self, rgb: torch.Tensor, prev_mask, points: torch.Tensor) -> torch.Tensor:
        """The click maps of `points`, after the previous mask when the model takes one (RITM's
        get_coord_features; DistMap-BRS adds its bias to the click-map channels)."""
        coord = self.dist_maps(rgb, points)
        if prev_mask is not None:
            coord = torch.cat((prev_mask, coord), dim=1)
        return coord.contiguous(memory_format=self.memory_format)

    # --- training helpers ---------------------------------------------------------------------------
    def backbone_parameters(self):
        return [p for n, p in self.named_parameters() if n.startswith("feature_extractor.")]

    def head_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("feature_extractor.")]


def build_model(arch: str = "hrnet18s", **params) -> HRNetModel:
    """Build an untrained model of `arch` ('hrnet18s', 'hrnet18', 'hrnet32'); params are RITM HRNetModel /
    ISModel keyword arguments (defaults: those of the official *_itermask checkpoints)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}.")
    kwargs = {**ARCHITECTURES[arch], **ITERMASK_DEFAULTS, **params}
    return HRNetModel(**kwargs)
