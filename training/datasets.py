"""Training samples, and the image/mask folders training reads.

A `Sample` is one image with its object labels: `labels` is H×W int32 with 0 = background, k > 0 =
object k and -1 = ignore (never clicked, not counted in the loss). `target` names the object the sample
was made for (GIS windows) or is None (any object may be chosen).

Folder layouts, mask values and file matching are core_model.datasets' (the one definition evaluation
uses too): `img/` + `gt/` (RITM / DAVIS / COCO-MVal; here named `ritm`) or `data_GT/` + `boundary_GT/`
(GrabCut: 255 object, 128 ignore band, 0 background; above 128 object, below background).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core_model.datasets import IGNORE, DatasetError, LayoutFolder, read_labels, read_rgb  # noqa: F401 - IGNORE: API

DataError = DatasetError  # unusable training data; the message is one sentence naming the file or folder
TRAINING_LAYOUT_NAMES = {"davis": "ritm"}


@dataclass
class Sample:
    image: np.ndarray  # H×W×3 uint8 RGB
    labels: np.ndarray  # H×W int32: 0 background, k > 0 object k, -1 ignore
    target: int | None = None
    name: str = ""

    def object_ids(self) -> list[int]:
        ids = np.unique(self.labels)
        return [int(i) for i in ids if i > 0]


class ImageFolderDataset:
    """Image/mask pairs of one folder, one object per image (images without a mask are left out)."""

    def __init__(self, root: str | Path, layout: str | None = None):
        self.root = Path(root)
        self.folder = LayoutFolder(self.root, layout)
        self.layout = TRAINING_LAYOUT_NAMES.get(self.folder.layout, self.folder.layout)
        pairs = ((p, self.folder.mask_of(p)) for p in self.folder.images)
        self.pairs: list[tuple[Path, Path]] = [(p, m) for p, m in pairs if m is not None]
        if not self.pairs:
            raise DataError(f"{self.root} has no image with a mask of the same name in {self.folder.mask_dir.name}/.")
        self.name = self.root.name
        self._check_files()

    def _check_files(self) -> None:
        """Before training starts: no empty file, and at least one mask that marks an object (read in
        order until one does, so a usable folder costs one mask read)."""
        for pair in self.pairs:
            for path in pair:
                if path.stat().st_size == 0:
                    raise DataError(f"{path} is empty (0 bytes); remove it or replace it with a real file.")
        for _, mask_path in self.pairs:
            if (read_labels(mask_path, self.folder.layout) > 0).any():
                return
        raise DataError(f"no mask in {self.root / self.folder.mask_dir.name} marks an object (all "
                        f"{len(self.pairs)} are empty), so there is nothing to learn from.")

    def __len__(self) -> int:
        return len(self.pairs)

    def get(self, index: int, rng=None) -> Sample:
        img_path, mask_path = self.pairs[index]
        image = read_rgb(img_path)
        labels = read_labels(mask_path, self.folder.layout).astype(np.int32)
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
