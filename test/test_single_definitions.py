"""One definition each, shared by evaluation/inference (core_model) and training: the points tensor, IoU/NoC,
the dataset folder layouts and the GrabCut mask-value rule."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import training.points_sampler as points_sampler
import training.validate as validate
from core_model.clicks import Click, next_click
from core_model.datasets import EvalDataset, grabcut_labels
from core_model.noc import iou, mean_iou_at, noc
from core_model.points import NetClick, net_clicks, points_rows, points_tensor
from core_model.predictor import InteractivePredictor, PredictorSettings
from training.datasets import ImageFolderDataset


class RecordingModel(torch.nn.Module):
    """Stands in for the network: records the points it is given, predicts 0 logits (probability 0.5)."""
    with_prev_mask = True

    def __init__(self):
        super().__init__()
        self.points = []

    def forward(self, x, points):
        self.points.append(points.clone())
        return {"instances": torch.zeros(x.shape[0], 1, x.shape[2], x.shape[3])}


def test_points_tensor_layout():
    clicks = [Click(3, 4, True), Click(5, 6, False), Click(7, 8, True)]
    expected = torch.tensor([[[3, 4, 0], [7, 8, 2], [5, 6, 1], [-1, -1, -1]]], dtype=torch.float32)
    assert torch.equal(points_tensor([net_clicks(clicks)]), expected)
    assert torch.equal(points_tensor([net_clicks(clicks, index_offset=1)])[0, :, 2], torch.tensor([1., 3, 2, -1]))
    with pytest.raises(ValueError, match="do not fit"):
        points_rows(net_clicks(clicks), 1)


def test_predictor_and_training_validation_give_the_network_the_same_points():
    gt = np.zeros((24, 32), np.int8)
    gt[4:14, 6:20] = 1
    model = RecordingModel()
    validate.run_sessions(model, [(np.zeros((24, 32, 3), np.uint8), gt)], max_clicks=3)
    # the clicks the simulator chose there: the model predicts 0.5 > 0.49, i.e. everything, after click 1
    clicks = [next_click(gt, np.zeros(gt.shape, bool))]
    for _ in range(2):
        clicks.append(next_click(gt, np.ones(gt.shape, bool), clicked=clicks))
    assert [c.is_positive for c in clicks] == [True, False, False]

    predictor = InteractivePredictor(RecordingModel(), settings=PredictorSettings(zoom_in=False, flip=False))
    predictor.set_image(np.zeros((24, 32, 3), np.uint8))
    for c in clicks:
        predictor.add_click(c.row, c.col, c.is_positive)
    assert len(model.points) == len(predictor.model.points) == 3
    for from_training, from_predictor in zip(model.points, predictor.model.points):
        assert torch.equal(from_training, from_predictor)
    assert torch.equal(predictor.model.points[-1], points_tensor([net_clicks(clicks)]))


def test_click_sampler_rows_are_the_points_tensor_with_max_points_rows():
    labels = np.zeros((60, 60), np.int32)
    labels[10:40, 10:40] = 1
    labels[45:55, 45:55] = 2
    settings = points_sampler.SamplerSettings(max_points=6, merge_prob=0.0)
    for seed in range(5):
        _, rows = points_sampler.sample_clicks(labels, 1, np.random.default_rng(seed), settings)
        pos = [NetClick(r, c, True, int(i)) for r, c, i in rows[:6] if r >= 0]
        neg = [NetClick(r, c, False, int(i)) for r, c, i in rows[6:] if r >= 0]
        assert pos and all(labels[int(c.row), int(c.col)] == 1 for c in pos)
        rebuilt = points_tensor([pos + neg], n_points=settings.max_points)[0].numpy()
        np.testing.assert_array_equal(rows, rebuilt)
        assert set(rows[:, 2]) <= {points_sampler.SAMPLED_CLICK_INDEX, -1}


def test_training_validation_uses_core_model_iou_and_noc():
    assert validate.iou is iou and validate.noc is noc and validate.points_tensor is points_tensor
    ious = np.array([[0.5, 0.86, 0.91, 0.95], [0.2, 0.3, 0.4, 0.5]])
    res = validate.summarize(ious, max_clicks=4)
    assert res["val_noc85"] == pytest.approx((2 + 4) / 2) and res["val_noc90"] == pytest.approx((3 + 4) / 2)
    assert res["val_miou@2"] == pytest.approx(mean_iou_at(list(ious), 2))


def test_grabcut_value_rule():
    values = np.array([0, 1, 64, 127, 128, 129, 200, 254, 255], np.uint8)
    np.testing.assert_array_equal(grabcut_labels(values), [0, 0, 0, 0, -1, 1, 1, 1, 1])


def _write(path, array):
    ok, buf = cv2.imencode(path.suffix, array)
    assert ok
    buf.tofile(str(path))


def test_evaluation_and_training_read_a_grabcut_folder_alike(tmp_path):
    (tmp_path / "data_GT").mkdir()
    (tmp_path / "boundary_GT").mkdir()
    _write(tmp_path / "data_GT" / "sheep 1.jpg", np.full((8, 9, 3), 90, np.uint8))
    values = np.arange(72, dtype=np.uint8).reshape(8, 9) * 3 + 40     # 40 … 253, holds 127, 128, 130
    values[0, 0], values[0, 1], values[0, 2] = 1, 128, 255
    _write(tmp_path / "boundary_GT" / "sheep 1.bmp", values)
    evaluation = EvalDataset(tmp_path)[0].gt
    training = ImageFolderDataset(tmp_path).get(0).labels
    np.testing.assert_array_equal(evaluation, training)
    np.testing.assert_array_equal(evaluation, grabcut_labels(values))
    assert evaluation[0, 0] == 0 and evaluation[0, 1] == -1 and evaluation[0, 2] == 1   # 1 is background


def test_evaluation_and_training_find_the_same_masks(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    image = np.full((6, 8, 3), 50, np.uint8)
    for name in ("a.b.jpg", "c d.jpg", "no mask.jpg", "e.png"):
        _write(tmp_path / "img" / name, image)
    for name, value in (("a.png", 255), ("c d.png", 7), ("e.png", 0)):
        mask = np.zeros((6, 8, 3), np.uint8)
        mask[1:3, 2:4, 2] = value
        _write(tmp_path / "gt" / name, mask)
    (tmp_path / "img" / "notes.txt").write_text("not an image")
    evaluation = EvalDataset(tmp_path)
    training = ImageFolderDataset(tmp_path)
    assert [p.name for p in evaluation.images] == ["a.b.jpg", "c d.jpg", "e.png", "no mask.jpg"]
    assert [(p.name, m.name) for p, m in training.pairs] == [("a.b.jpg", "a.png"), ("c d.jpg", "c d.png"),
                                                             ("e.png", "e.png")]
    for i, (path, mask) in enumerate(training.pairs):
        assert evaluation.mask_path(path) == mask
        np.testing.assert_array_equal(evaluation[i].gt, training.get(i).labels)
    assert evaluation[1].gt.sum() == 4 and evaluation[2].gt.sum() == 0
