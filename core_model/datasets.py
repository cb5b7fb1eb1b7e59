"""The image/mask folder layouts RITM reads (one object per image) and their mask-value rules: the one
definition, used by evaluation (EvalDataset, python -m core_model.evaluate) and by training
(training/datasets.ImageFolderDataset).

- DAVIS / COCO-MVal (`davis`; training calls it `ritm`): `img/<name>.<ext>` + `gt/<name>.<ext>`;
  object = any mask channel > 0, everything else background.
- GrabCut (and Berkeley-like; `grabcut`): `data_GT/<name>.<ext>` + `boundary_GT/<name>.bmp`.  The layout's
  masks hold 255 = object, 128 = ignore band (a few pixels along the boundary), 0 = background; any
  other value is read by its side of the band: 129–255 object (RITM's `> 128`), 0–127 background.
  (RITM itself leaves a value 1 as object id 1 — a leftover of its integer masks, not part of the layout:
  here a 1 is background, in evaluation and training alike.)
Masks are returned as int8 arrays: 1 object, 0 background, -1 ignore.  Images are the files with an image
extension; a mask is found by the image name's part before the first dot, as RITM does (`a.b.jpg` →
`a.*`), else by its full stem; names may contain spaces.  Masks are read as OpenCV's colour image at its
own bit depth (an alpha channel is not a mask channel).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DatasetError

LAYOUTS = {"davis": ("img", "gt"), "grabcut": ("data_GT", "boundary_GT")}
LAYOUT_ALIASES = {"ritm": "davis"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MASK_EXTS = {"davis": (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"), "grabcut": (".bmp", ".png")}
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
    """DAVIS / COCO-MVal rule: > 0 object, 0 background."""
    return (np.asarray(values) > 0).astype(np.int8)


def grabcut_labels(values: np.ndarray) -> np.ndarray:
    """GrabCut rule: 129–255 object, 128 ignore, 0–127 background (see the module doc)."""
    values = np.asarray(values)
    labels = np.full(values.shape, BACKGROUND, dtype=np.int8)
    labels[values > GRABCUT_IGNORE_VALUE] = OBJECT
    labels[values == GRABCUT_IGNORE_VALUE] = IGNORE
    return labels


def davis_mask(path) -> np.ndarray:
    return davis_labels(mask_values(path))


def grabcut_mask(path) -> np.ndarray:
    return grabcut_labels(mask_values(path))


def read_labels(path, layout: str) -> np.ndarray:
    """The int8 labels (1 / 0 / -1) of a mask file of `layout`."""
    return grabcut_mask(path) if normalize_layout(layout) == "grabcut" else davis_mask(path)


def normalize_layout(layout: str) -> str:
    name = LAYOUT_ALIASES.get(layout, layout)
    if name not in LAYOUTS:
        names = ", ".join([*LAYOUTS, *LAYOUT_ALIASES])
        raise DatasetError(f"Unknown dataset layout '{layout}'; use one of {names}.")
    return name


def detect_layout(root) -> str:
    root = Path(root)
    for name, (img_dir, gt_dir) in LAYOUTS.items():
        if (root / img_dir).is_dir() and (root / gt_dir).is_dir():
            return name
    raise DatasetError(f"{root} is not a dataset folder: it has neither img/ + gt/ (DAVIS, COCO-MVal layout) "
                       "nor data_GT/ + boundary_GT/ (GrabCut layout).")


class LayoutFolder:
    """The images of a dataset folder (sorted) and the mask of each."""

    def __init__(self, root, layout: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            reason = "it is a file" if self.root.exists() else "it does not exist"
            raise DatasetError(f"The dataset folder {self.root} is not a folder: {reason}.")
        self.layout = normalize_layout(layout) if layout else detect_layout(self.root)
        self.image_dir, self.mask_dir = (self.root / d for d in LAYOUTS[self.layout])
        if not self.image_dir.is_dir() or not self.mask_dir.is_dir():
            raise DatasetError(f"{self.root} lacks the {self.image_dir.name}/ and {self.mask_dir.name}/ folders "
                               f"of the {self.layout} layout.")
        self.images = sorted(p for p in self.image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        self._masks: dict[str, Path] = {}
        for ext in MASK_EXTS[self.layout]:   # the layout's preferred mask type wins
            for p in sorted(self.mask_dir.iterdir()):
                if p.is_file() and p.suffix.lower() == ext:
                    self._masks.setdefault(p.stem, p)

    def mask_of(self, image_path: Path) -> Path | None:
        name = Path(image_path).name
        return self._masks.get(name.split(".")[0]) or self._masks.get(Path(name).stem)


class EvalDataset:
    """Sorted image list of a dataset folder; `len(ds)` samples, `ds[i]` reads one."""

    def __init__(self, root, layout: str | None = None):
        self.folder = LayoutFolder(root, layout)
        self.root, self.layout, self.images = self.folder.root, self.folder.layout, self.folder.images
        if not self.images:
            raise DatasetError(f"{self.folder.image_dir} contains no images.")

    def __len__(self) -> int:
        return len(self.images)

    def mask_path(self, image_path: Path) -> Path:
        path = self.folder.mask_of(image_path)
        if path is None:
            raise DatasetError(f"No mask for {image_path.name} in {self.folder.mask_dir}.")
        return path

    def __getitem__(self, i: int) -> Sample:
        path = self.images[i]
        image = read_rgb(path)
        gt = read_labels(self.mask_path(path), self.layout)
        if gt.shape != image.shape[:2]:
            raise DatasetError(f"The mask of {path.name} is {gt.shape[1]}×{gt.shape[0]} pixels but the image is "
                               f"{image.shape[1]}×{image.shape[0]}.")
        return Sample(path.name, image, gt)
