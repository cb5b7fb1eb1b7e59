"""Pascal VOC's instance segmentation: `JPEGImages/<name>.jpg` + `SegmentationObject/<name>.png` (a palette
PNG whose indices are 0 background, k = object k, 255 = the ignored band along object boundaries), the
image set in `ImageSets/Segmentation/<split>.txt` (default `val`); one sample per object, 255 ignored."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .instances import InstanceReader, listed_names

DEFAULT_SPLIT = "val"
FOLDERS = ("JPEGImages", "SegmentationObject")
VOC_IGNORE = 255


def read_voc_instances(path: Path) -> np.ndarray:
    """The palette indices of a VOC object PNG (not its colours: OpenCV would give the colours)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "I", "I;16"):
                raise DatasetError(f"{path} is a {im.mode} image, not an indexed instance map (palette or grey).")
            return np.asarray(im).astype(np.int32)
    except (UnidentifiedImageError, OSError):
        raise DatasetError(f"{path} is not an image file PIL can read.") from None


class VocReader(InstanceReader):
    layout = "voc"
    ignore_value = VOC_IGNORE

    def __init__(self, root, split: str | None = None):
        root = Path(root)
        image_dir, inst_dir = (root / d for d in FOLDERS)
        if not image_dir.is_dir() or not inst_dir.is_dir():
            raise DatasetError(f"{root} lacks the JPEGImages/ and SegmentationObject/ folders of the VOC layout.")
        list_path = root / "ImageSets" / "Segmentation" / f"{split or DEFAULT_SPLIT}.txt"
        names = listed_names(list_path, split is not None, inst_dir, ".png", "VOC image-set")
        super().__init__(root, image_dir, inst_dir, ".png", names, read_voc_instances)
