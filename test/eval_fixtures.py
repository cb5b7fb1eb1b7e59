"""Tiny evaluation datasets in every layout, written by the tests (images from core_model.benchmark's
synthetic scene: a textured background with one bright object)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core_model.cli.benchmark import synthetic_scene


def write_image(path: Path, array: np.ndarray) -> None:
    """Write an RGB (H×W×3) or single-channel array with OpenCV (RGB is turned into OpenCV's BGR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = array[..., ::-1].copy() if array.ndim == 3 else array
    ok, buf = cv2.imencode(path.suffix, data)
    assert ok
    buf.tofile(str(path))


def scenes(count: int, width: int = 64):
    return [synthetic_scene(width, seed=10 + i) for i in range(count)]


def images_masks_folder(root: Path, count: int = 2, mask_value: int = 1) -> list[np.ndarray]:
    """images/ + masks/ (the fork's avalanche sets): masks 0 / `mask_value`; returns the object masks."""
    objects = []
    for i, (image, obj) in enumerate(scenes(count)):
        write_image(root / "images" / f"aval {i}.jpg", image)
        write_image(root / "masks" / f"aval {i}.png", (obj * mask_value).astype(np.uint8))
        objects.append(obj.astype(bool))
    return objects


def two_objects(width: int = 64, seed: int = 20):
    """An image with two bright objects, and its instance map (1 left, 2 right)."""
    image, _ = synthetic_scene(width, seed=seed)
    h, w = image.shape[:2]
    inst = np.zeros((h, w), np.int32)
    inst[h // 4: 3 * h // 4, w // 8: 3 * w // 8] = 1
    inst[h // 3: 2 * h // 3, 5 * w // 8: 7 * w // 8] = 2
    image = image.copy()
    image[inst == 1] = (230, 200, 60)
    image[inst == 2] = (60, 200, 230)
    return image, inst


def sbd_folder(root: Path, split_names=("b", "a")) -> dict[str, np.ndarray]:
    """img/ + inst/*.mat in SBD's format (a MATLAB struct GTinst with Segmentation, Boundaries and
    Categories) and val.txt; returns the instance maps."""
    from scipy.io import savemat
    image, inst = two_objects()
    maps = {"a": inst, "b": (inst == 2).astype(np.int32)}
    for name, seg in maps.items():
        write_image(root / "img" / f"{name}.jpg", image)
        (root / "inst").mkdir(parents=True, exist_ok=True)
        savemat(str(root / "inst" / f"{name}.mat"),
                {"GTinst": {"Segmentation": seg.astype(np.uint8), "Boundaries": np.empty((0, 1), dtype=object),
                            "Categories": np.array([[15], [12]], dtype=np.uint8)[: int(seg.max())]}})
    (root / "val.txt").write_text("\n".join(split_names) + "\n")
    return maps


def voc_folder(root: Path) -> np.ndarray:
    """JPEGImages/ + SegmentationObject/ (a palette PNG: 0, 1, 2 and a 255 band) + ImageSets/Segmentation/
    val.txt; returns the index map."""
    from PIL import Image
    image, inst = two_objects()
    band = cv2.dilate((inst > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) - (inst > 0).astype(np.uint8)
    index = inst.astype(np.uint8)
    index[band > 0] = 255
    write_image(root / "JPEGImages" / "2007_000032.jpg", image)
    pal = Image.fromarray(index, mode="P")
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (3 * 252) + [224, 224, 192]
    pal.putpalette(palette)
    (root / "SegmentationObject").mkdir(parents=True)
    pal.save(root / "SegmentationObject" / "2007_000032.png")
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000032\n")
    return index


def davis_folder(root: Path, count: int = 2) -> None:
    for i, (image, obj) in enumerate(scenes(count)):
        write_image(root / "img" / f"s{i}.jpg", image)
        write_image(root / "gt" / f"s{i}.png", (obj * 255).astype(np.uint8))


def grabcut_folder(root: Path) -> None:
    image, obj = synthetic_scene(64, seed=4)
    o = obj.astype(np.uint8)
    band = cv2.dilate(o, np.ones((5, 5), np.uint8)) - cv2.erode(o, np.ones((5, 5), np.uint8))
    write_image(root / "data_GT" / "obj 1.jpg", image)
    write_image(root / "boundary_GT" / "obj 1.bmp", np.where(band > 0, 128, np.where(o > 0, 255, 0)).astype(np.uint8))
