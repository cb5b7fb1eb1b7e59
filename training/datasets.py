"""Training samples and the image/mask folder layouts RITM reads.

A `Sample` is one image with its object labels: `labels` is H×W int32 with 0 = background, k > 0 =
object k and -1 = ignore (never clicked, not counted in the loss). `target` names the object the sample
was made for (GIS windows) or is None (any object may be chosen).

Folder layouts (auto-detected):
- RITM / DAVIS / COCO-MVal: `img/*.jpg` + `gt/*.png` with the same stem; object = any non-zero channel.
- GrabCut: `data_GT/*` images + `boundary_GT/STEM.bmp` masks; 255 (or any value > 128) = object,
  128 = ignore band, 0 = background.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IGNORE = -1
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class DataError(ValueError):
    """Unusable training data; the message is one sentence naming the file or folder."""


@dataclass
class Sample:
    image: np.ndarray  # H×W×3 uint8 RGB
    labels: np.ndarray  # H×W int32: 0 background, k > 0 object k, -1 ignore
    target: int | None = None
    name: str = ""

    def object_ids(self) -> list[int]:
        ids = np.unique(self.labels)
        return [int(i) for i in ids if i > 0]


def read_image_rgb(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile + imdecode: any file name works
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"{path} is not a readable image.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask_raw(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if mask is None:
        raise DataError(f"{path} is not a readable mask image.")
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    return mask


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def detect_layout(root: Path) -> str:
    """'ritm' (img/ + gt/) or 'grabcut' (data_GT/ + boundary_GT/); DataError otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder.")
    if (root / "img").is_dir() and (root / "gt").is_dir():
        return "ritm"
    if (root / "data_GT").is_dir() and (root / "boundary_GT").is_dir():
        return "grabcut"
    raise DataError(f"{root} has neither img/ + gt/ (DAVIS/COCO-MVal layout) nor data_GT/ + boundary_GT/ "
                    "(GrabCut layout).")


class ImageFolderDataset:
    """Image/mask pairs of one folder, one object per image."""

    def __init__(self, root: str | Path, layout: str | None = None):
        self.root = Path(root)
        self.layout = layout or detect_layout(self.root)
        if self.layout == "ritm":
            img_dir, mask_dir, mask_exts = self.root / "img", self.root / "gt", (".png", ".bmp", ".jpg")
        elif self.layout == "grabcut":
            img_dir, mask_dir, mask_exts = self.root / "data_GT", self.root / "boundary_GT", (".bmp", ".png")
        else:
            raise DataError(f"unknown layout {self.layout!r} for {self.root}; use 'ritm' or 'grabcut'.")
        masks = {}
        for p in _images_in(mask_dir):
            if p.suffix.lower() in mask_exts:
                masks.setdefault(p.stem, p)
        self.pairs: list[tuple[Path, Path]] = [(p, masks[p.stem]) for p in _images_in(img_dir) if p.stem in masks]
        if not self.pairs:
            raise DataError(f"{self.root} has no image with a mask of the same name in {mask_dir.name}/.")
        self.name = self.root.name

    def __len__(self) -> int:
        return len(self.pairs)

    def labels_of(self, raw: np.ndarray) -> np.ndarray:
        labels = np.zeros(raw.shape, dtype=np.int32)
        if self.layout == "grabcut":
            labels[raw == 128] = IGNORE
            labels[raw > 128] = 1
        else:
            labels[raw > 0] = 1
        return labels

    def get(self, index: int, rng=None) -> Sample:
        img_path, mask_path = self.pairs[index]
        image = read_image_rgb(img_path)
        labels = self.labels_of(read_mask_raw(mask_path))
        if labels.shape != image.shape[:2]:
            raise DataError(f"{mask_path} is {labels.shape[1]}×{labels.shape[0]} pixels but its image is "
                            f"{image.shape[1]}×{image.shape[0]}.")
        return Sample(image, labels, target=1 if (labels == 1).any() else None, name=img_path.stem)


class SubsetDataset:
    """A view of some indices of another dataset (a train or validation split)."""

    def __init__(self, base, indices, name: str | None = None):
        self.base = base
        self.indices = [int(i) for i in indices]
        self.name = name or getattr(base, "name", "subset")

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, index: int, rng=None) -> Sample:
        return self.base.get(self.indices[index], rng)


def split_indices(n: int, val: float, seed: int) -> tuple[list[int], list[int]]:
    """Fixed random split: `val` ≥ 1 is a count of validation items, 0 < val < 1 a fraction."""
    if val < 0:
        raise DataError(f"the validation share must not be negative (got {val}).")
    n_val = int(round(val)) if val >= 1 else int(round(val * n))
    n_val = min(n_val, n)
    order = np.random.default_rng(seed).permutation(n)
    val_idx = sorted(int(i) for i in order[:n_val])
    train_idx = sorted(int(i) for i in order[n_val:])
    return train_idx, val_idx
