"""Evaluation datasets in RITM's layouts (one object per image).

- DAVIS / COCO-MVal: `img/<name>.<ext>` + `gt/<name>.<ext>`; object = any mask channel > 0.
- GrabCut (and Berkeley-like): `data_GT/<name>.<ext>` + `boundary_GT/<name>.bmp`; 255 = object,
  128 = ignore band, others background (RITM: value 128 → -1, values above 128 → 1).
Masks are returned as int8 arrays: 1 object, 0 background, -1 ignore. File names may contain spaces;
the mask of `a.b.jpg` is found by the part before the first dot, as RITM does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LAYOUTS = {"davis": ("img", "gt"), "grabcut": ("data_GT", "boundary_GT")}


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used; the message is one sentence."""


@dataclass
class Sample:
    name: str
    image: np.ndarray   # H×W×3 uint8 RGB
    gt: np.ndarray      # H×W int8: 1 object, 0 background, -1 ignore


def read_image_file(path, flags=cv2.IMREAD_COLOR) -> np.ndarray:
    """Read an image with OpenCV (works with spaces and non-ASCII names); BGR order as OpenCV gives it."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Image file {path} does not exist.")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise DatasetError(f"{path} is not an image file OpenCV can read.")
    return image


def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(read_image_file(path), cv2.COLOR_BGR2RGB)


def davis_mask(path) -> np.ndarray:
    m = read_image_file(path).max(axis=2)
    return (m > 0).astype(np.int8)


def grabcut_mask(path) -> np.ndarray:
    m = read_image_file(path)[:, :, 0].astype(np.int32)
    gt = np.zeros(m.shape, dtype=np.int8)
    gt[(m > 128) | (m == 1)] = 1
    gt[m == 128] = -1
    return gt


def detect_layout(root) -> str:
    root = Path(root)
    for name, (img_dir, gt_dir) in LAYOUTS.items():
        if (root / img_dir).is_dir() and (root / gt_dir).is_dir():
            return name
    raise DatasetError(f"{root} is not a dataset folder: it needs img/ and gt/ (DAVIS, COCO-MVal) or "
                       "data_GT/ and boundary_GT/ (GrabCut).")


class EvalDataset:
    """Sorted image list of a dataset folder; `len(ds)` samples, `ds[i]` reads one."""

    def __init__(self, root, layout: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"Dataset folder {self.root} does not exist.")
        self.layout = layout or detect_layout(self.root)
        if self.layout not in LAYOUTS:
            raise DatasetError(f"Unknown dataset layout '{self.layout}'; use one of {', '.join(LAYOUTS)}.")
        img_dir, gt_dir = (self.root / d for d in LAYOUTS[self.layout])
        if not img_dir.is_dir() or not gt_dir.is_dir():
            raise DatasetError(f"{self.root} lacks the {img_dir.name}/ and {gt_dir.name}/ folders of the "
                               f"{self.layout} layout.")
        self.images = sorted(p for p in img_dir.glob("*.*") if p.is_file())
        self._masks = {p.stem: p for p in gt_dir.glob("*.*") if p.is_file()}
        if not self.images:
            raise DatasetError(f"{img_dir} contains no images.")

    def __len__(self) -> int:
        return len(self.images)

    def mask_path(self, image_path: Path) -> Path:
        stem = image_path.name.split(".")[0]
        if stem not in self._masks:
            raise DatasetError(f"No mask for {image_path.name} in {image_path.parent.parent / LAYOUTS[self.layout][1]}.")
        return self._masks[stem]

    def __getitem__(self, i: int) -> Sample:
        path = self.images[i]
        image = read_rgb(path)
        reader = grabcut_mask if self.layout == "grabcut" else davis_mask
        gt = reader(self.mask_path(path))
        if gt.shape != image.shape[:2]:
            raise DatasetError(f"The mask of {path.name} is {gt.shape[1]}×{gt.shape[0]} pixels but the image is "
                               f"{image.shape[1]}×{image.shape[0]}.")
        return Sample(path.name, image, gt)
