"""Training samples from a COCO-style annotation file (Scalabel's export, as the avalanche fork annotates)
and its image folder: `--data coco:JSON,IMAGES` (or `JSON,IMAGES`).

`objects=union` (the default, as the fork trains): all annotated objects of an image are one object;
`objects=instances`: each annotation is its own object (labels 1…k; training picks one per sample).
Images without an annotation are left out."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core_model.coco_annotations import find_image, instance_labels, load_coco, object_masks, union_labels

from .datasets import DataError, Sample, read_rgb

OBJECT_MODES = ("union", "instances")


class CocoDataset:
    """The annotated images of a COCO-style file, one Sample each."""

    def __init__(self, json_path, images_dir, objects: str = "union"):
        self.json_path, self.images_dir = Path(json_path), Path(images_dir)
        if objects not in OBJECT_MODES:
            raise DataError(f"objects must be one of {', '.join(OBJECT_MODES)}, not {objects!r}.")
        if not self.images_dir.is_dir():
            raise DataError(f"The image folder {self.images_dir} does not exist.")
        self.objects = objects
        self.images = [im for im in load_coco(self.json_path) if im.annotations]
        if not self.images:
            raise DataError(f"{self.json_path} has no annotation, so there is nothing to learn from.")
        self.paths = [find_image(self.images_dir, im.file_name) for im in self.images]   # all found before training
        self.name = self.json_path.stem

    def __len__(self) -> int:
        return len(self.images)

    def get(self, index: int, rng=None) -> Sample:
        im, path = self.images[index], self.paths[index]
        image = read_rgb(path)
        masks = object_masks(im, *image.shape[:2])
        if self.objects == "union":
            labels = union_labels(masks, image.shape[:2]).astype(np.int32)
            target = 1 if labels.any() else None
        else:
            labels, target = instance_labels(masks, image.shape[:2]), None
        return Sample(image, labels, target=target, name=path.stem)
