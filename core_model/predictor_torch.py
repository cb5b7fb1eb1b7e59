"""The predictor's torch engine: the network call of a click on a core_model HRNetModel (the model as
loaded, or its inference copy), on CPU or CUDA, and the refinement modes (core_model.brs).

With caching, the network's image stem is computed once per network input (core_model.model's
image_features / forward_from_features) and reused while the zoom-in region stays the same.
"""
from __future__ import annotations

import numpy as np
import torch

from .brs import make_refiner
from .points import points_tensor
from .transforms import NetInput

ENGINE_NAME = "torch"


def image_to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float32 in [0, 1] (torchvision's ToTensor arithmetic)."""
    t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(torch.float32).div(255)
    return t.unsqueeze(0).to(device)


class TorchEngine:
    name = ENGINE_NAME

    def __init__(self, model, device, cache: bool):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.uses_prev_mask = bool(getattr(model, "with_prev_mask", False))
        self._split_forward = cache and hasattr(model, "image_features") and hasattr(model, "forward_from_features")
        self._features = None

    @property
    def description(self) -> str:
        return f"PyTorch, {'CUDA' if self.device.type == 'cuda' else self.device.type.upper()}"

    def image_array(self, rgb: np.ndarray) -> torch.Tensor:
        return image_to_tensor(rgb, self.device)

    def mask_array(self, mask: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(mask))[None, None].to(self.device)

    def inference(self):
        return torch.inference_mode()

    def points(self, clicks_lists, net_clicks_limit):
        return points_tensor(clicks_lists, net_clicks_limit, self.device)

    def forget_image(self) -> None:
        self._features = None

    def prepare(self, inp: NetInput) -> None:
        """Image-only work of the network for the input the first click will see (its image stem)."""
        if self._split_forward:
            self._features = (inp.key, self.model.image_features(inp.rgb))

    def make_refiner(self, mode: str, flip: bool, settings):
        """`settings`: the predictor's, which own the threshold the refinement objective reads."""
        return make_refiner(mode, self.model, flip, settings)

    def network(self, inp: NetInput, points: torch.Tensor) -> torch.Tensor:
        prev = inp.prev if self.uses_prev_mask else None
        if self._split_forward:
            if self._features is None or self._features[0] != inp.key:
                self._features = (inp.key, self.model.image_features(inp.rgb))
            out = self.model.forward_from_features(self._features[1], prev, points, with_aux=False)
        else:
            x = inp.rgb if prev is None else torch.cat([inp.rgb, prev], dim=1)
            out = self.model(x, points)
        logits = out["instances"]
        if logits.shape[2:] != inp.rgb.shape[2:]:
            logits = torch.nn.functional.interpolate(logits, size=inp.rgb.shape[2:], mode="bilinear",
                                                     align_corners=True)
        return logits
