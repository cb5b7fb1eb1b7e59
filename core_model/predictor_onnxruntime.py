"""The predictor's ONNX Runtime engine (no torch): the network call of a click on numpy arrays.

The click maps (core_model.click_maps_numpy), the previous-mask channel (binarised when the checkpoint
says so) and the image normalisation are computed in numpy; the network itself runs in ONNX Runtime
(core_model.onnx_network).  With flip averaging the batch is the input and its mirror, as with torch.
Refinement modes need gradients through the network and stay with the torch engine.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from .brs_modes import NO_BRS, check_brs_mode
from .click_maps_numpy import click_maps_array
from .errors import EngineError
from .points import points_array
from .transforms import NetInput

ENGINE_NAME = "onnxruntime"


class OnnxRuntimeEngine:
    name = ENGINE_NAME
    description = "ONNX Runtime, CPU"
    device = "cpu"

    def __init__(self, network, cache: bool):
        self.model = network
        self.uses_prev_mask = bool(network.with_prev_mask)
        self._cache = cache
        self._normalized = None  # (key, normalised image) while the network input stays the same

    def image_array(self, rgb: np.ndarray) -> np.ndarray:
        return (np.ascontiguousarray(rgb.transpose(2, 0, 1)).astype(np.float32) / np.float32(255))[None]

    def mask_array(self, mask: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(mask, dtype=np.float32)[None, None]

    def inference(self):
        return nullcontext()

    def points(self, clicks_lists, net_clicks_limit) -> np.ndarray:
        return points_array(clicks_lists, net_clicks_limit)

    def forget_image(self) -> None:
        self._normalized = None

    def prepare(self, inp: NetInput) -> None:
        if self._cache:
            self._normalized = (inp.key, self.model.normalize(inp.rgb))

    def make_refiner(self, mode: str, flip: bool, settings):
        if check_brs_mode(mode) != NO_BRS:
            raise EngineError(f"The refinement mode {mode} needs the PyTorch engine (it back-propagates through "
                              "the network); install torch or use NoBRS with ONNX Runtime.")
        return None

    def network(self, inp: NetInput, points: np.ndarray) -> np.ndarray:
        net = self.model
        if self._normalized is not None and self._normalized[0] == inp.key:
            image = self._normalized[1]
        else:
            image = net.normalize(inp.rgb)
            if self._cache:
                self._normalized = (inp.key, image)
        maps = click_maps_array(points, inp.height, inp.width, net.norm_radius, net.use_disks)
        if self.uses_prev_mask:
            prev = (inp.prev > 0.5).astype(np.float32) if net.binary_prev_mask else inp.prev
            coord = np.concatenate([prev.astype(np.float32, copy=False), maps], axis=1)
        else:
            coord = maps
        return net(image, coord)
