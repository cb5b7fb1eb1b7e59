"""Reading the files of a dataset: images as RGB, mask files as values, and the mask-value rules of the
folder layouts (DAVIS: any non-zero value is the object; GrabCut: 128 is the ignore band)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
OBJECT, BACKGROUND, IGNORE = 1, 0, -1
GRABCUT_IGNORE_VALUE = 128


@dataclass
class Sample:
    name: str
    image: np.ndarray   # H×W×3 uint8 RGB
    gt: np.ndarray      # H×W int8: 1 object, 0 background, -1 ignore


def read_image_file(path, flags=None) -> np.ndarray:
    """Read an image with OpenCV (works with spaces and non-ASCII names); BGR order as OpenCV gives it."""
    import cv2
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Image file {path} does not exist.")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if flags is None else flags) if data.size else None
    if image is None:
        raise DatasetError(f"{path} is not an image file OpenCV can read.")
    return image


def read_rgb(path) -> np.ndarray:
    """H×W×3 uint8 RGB of an image file."""
    import cv2
    return cv2.cvtColor(read_image_file(path), cv2.COLOR_BGR2RGB)


def mask_values(path) -> np.ndarray:
    """H×W: the largest value over the mask file's colour channels (RITM: np.max(cv2.imread(...), axis=2))."""
    import cv2
    return read_image_file(path, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH).max(axis=2)


def davis_labels(values: np.ndarray) -> np.ndarray:
    """DAVIS / COCO-MVal rule (and images/ + masks/): > 0 object, 0 background."""
    return (np.asarray(values) > 0).astype(np.int8)


def grabcut_labels(values: np.ndarray) -> np.ndarray:
    """GrabCut rule: 129–255 object, 128 ignore, 0–127 background (see core_model.datasets.folders)."""
    values = np.asarray(values)
    labels = np.full(values.shape, BACKGROUND, dtype=np.int8)
    labels[values > GRABCUT_IGNORE_VALUE] = OBJECT
    labels[values == GRABCUT_IGNORE_VALUE] = IGNORE
    return labels


def davis_mask(path) -> np.ndarray:
    return davis_labels(mask_values(path))


def grabcut_mask(path) -> np.ndarray:
    return grabcut_labels(mask_values(path))


def check_same_size(name: str, image: np.ndarray, gt: np.ndarray) -> None:
    if gt.shape != image.shape[:2]:
        raise DatasetError(f"The mask of {name} is {gt.shape[1]}×{gt.shape[0]} pixels but the image is "
                           f"{image.shape[1]}×{image.shape[0]}.")


def read_name_list(path: Path, what: str) -> list[str]:
    """The names of an image-set list (one a line; blank lines and anything after the first space left out)."""
    if not path.is_file():
        raise DatasetError(f"The {what} list {path} does not exist; pass --split with a list that exists.")
    names = [line.split()[0] for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
             if line.strip()]
    if not names:
        raise DatasetError(f"The {what} list {path} names no image.")
    return names
