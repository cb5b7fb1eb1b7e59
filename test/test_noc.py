"""NoC protocol, click simulator and evaluation-dataset readers on small hand-made data."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core_model.clicks import Click, ClickSimulator, next_click
from core_model.datasets import DatasetError, EvalDataset, detect_layout
from core_model.noc import clicks_to_reach, iou, mean_iou_at, noc


def test_iou_leaves_out_ignored_pixels():
    gt = np.array([[1, 1, 0, -1],
                   [1, 1, 0, -1]], dtype=np.int8)
    pred = np.array([[1, 0, 1, 1],
                     [1, 1, 0, 1]], dtype=bool)
    # object 4 px, prediction on valid pixels 4 px (3 hits + 1 false positive); ignore column not counted
    assert iou(gt, pred) == pytest.approx(3 / 5)
    assert iou(gt, gt == 1) == 1.0
    assert iou(np.zeros((2, 2), np.int8), np.zeros((2, 2), bool)) == 1.0


def test_clicks_to_reach_and_noc():
    assert clicks_to_reach([0.5, 0.86, 0.91], 0.85) == 2
    assert clicks_to_reach([0.5, 0.86, 0.91], 0.90) == 3
    assert clicks_to_reach([0.5, 0.6], 0.85, max_clicks=20) == 20
    assert clicks_to_reach([0.85], 0.85) == 1                       # reaching counts (>=)
    all_ious = [[0.9, 0.95], [0.2, 0.5, 0.86, 0.88], [0.1] * 20]
    nocs, over = noc(all_ious, (0.85, 0.90), max_clicks=20)
    assert nocs == pytest.approx([(1 + 3 + 20) / 3, (1 + 20 + 20) / 3])
    assert over == [1, 2]


def test_mean_iou_at_carries_last_value_of_stopped_sessions():
    all_ious = [[0.2, 0.95], [0.1, 0.3, 0.5]]
    assert mean_iou_at(all_ious, 1) == pytest.approx(0.15)
    assert mean_iou_at(all_ious, 3) == pytest.approx((0.95 + 0.5) / 2)


def test_simulator_clicks_centre_of_larger_error():
    gt = np.zeros((20, 30), np.int8)
    gt[2:13, 3:14] = 1                                             # 11×11 object, centre (7, 8)
    empty = np.zeros(gt.shape, bool)
    assert next_click(gt, empty) == Click(7, 8, True)
    # Prediction covers the object and a bigger false region: negative click in that region.
    pred = gt == 1
    pred[4:19, 15:30] = True                                       # 15×15 false positive, centre (11, 22)
    c = next_click(gt, pred)
    assert c == Click(11, 22, False)
    # The image border counts as boundary (padding): a region touching the border is not deeper there.
    border = np.zeros((10, 10), np.int8)
    border[:, :4] = 1
    assert next_click(border, np.zeros((10, 10), bool)) == Click(1, 1, True)   # first of the deepest, not row 0
    # Ignored pixels never attract clicks, and a clicked pixel is not chosen again.
    ign = gt.copy()
    ign[2:13, 3:14] = -1
    assert next_click(ign, np.zeros(gt.shape, bool)).is_positive is False
    second = next_click(gt, empty, clicked=[Click(7, 8, True)])
    assert second != Click(7, 8, True) and second.is_positive and gt[second.row, second.col] == 1
    sim = ClickSimulator(gt)
    assert sim.next(empty) == Click(7, 8, True)
    assert sim.next(empty) == second


def _write(path, array):
    ok, buf = cv2.imencode(path.suffix, array)
    assert ok
    buf.tofile(str(path))


def test_davis_layout_reader(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 200                                              # red in RGB
    _write(tmp_path / "img" / "my photo 1.jpg", rgb[..., ::-1].copy())
    mask3 = np.zeros((6, 8, 3), np.uint8)
    mask3[1:3, 2:5, 1] = 128                                       # object in one channel only
    _write(tmp_path / "gt" / "my photo 1.png", mask3)
    _write(tmp_path / "img" / "b.x.jpg", rgb[..., ::-1].copy())
    single = np.zeros((6, 8), np.uint8)
    single[4:, :] = 255
    _write(tmp_path / "gt" / "b.png", single)                      # mask found by the part before the first dot
    ds = EvalDataset(tmp_path)
    assert ds.layout == "davis" and len(ds) == 2
    names = [ds[i].name for i in range(2)]
    assert names == ["b.x.jpg", "my photo 1.jpg"]
    s = ds[1]
    assert s.image.shape == (6, 8, 3) and s.image.dtype == np.uint8
    assert s.image[..., 0].mean() > 150 and s.image[..., 2].mean() < 50
    expected = np.zeros((6, 8), np.int8)
    expected[1:3, 2:5] = 1
    assert np.array_equal(s.gt, expected)
    assert ds[0].gt.sum() == 16 and ds[0].gt.min() == 0


def test_grabcut_layout_reader_and_ignore_band(tmp_path):
    (tmp_path / "data_GT").mkdir()
    (tmp_path / "boundary_GT").mkdir()
    _write(tmp_path / "data_GT" / "sheep 2.jpg", np.full((10, 10, 3), 90, np.uint8))
    m = np.zeros((10, 10), np.uint8)
    m[2:8, 2:8] = 128
    m[3:7, 3:7] = 255
    _write(tmp_path / "boundary_GT" / "sheep 2.bmp", m)
    assert detect_layout(tmp_path) == "grabcut"
    gt = EvalDataset(tmp_path)[0].gt
    assert gt.dtype == np.int8
    assert (gt == 1).sum() == 16 and (gt == -1).sum() == 36 - 16 and (gt == 0).sum() == 64
    pred = np.zeros((10, 10), bool)
    pred[2:8, 2:8] = True                                          # over the band: still a perfect IoU
    assert iou(gt, pred) == 1.0


def test_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        EvalDataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="not a dataset folder"):
        EvalDataset(tmp_path)
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    _write(tmp_path / "img" / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="No mask for a.jpg"):
        EvalDataset(tmp_path)[0]
    (tmp_path / "gt" / "a.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="not an image"):
        EvalDataset(tmp_path)[0]
