"""The image/mask folder layouts (one object per image) and their mask-value rules: the one definition,
used by evaluation (core_model.datasets.EvalDataset) and by training (training/datasets.ImageFolderDataset).

- DAVIS / COCO-MVal (`davis`; training calls it `ritm`): `img/<name>.<ext>` + `gt/<name>.<ext>`;
  object = any mask channel > 0, everything else background.
- GrabCut (`grabcut`): `data_GT/<name>.<ext>` + `boundary_GT/<name>.bmp`.  The layout's masks hold
  255 = object, 128 = ignore band (a few pixels along the boundary), 0 = background; any other value is
  read by its side of the band: 129–255 object (RITM's `> 128`), 0–127 background.
  (RITM itself leaves a value 1 as object id 1 — a leftover of its integer masks, not part of the layout:
  here a 1 is background, in evaluation and training alike.)
- Berkeley and the avalanche fork's sets (`images-masks`, alias `berkeley`): `images/<name>.<ext>` +
  `masks/<name>.<ext>`; any non-zero pixel is the object (the DAVIS rule).
Masks are returned as int8 arrays: 1 object, 0 background, -1 ignore.  Images are the files with an image
extension; a mask is found by the image name's part before the first dot, as RITM does (`a.b.jpg` →
`a.*`), else by its full stem; names may contain spaces.  Masks are read as OpenCV's colour image at its
own bit depth (an alpha channel is not a mask channel).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .files import IMAGE_EXTS, Sample, check_same_size, davis_mask, grabcut_mask, read_rgb

LAYOUTS = {"davis": ("img", "gt"), "grabcut": ("data_GT", "boundary_GT"), "images-masks": ("images", "masks")}
LAYOUT_ALIASES = {"ritm": "davis", "berkeley": "images-masks"}
_ANY_MASK = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
MASK_EXTS = {"davis": _ANY_MASK, "grabcut": (".bmp", ".png"), "images-masks": _ANY_MASK}
FOLDER_DESCRIPTIONS = {"davis": "img/ + gt/ (DAVIS, COCO-MVal layout)",
                       "grabcut": "data_GT/ + boundary_GT/ (GrabCut layout)",
                       "images-masks": "images/ + masks/ (Berkeley, avalanche sets)"}


def read_labels(path, layout: str):
    """The int8 labels (1 / 0 / -1) of a mask file of `layout`."""
    return grabcut_mask(path) if normalize_layout(layout) == "grabcut" else davis_mask(path)


def normalize_layout(layout: str) -> str:
    """The canonical name of an image/mask folder layout (aliases resolved)."""
    name = LAYOUT_ALIASES.get(layout, layout)
    if name not in LAYOUTS:
        names = ", ".join([*LAYOUTS, *LAYOUT_ALIASES])
        raise DatasetError(f"Unknown dataset layout '{layout}'; use one of {names}.")
    return name


def detect_folder_layout(root) -> str | None:
    root = Path(root)
    for name, (img_dir, gt_dir) in LAYOUTS.items():
        if (root / img_dir).is_dir() and (root / gt_dir).is_dir():
            return name
    return None


def check_folder(root: Path) -> None:
    if not root.is_dir():
        reason = "it is a file" if root.exists() else "it does not exist"
        raise DatasetError(f"The dataset folder {root} is not a folder: {reason}.")


class LayoutFolder:
    """The images of an image/mask folder (sorted) and the mask of each."""

    def __init__(self, root, layout: str | None = None):
        self.root = Path(root)
        check_folder(self.root)
        if layout:
            self.layout = normalize_layout(layout)
        else:
            self.layout = detect_folder_layout(self.root)
            if self.layout is None:
                raise DatasetError(f"{self.root} is not a dataset folder: it has neither "
                                   + " nor ".join(FOLDER_DESCRIPTIONS.values()) + ".")
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


class FolderReader:
    """Evaluation samples of an image/mask folder: one per image, in sorted order."""

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

    def sample(self, i: int) -> Sample:
        path = self.images[i]
        image = read_rgb(path)
        gt = read_labels(self.mask_path(path), self.layout)
        check_same_size(path.name, image, gt)
        return Sample(path.name, image, gt)
