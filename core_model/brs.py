"""Back-propagating refinement (RITM's BRS predictors for HRNet models): at each click from the second on, a
few auxiliary parameters are fitted by L-BFGS-B so that the clicked pixels get the labels the user gave
them (see brs_objective), and the click gets the best prediction seen.

- f-BRS-A and f-BRS-B (the same for HRNet models, as in RITM): a per-channel scale and bias over the
  backbone's concatenated multi-resolution features (15 × width channels); the OCR block and the
  classifier run at every step.
- f-BRS-C: scale and bias over the OCR block's output (2 × ocr_width channels); only the classifier runs.
- RGB-BRS / DistMap-BRS: a bias added to the normalised image / to the click maps; the whole network runs
  at every step.  The bias belongs to one network input: it starts again from zero whenever the input
  changes (RITM: when a transform reports a new image; here also when zoom-in goes back to the whole
  image), which makes these modes work with zoom-in, where RITM's fail.

A refiner keeps its parameters from click to click (warm start) and reports them in get_state so that an
undo restores them exactly.  Works on the model as loaded and on its inference copy (the gradient flows
through the folded convolutions; inference tensors are copied before they enter the graph), on any device.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .brs_modes import BRS_MODES, NO_BRS, OPTIMIZE_AFTER_N_CLICKS, brs_net_clicks_limit, check_brs_mode  # noqa: F401
from .brs_objective import ClickObjective, click_masks, input_bias_unpack, minimize, scale_bias_unpack


def make_refiner(mode: str, model, flip: bool, settings):
    """The refiner of `mode` for `model`, or None for NoBRS; `settings` (the predictor's PredictorSettings)
    own the threshold, read at every click."""
    if check_brs_mode(mode) == NO_BRS:
        return None
    if not hasattr(model, "feature_extractor") or not hasattr(model, "coord_features"):
        raise ValueError(f"{mode} needs a core_model HRNet model (from load_model or build_model).")
    if mode.startswith("f-BRS"):
        return FeatureRefiner(model, "C" if mode == "f-BRS-C" else "A", flip, settings)
    return InputRefiner(model, "dmaps" if mode == "DistMap-BRS" else "rgb", flip, settings)


def _plain(t: torch.Tensor | None) -> torch.Tensor | None:
    """A normal (non-inference) copy that autograd may save."""
    return None if t is None else t.clone()


class _Refiner:
    def __init__(self, model, flip: bool, settings):
        self.model = model
        self.flip = flip
        self.settings = settings      # the predictor's: its threshold is the clicks' objective's
        self.device = next(model.parameters()).device
        self.evaluations = 0          # objective evaluations at the last click (0: not optimised)
        self.reset()

    def reset(self) -> None:
        self.opt_data: np.ndarray | None = None
        self.input_data: Any = None

    def get_state(self):
        return self.opt_data, self.input_data

    def set_state(self, state) -> None:
        self.opt_data, self.input_data = state

    def _prepared(self, inp, points):
        """Normalised RGB and click maps (after the previous mask) of the network input."""
        m = self.model
        rgb = m.normalize(_plain(inp.rgb)).contiguous(memory_format=m.memory_format)
        prev = _plain(inp.prev) if getattr(m, "with_prev_mask", False) else None
        if prev is not None and m.binary_prev_mask:
            prev = (prev > 0.5).float()
        return rgb, m.coord_features(rgb, prev, _plain(points))

    def _stem_and_maps(self, rgb, coord):
        m, fe = self.model, self.model.feature_extractor
        if m.rgb_conv is not None:
            return fe.image_stem(m.rgb_conv(torch.cat((rgb, coord), dim=1))), None
        return fe.image_stem(rgb), m.maps_transform(coord)

    def refine(self, inp, clicks_lists, image_changed: bool, points: torch.Tensor,
               net_clicks_limit: int | None) -> torch.Tensor:
        """The network's B×1×H×W logits at the input's size for this click, refined."""
        with torch.inference_mode(False):
            return self._refine(inp, clicks_lists, image_changed, points, net_clicks_limit).clone()

    def _optimise(self, logits_of, unpack, clicks_lists, shape, n_clicks: int) -> torch.Tensor:
        pos, neg = click_masks(clicks_lists, shape, self.device)
        objective = ClickObjective(logits_of, unpack, pos, neg, self.settings.threshold, self.device)
        if n_clicks > OPTIMIZE_AFTER_N_CLICKS:
            self.opt_data = minimize(objective, self.opt_data.ravel()).reshape(self.opt_data.shape)
        self.evaluations = objective.evaluations
        if objective.best_logits is not None:
            return objective.best_logits
        with torch.no_grad():
            args, _ = unpack(torch.from_numpy(self.opt_data.ravel()).float().to(self.device))
            return logits_of(*args)

    def _refine(self, inp, clicks_lists, image_changed, points, net_clicks_limit) -> torch.Tensor:
        raise NotImplementedError


def _resize(logits: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=True)


class FeatureRefiner(_Refiner):
    """f-BRS for HRNet models: `insertion` 'A' (backbone features) or 'C' (the OCR block's output)."""

    def __init__(self, model, insertion: str, flip: bool, settings):
        fe = model.feature_extractor
        self.insertion = insertion
        self.num_channels = 15 * fe.width if insertion == "A" else 2 * fe.ocr_width
        super().__init__(model, flip, settings)

    def _head_input(self, inp, points) -> torch.Tensor:
        fe = self.model.feature_extractor
        with torch.no_grad():
            stem, maps = self._stem_and_maps(*self._prepared(inp, points))
            feats = fe.backbone_features(stem if maps is None else maps.add_(stem))
            return feats if self.insertion == "A" else fe.ocr_features(feats)[0]

    def _refine(self, inp, clicks_lists, image_changed, points, net_clicks_limit):
        fe = self.model.feature_extractor
        n_clicks = len(clicks_lists[0])
        bs = inp.rgb.shape[0] // 2 if self.flip else inp.rgb.shape[0]
        if self.opt_data is None or self.opt_data.size != bs * 2 * self.num_channels:
            self.opt_data = np.zeros(bs * 2 * self.num_channels, dtype=np.float32)
        # RITM: past the net clicks limit the head input stays that of the last click within it.
        if net_clicks_limit is None or n_clicks <= net_clicks_limit or image_changed or self.input_data is None:
            self.input_data = self._head_input(inp, points)
        feats, size = self.input_data, inp.rgb.shape[2:]

        def logits_of(scale, bias):
            x = feats * scale + bias
            if self.insertion == "A" and fe.ocr_width > 0:
                x = fe.ocr_features(x)[0]
            return _resize(fe.cls_head(x), size)

        return self._optimise(logits_of, scale_bias_unpack(bs, self.flip), clicks_lists, size, n_clicks)


class InputRefiner(_Refiner):
    """RGB-BRS (`target` 'rgb': bias on the normalised image) or DistMap-BRS ('dmaps': on the click maps)."""

    def __init__(self, model, target: str, flip: bool, settings):
        self.target = target
        super().__init__(model, flip, settings)

    def reset(self) -> None:
        super().reset()
        self.input_data = None        # the key of the network input the bias belongs to

    def _refine(self, inp, clicks_lists, image_changed, points, net_clicks_limit):
        m, fe = self.model, self.model.feature_extractor
        n_clicks = len(clicks_lists[0])
        b, _, h, w = inp.rgb.shape
        bs = b // 2 if self.flip else b
        with torch.no_grad():
            rgb, coord = self._prepared(inp, points)
            stem = self._stem_and_maps(rgb, coord)[0] if self.target == "dmaps" else None
        n_prev = 1 if getattr(m, "with_prev_mask", False) else 0
        shape = (bs, 3 if self.target == "rgb" else coord.shape[1] - n_prev, h, w)
        if self.opt_data is None or image_changed or self.input_data != inp.key or self.opt_data.shape != shape:
            self.opt_data = np.zeros(shape, dtype=np.float32)
        self.input_data = inp.key

        def logits_of(bias):
            if self.target == "rgb":
                x = (rgb + bias).contiguous(memory_format=m.memory_format)
                s, extra = self._stem_and_maps(x, coord)
            else:
                biased = torch.cat([coord[:, :n_prev], coord[:, n_prev:] + bias], dim=1)
                biased = biased.contiguous(memory_format=m.memory_format)
                s, extra = (stem, m.maps_transform(biased)) if m.rgb_conv is None \
                    else self._stem_and_maps(rgb, biased)
            return _resize(fe.forward_from_stem(s, extra)[0], (h, w))

        return self._optimise(logits_of, input_bias_unpack(shape, self.flip), clicks_lists, (h, w), n_clicks)
