"""COCO-style annotation files (what Scalabel exports for the avalanche fork): `images` (id, file_name,
width, height), `annotations` (image_id, segmentation as polygons or RLE, category_id) and `categories`,
read into object masks per image.  pycocotools decodes the polygons and RLEs.

Used by `python -m core_model.import_annotations` (→ an images/ + masks/ folder) and by training's
`--data coco:JSON,IMAGES` (training/coco_samples.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError


@dataclass
class CocoImage:
    id: object
    file_name: str
    width: int | None
    height: int | None
    annotations: list = field(default_factory=list)


def _fail(path: Path, what: str):
    return DatasetError(f"{path} is not a COCO annotation file: {what}.")


def load_coco(path) -> list[CocoImage]:
    """The images of a COCO-style JSON file with their annotations, in the file's order (images with no
    annotation included). DatasetError of one sentence for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"The annotation file {path} does not exist.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"it is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise _fail(path, "it lacks the 'images' and 'annotations' lists")
    images: dict = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise _fail(path, f"image {i} has no 'id' and 'file_name'")
        w, h = im.get("width"), im.get("height")
        images[im["id"]] = CocoImage(im["id"], im["file_name"], int(w) if w else None, int(h) if h else None)
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or ann.get("image_id") not in images or "segmentation" not in ann:
            raise _fail(path, f"annotation {i} has no 'segmentation' or names an image that is not listed")
        images[ann["image_id"]].annotations.append(ann)
    return list(images.values())


def decode_segmentation(segmentation, height: int, width: int, where: str = "an annotation") -> np.ndarray:
    """H×W bool mask of a COCO segmentation: polygons ([[x, y, …], …]), uncompressed RLE ({'counts': [..],
    'size': [h, w]}) or compressed RLE ({'counts': 'string', 'size': [h, w]})."""
    try:
        return _decode(segmentation, height, width, where)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise DatasetError(f"The segmentation of {where} cannot be decoded ({type(exc).__name__}).") from None


def _decode(segmentation, height: int, width: int, where: str) -> np.ndarray:
    from pycocotools import mask as mask_utils
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list)]
        if not polygons or any(len(p) < 6 or len(p) % 2 for p in polygons):
            raise DatasetError(f"The polygon of {where} needs at least three x, y pairs.")
        rle = mask_utils.merge(mask_utils.frPyObjects([[float(v) for v in p] for p in polygons], height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        size = [int(v) for v in segmentation["size"]]
        if size != [height, width]:
            raise DatasetError(f"The RLE of {where} is {size[1]}×{size[0]} pixels but its image is {width}×{height}.")
        counts = segmentation["counts"]
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        elif isinstance(counts, str):
            rle = {"size": size, "counts": counts.encode("ascii")}
        else:
            raise DatasetError(f"The RLE counts of {where} are neither a list nor a string.")
    else:
        raise DatasetError(f"The segmentation of {where} is neither polygons nor an RLE.")
    mask = mask_utils.decode(rle)
    return (mask[..., 0] if mask.ndim == 3 else mask).astype(bool)


def find_image(images_dir: Path, file_name: str) -> Path:
    """The image file of `file_name` in `images_dir` (as written, else by its last path part: Scalabel
    exports may name URLs or sub-folders)."""
    for candidate in (images_dir / file_name, images_dir / Path(file_name.replace("\\", "/")).name):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"The image {file_name} of the annotation file is not in {images_dir}.")


def object_masks(image: CocoImage, height: int, width: int) -> list[np.ndarray]:
    """One bool mask per annotation of `image` (the file's order), decoded at height × width."""
    if image.height and image.width and (image.height, image.width) != (height, width):
        raise DatasetError(f"The annotation file says {image.file_name} is {image.width}×{image.height} pixels "
                           f"but the image is {width}×{height}.")
    return [decode_segmentation(a["segmentation"], height, width, f"annotation {a.get('id', '?')} of {image.file_name}")
            for a in image.annotations]


def union_labels(masks: list[np.ndarray], shape) -> np.ndarray:
    """uint8: 1 where any mask is set (all avalanches of an image as one object)."""
    out = np.zeros(shape, dtype=np.uint8)
    for m in masks:
        out[m] = 1
    return out


def instance_labels(masks: list[np.ndarray], shape) -> np.ndarray:
    """int32: k for the k-th annotation (a later one wins where they overlap), 0 elsewhere."""
    out = np.zeros(shape, dtype=np.int32)
    for k, m in enumerate(masks, start=1):
        out[m] = k
    return out
