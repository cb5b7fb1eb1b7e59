"""Predictor transforms where RITM's own code goes wrong: a longest-side limit behind zoom-in, a mask that empties."""
import numpy as np
import torch

from core_model.predictor import InteractivePredictor, PredictorSettings
from core_model.transforms import LimitLongestSide, NetClick, NetInput


def test_longest_side_limit_follows_inputs_whose_size_changes():
    """Zoom-in hands the limit a full image, then a small crop, then the full image again."""
    lls = LimitLongestSide(64)
    big = NetInput(torch.rand(1, 3, 160, 120), torch.zeros(1, 1, 160, 120), "big")
    small = NetInput(torch.rand(1, 3, 48, 40), torch.zeros(1, 1, 48, 40), "small")
    clicks = [[NetClick(row=10.0, col=10.0, is_positive=True, index=0)]]
    for inp in (big, small, big):
        out, mapped = lls.transform(inp, clicks)
        assert max(out.height, out.width) == (64 if inp is big else 48)
        prob = torch.rand(1, 1, out.height, out.width)
        back = lls.inv_transform(prob)
        assert tuple(back.shape) == (1, 1, inp.height, inp.width)
        if inp is small:
            assert torch.equal(back, prob) and mapped == clicks


class DiskModel(torch.nn.Module):
    """Stand-in network: logit +5 within 6 px of a positive click unless within 6 px of a negative one."""
    with_prev_mask = True

    def forward(self, image, points):
        b, _, h, w = image.shape
        rows = torch.arange(h).view(h, 1).float()
        cols = torch.arange(w).view(1, w).float()
        n = points.shape[1] // 2
        out = torch.full((b, 1, h, w), -5.0)
        for i in range(b):
            pos = torch.zeros(h, w, dtype=torch.bool)
            neg = torch.zeros(h, w, dtype=torch.bool)
            for k, (r, c, idx) in enumerate(points[i].tolist()):
                if idx < 0:
                    continue
                near = (rows - r) ** 2 + (cols - c) ** 2 <= 36
                if k < n:
                    pos |= near
                else:
                    neg |= near
            out[i, 0][pos & ~neg] = 5.0
        return {"instances": out}


def test_predictor_with_zoom_in_and_longest_side_limit_survives_an_emptied_mask():
    """Mask → zoomed crop below the limit → mask emptied by negative clicks → zoom-in falls back to the
    whole image, which the limit scales again (RITM's LimitLongestSide crashes here) and whose prediction
    stays where it belongs (RITM pastes it into the old zoom region)."""
    settings = PredictorSettings(zoom_target_size=48, zoom_min_crop_size=16, max_longest_side=64, flip=False)
    predictor = InteractivePredictor(DiskModel(), settings=settings)
    predictor.set_image(np.zeros((160, 120, 3), np.uint8))
    shapes, sizes = [], []
    for row, col, positive in ((80, 60, True), (82, 60, True), (80, 60, False), (82, 60, False), (20, 20, True)):
        probs = predictor.add_click(row, col, positive)
        shapes.append(probs.shape)
        sizes.append(int((probs > 0.5).sum()))
    assert shapes == [(160, 120)] * 5
    assert sizes[0] > sizes[1] > 0 and sizes[3] == 0 and sizes[4] > 0
    assert predictor.mask[20, 20] and not predictor.mask[80, 60]
