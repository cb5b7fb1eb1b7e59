"""The avalanche fork's annotations: a COCO-style JSON (as Scalabel exports it: polygons and RLE) and its
images → an images/ + masks/ folder (python -m core_model.import_annotations), and the same JSON as
training data (training --data coco:JSON,IMAGES)."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO
from core_model.cli.import_annotations import main
from core_model.datasets import EvalDataset, read_image_file
from eval_fixtures import write_image

H, W = 30, 40


def _rle_counts(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with a background run."""
    flat = mask.flatten(order="F").astype(np.uint8)
    counts, value, run = [], 0, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return counts


@pytest.fixture
def annotated(tmp_path):
    """Three images: 'slope 1.jpg' with a polygon and a compressed RLE, 'b.jpg' with none, 'c.d.jpg'
    (in a sub-folder name, as Scalabel may write) with an uncompressed RLE."""
    from pycocotools import mask as mask_utils
    images = tmp_path / "photos"
    for name in ("slope 1.jpg", "b.jpg", "c.d.jpg"):
        write_image(images / name, np.full((H, W, 3), 120, np.uint8))
    rle_mask = np.zeros((H, W), np.uint8)
    rle_mask[20:26, 25:35] = 1
    compressed = mask_utils.encode(np.asfortranarray(rle_mask))
    third = np.zeros((H, W), np.uint8)
    third[2:5, 3:9] = 1
    data = {
        "images": [{"id": 1, "file_name": "slope 1.jpg", "width": W, "height": H},
                   {"id": 2, "file_name": "b.jpg", "width": W, "height": H},
                   {"id": 3, "file_name": "items/c.d.jpg", "width": W, "height": H}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0,
             "segmentation": [[4.0, 4.0, 16.0, 4.0, 16.0, 14.0, 4.0, 14.0]]},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1,
             "segmentation": {"size": [H, W], "counts": compressed["counts"].decode("ascii")}},
            {"id": 12, "image_id": 3, "category_id": 1, "iscrowd": 1,
             "segmentation": {"size": [H, W], "counts": _rle_counts(third)}}],
        "categories": [{"id": 1, "name": "avalanche"}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    polygon = np.zeros((H, W), np.uint8)
    cv2.fillPoly(polygon, [np.array([[4, 4], [16, 4], [16, 14], [4, 14]], np.int32)], 1)
    return path, images, polygon.astype(bool), rle_mask.astype(bool), third.astype(bool)


def _mask(path):
    return read_image_file(path, cv2.IMREAD_GRAYSCALE)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Polygons are rasterised by pycocotools' rule: the same shape give or take its edge pixels."""
    return (a & b).sum() / (a | b).sum() > 0.75 and a[7:12, 7:13].all() and not a[20:, :].any()


def test_one_mask_per_image_holds_every_object(annotated, tmp_path, capsys):
    path, images, polygon, rle, third = annotated
    out = tmp_path / "dataset"
    assert main([str(path), str(images), str(out)]) == 0
    assert "2 masks of 2 images" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["c_d.png", "slope 1.png"]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["c_d.jpg", "slope 1.jpg"]
    first = _mask(out / "masks" / "slope 1.png")
    assert set(np.unique(first)) == {0, 255}
    assert np.array_equal(first[20:, :] == 255, rle[20:, :])          # the RLE, exactly
    assert _close(first[:20] == 255, polygon[:20])                       # the polygon
    assert np.array_equal(_mask(out / "masks" / "c_d.png") == 255, third)
    ds = EvalDataset(out)
    assert ds.layout == "images-masks" and len(ds) == 2
    assert np.array_equal(ds[1].gt == 1, first == 255)


def test_per_instance_and_training_data(annotated, tmp_path):
    path, images, polygon, rle, third = annotated
    out = tmp_path / "instances"
    assert main([str(path), str(images), str(out), "--per-instance"]) == 0
    masks = sorted(p.name for p in (out / "masks").iterdir())
    assert masks == ["c_d_obj1.png", "slope 1_obj1.png", "slope 1_obj2.png"]
    assert _close(_mask(out / "masks" / "slope 1_obj1.png") == 255, polygon)
    assert np.array_equal(_mask(out / "masks" / "slope 1_obj2.png") == 255, rle)
    assert len(list((out / "images").iterdir())) == 3

    from training.data_spec import build_datasets, parse_spec
    assert parse_spec(f"{path},{images},val=1").kind == "coco"            # a .json path is recognised
    train, val = build_datasets(f"coco:{path},{images}")
    assert val is None and len(train) == 2
    sample = train.get(0)
    assert sample.labels.dtype == np.int32 and set(np.unique(sample.labels)) == {0, 1} and sample.target == 1
    assert np.array_equal(sample.labels[20:] == 1, rle[20:]) and sample.image.shape == (H, W, 3)
    train, _ = build_datasets(f"{path},{images},objects=instances")
    sample = train.get(0)
    assert set(np.unique(sample.labels)) == {0, 1, 2} and sample.target is None
    assert np.array_equal(sample.labels == 2, rle)


def test_bad_input_is_one_line(annotated, tmp_path):
    path, images, *_ = annotated

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "core_model.import_annotations", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        return lines[0]

    (tmp_path / "bad.json").write_text("{not json")
    assert "is not JSON" in run(tmp_path / "bad.json", images, tmp_path / "o1")
    (tmp_path / "flat.json").write_text(json.dumps({"images": []}))
    assert "lacks the 'images' and 'annotations' lists" in run(tmp_path / "flat.json", images, tmp_path / "o2")
    data = json.loads(path.read_text())
    data["annotations"][0]["segmentation"] = [[1, 2, 3]]
    (tmp_path / "short.json").write_text(json.dumps(data))
    assert "at least three x, y pairs" in run(tmp_path / "short.json", images, tmp_path / "o3")
    (images / "b.jpg").rename(images / "gone.jpg")
    (images / "slope 1.jpg").unlink()
    assert "slope 1.jpg of the annotation file is not in" in run(path, images, tmp_path / "o4")
    from core_model.errors import DatasetError
    from training.data_spec import build_datasets
    with pytest.raises(DatasetError, match="is not in"):
        build_datasets(f"coco:{path},{images}")
