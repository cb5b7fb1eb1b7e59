"""Evaluation datasets in the layouts RITM and the avalanche fork read, detected from the folder:

- image/mask folders, one object per image (core_model.datasets.folders): `davis` (img/ + gt/, also
  COCO-MVal), `grabcut` (data_GT/ + boundary_GT/, 128 = ignore band), `images-masks` (images/ + masks/:
  Berkeley and the fork's avalanche sets; any non-zero pixel is the object);
- instance sets, one sample per object (core_model.datasets.sbd, .voc): `sbd` (img/ + inst/*.mat) and
  `voc` (JPEGImages/ + SegmentationObject/ + ImageSets/Segmentation/<split>.txt; 255 = ignore).
`EvalDataset(root, layout=None, split=None)` reads any of them; `ds[i]` is a Sample (name, RGB image,
int8 labels 1 object / 0 background / -1 ignore).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .files import (BACKGROUND, GRABCUT_IGNORE_VALUE, IGNORE, IMAGE_EXTS, OBJECT, Sample, davis_labels,  # noqa: F401
                    davis_mask, grabcut_labels, grabcut_mask, mask_values, read_image_file, read_rgb)
from .folders import (FOLDER_DESCRIPTIONS, LAYOUT_ALIASES, LAYOUTS, MASK_EXTS, FolderReader,  # noqa: F401
                      LayoutFolder, check_folder, detect_folder_layout, normalize_layout, read_labels)
from .sbd import FOLDERS as SBD_FOLDERS
from .sbd import SbdReader
from .voc import FOLDERS as VOC_FOLDERS
from .voc import VocReader

INSTANCE_LAYOUTS = {"sbd": (SBD_FOLDERS, SbdReader, "img/ + inst/*.mat (SBD)"),
                    "voc": (VOC_FOLDERS, VocReader, "JPEGImages/ + SegmentationObject/ (Pascal VOC)")}
EVAL_LAYOUT_ALIASES = {**LAYOUT_ALIASES, "pascal": "voc", "pascalvoc": "voc"}
EVAL_LAYOUTS = (*LAYOUTS, *INSTANCE_LAYOUTS)


def normalize_eval_layout(layout: str) -> str:
    name = EVAL_LAYOUT_ALIASES.get(layout, layout)
    if name not in EVAL_LAYOUTS:
        names = ", ".join([*EVAL_LAYOUTS, *EVAL_LAYOUT_ALIASES])
        raise DatasetError(f"Unknown dataset layout '{layout}'; use one of {names}.")
    return name


def detect_layout(root) -> str:
    """The layout of a dataset folder, from its sub-folders (image/mask folders first)."""
    root = Path(root)
    found = detect_folder_layout(root)
    if found:
        return found
    for name, (folders, _, _) in INSTANCE_LAYOUTS.items():
        if all((root / d).is_dir() for d in folders):
            return name
    kinds = [*FOLDER_DESCRIPTIONS.values(), *(d for _, _, d in INSTANCE_LAYOUTS.values())]
    raise DatasetError(f"{root} is not a dataset folder: it has neither " + " nor ".join(kinds) + ".")


class EvalDataset:
    """The evaluation samples of a dataset folder in any layout; `len(ds)` samples, `ds[i]` reads one.
    `split` names the image-set list of SBD / VOC (default `val`)."""

    def __init__(self, root, layout: str | None = None, split: str | None = None):
        root = Path(root)
        check_folder(root)
        name = normalize_eval_layout(layout) if layout else detect_layout(root)
        if name in INSTANCE_LAYOUTS:
            self.reader = INSTANCE_LAYOUTS[name][1](root, split)
        else:
            self.reader = FolderReader(root, name)
        self.root, self.layout = root, name

    def __len__(self) -> int:
        return len(self.reader)

    def mask_path(self, image_path: Path) -> Path:
        return self.reader.mask_path(image_path)

    @property
    def images(self):
        return getattr(self.reader, "images", None)

    def __getitem__(self, i: int) -> Sample:
        return self.reader.sample(i)
