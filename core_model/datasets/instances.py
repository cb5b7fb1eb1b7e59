"""What the instance layouts (SBD, Pascal VOC) share: an instance map per image, one evaluation sample
per object in it (RITM's protocol for these sets)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DatasetError
from .files import IGNORE, Sample, check_same_size, read_name_list, read_rgb


def instance_ids(instances: np.ndarray, ignore_value: int | None) -> list[int]:
    """The object ids of an instance map: every value but 0 (background) and `ignore_value`."""
    return [int(v) for v in np.unique(instances) if v != 0 and v != ignore_value]


def object_labels(instances: np.ndarray, object_id: int, ignore_value: int | None) -> np.ndarray:
    """int8 labels of one object of an instance map: 1 that object, -1 the ignore value, 0 the rest."""
    gt = (instances == object_id).astype(np.int8)
    if ignore_value is not None:
        gt[instances == ignore_value] = IGNORE
    return gt


class InstanceReader:
    """Samples (image, one object) of a folder of images and instance maps listed by an image-set file.

    `read_instances(path)` gives an image's instance map (int array); `ignore_value` (VOC: 255) marks
    pixels that count for no object and are left out of the IoU."""

    layout = ""
    ignore_value: int | None = None

    def __init__(self, root: Path, image_dir: Path, instance_dir: Path, instance_ext: str,
                 names: list[str], read_instances: Callable[[Path], np.ndarray]):
        self.root, self.image_dir, self.instance_dir = root, image_dir, instance_dir
        self.instance_ext, self.read_instances = instance_ext, read_instances
        self.items: list[tuple[str, int]] = []
        for name in names:
            ids = instance_ids(self.read_instances(self.instance_path(name)), self.ignore_value)
            self.items += [(name, i) for i in ids]
        if not self.items:
            raise DatasetError(f"No object in the {len(names)} instance maps of {instance_dir}.")

    def instance_path(self, name: str) -> Path:
        path = self.instance_dir / f"{name}{self.instance_ext}"
        if not path.is_file():
            raise DatasetError(f"No instance map for {name} in {self.instance_dir} (looked for {path.name}).")
        return path

    def image_path(self, name: str) -> Path:
        for ext in (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"):
            path = self.image_dir / f"{name}{ext}"
            if path.is_file():
                return path
        raise DatasetError(f"No image for {name} in {self.image_dir}.")

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, i: int) -> Sample:
        name, object_id = self.items[i]
        image = read_rgb(self.image_path(name))
        gt = object_labels(self.read_instances(self.instance_path(name)), object_id, self.ignore_value)
        check_same_size(name, image, gt)
        return Sample(f"{name}#{object_id}", image, gt)


def listed_names(list_path: Path, split_given: bool, instance_dir: Path, ext: str, what: str) -> list[str]:
    """The image-set list's names; without an explicit split and without the default list, every
    instance map of the folder (sorted)."""
    if split_given or list_path.is_file():
        return read_name_list(list_path, what)
    names = sorted(p.stem for p in instance_dir.iterdir() if p.is_file() and p.suffix.lower() == ext)
    if not names:
        raise DatasetError(f"{instance_dir} holds no {ext} instance maps and there is no list {list_path}.")
    return names
