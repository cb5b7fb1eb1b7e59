"""The evaluation layouts beside DAVIS and GrabCut: images/ + masks/ (Berkeley, the avalanche fork's sets),
SBD (img/ + inst/*.mat, one sample per object) and Pascal VOC (JPEGImages/ + SegmentationObject/ + an
image-set list, 255 ignored), detected from the folder or forced."""
from __future__ import annotations

import numpy as np
import pytest

from core_model.datasets import DatasetError, EvalDataset, LayoutFolder, detect_layout
from eval_fixtures import davis_folder, grabcut_folder, images_masks_folder, sbd_folder, voc_folder, write_image


def test_images_masks_layout_any_non_zero_pixel_is_the_object(tmp_path):
    objects = images_masks_folder(tmp_path, count=2, mask_value=1)       # masks of 0 / 1, as the fork's
    write_image(tmp_path / "masks" / "aval 1.png", (objects[1] * 7).astype(np.uint8))   # 0 / 7 still counts
    assert detect_layout(tmp_path) == "images-masks"
    ds = EvalDataset(tmp_path)
    assert ds.layout == "images-masks" and len(ds) == 2
    assert [ds[i].name for i in range(2)] == ["aval 0.jpg", "aval 1.jpg"]
    for i in range(2):
        assert ds[i].gt.dtype == np.int8
        assert np.array_equal(ds[i].gt == 1, objects[i]) and (ds[i].gt >= 0).all()
    assert EvalDataset(tmp_path, "berkeley").layout == "images-masks"            # the alias, forced
    assert LayoutFolder(tmp_path).layout == "images-masks"                        # training reads it too


def test_sbd_layout_one_sample_per_instance_from_the_mat_struct(tmp_path):
    from scipy.io import loadmat
    maps = sbd_folder(tmp_path, split_names=("b", "a"))
    # the fixture is SBD's real format: RITM reads loadmat(...)['GTinst'][0][0][0]
    assert np.array_equal(loadmat(str(tmp_path / "inst" / "a.mat"))["GTinst"][0][0][0], maps["a"])
    assert detect_layout(tmp_path) == "sbd"
    ds = EvalDataset(tmp_path)
    assert ds.layout == "sbd" and len(ds) == 3                                   # b: 1 object, a: 2
    assert [ds[i].name for i in range(3)] == ["b#1", "a#1", "a#2"]
    for i, (name, obj) in enumerate((("b", 1), ("a", 1), ("a", 2))):
        s = ds[i]
        assert s.image.shape[:2] == s.gt.shape and s.image.dtype == np.uint8
        assert np.array_equal(s.gt, (maps[name] == obj).astype(np.int8))
    (tmp_path / "train.txt").write_text("a\n")
    only_a = EvalDataset(tmp_path, "sbd", split="train")
    assert [only_a[i].name for i in range(len(only_a))] == ["a#1", "a#2"]
    with pytest.raises(DatasetError, match="test.txt does not exist"):
        EvalDataset(tmp_path, split="test")
    (tmp_path / "val.txt").unlink()                                               # no list: every .mat
    assert len(EvalDataset(tmp_path)) == 3
    (tmp_path / "inst" / "a.mat").write_bytes(b"not matlab")
    with pytest.raises(DatasetError, match="not a MATLAB file"):
        EvalDataset(tmp_path)


def test_voc_layout_reads_palette_indices_and_ignores_255(tmp_path):
    import cv2
    index = voc_folder(tmp_path)
    # OpenCV would give the palette's colours (the object-1 pixels are not 1 in grey): the reader must not
    colour = cv2.imread(str(tmp_path / "SegmentationObject" / "2007_000032.png"), cv2.IMREAD_GRAYSCALE)
    assert not np.array_equal(colour, index)
    assert detect_layout(tmp_path) == "voc"
    ds = EvalDataset(tmp_path)
    assert ds.layout == "voc" and len(ds) == 2
    for i, obj in enumerate((1, 2)):
        s = ds[i]
        assert s.name == f"2007_000032#{obj}"
        assert np.array_equal(s.gt == 1, index == obj)
        assert np.array_equal(s.gt == -1, index == 255) and (index == 255).sum() > 0
    with pytest.raises(DatasetError, match="train.txt does not exist"):
        EvalDataset(tmp_path, "pascal", split="train")


def test_detection_order_and_errors(tmp_path):
    davis_folder(tmp_path / "davis")
    grabcut_folder(tmp_path / "grab")
    assert detect_layout(tmp_path / "davis") == "davis" and detect_layout(tmp_path / "grab") == "grabcut"
    with pytest.raises(DatasetError, match="neither img/.* nor images/ \\+ masks/.*inst/.*SegmentationObject/"):
        EvalDataset(tmp_path)
    with pytest.raises(DatasetError, match="lacks the img/ and inst/"):
        EvalDataset(tmp_path / "davis", "sbd")
    with pytest.raises(DatasetError, match="Unknown dataset layout 'coco'"):
        EvalDataset(tmp_path / "davis", "coco")
