"""SBD (Hariharan et al.'s Semantic Boundaries Dataset) as RITM evaluates it: `img/<name>.jpg` +
`inst/<name>.mat`, the image set in `<split>.txt` at the top (RITM evaluates `val`), one sample per object.

Each `.mat` holds a MATLAB struct `GTinst` whose field `Segmentation` is the instance map (0 background,
k = object k)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .instances import InstanceReader, listed_names

DEFAULT_SPLIT = "val"
FOLDERS = ("img", "inst")


def read_sbd_instances(path: Path) -> np.ndarray:
    from scipy.io import loadmat
    try:
        mat = loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a file that is not MATLAB data
        raise DatasetError(f"{path} is not a MATLAB file scipy can read ({type(exc).__name__}).") from None
    try:
        seg = mat["GTinst"]["Segmentation"][0, 0]
    except (KeyError, ValueError, IndexError, TypeError):
        raise DatasetError(f"{path} has no GTinst.Segmentation instance map (SBD's inst/*.mat format).") from None
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise DatasetError(f"The GTinst.Segmentation of {path} is not a 2-D instance map.")
    return seg.astype(np.int32)


class SbdReader(InstanceReader):
    layout = "sbd"
    ignore_value = None

    def __init__(self, root, split: str | None = None):
        root = Path(root)
        image_dir, inst_dir = (root / d for d in FOLDERS)
        if not image_dir.is_dir() or not inst_dir.is_dir():
            raise DatasetError(f"{root} lacks the img/ and inst/ folders of the SBD layout.")
        names = listed_names(root / f"{split or DEFAULT_SPLIT}.txt", split is not None, inst_dir, ".mat", "SBD image")
        super().__init__(root, image_dir, inst_dir, ".mat", names, read_sbd_instances)
