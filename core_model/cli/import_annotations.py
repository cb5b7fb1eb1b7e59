"""Import a COCO-style annotation file (Scalabel's export) as an images/ + masks/ dataset folder:
python -m core_model.import_annotations JSON IMAGES_DIR OUT_DIR [--per-instance]

One mask per image with all its annotated objects (the default: every avalanche of the photo), or with
--per-instance one image/mask pair per annotation (`<name>_obj<k>`).  Masks are 8-bit PNGs, 255 = object,
0 = background; the images are copied.  Images without an annotation are left out.  The folder is then
read by `python -m core_model.evaluate --dataset OUT_DIR` and by `training.train --data OUT_DIR`."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from .common import ArgumentParser, CliError, run


def _stem(file_name: str) -> str:
    """A file stem without dots (a mask is found by the image name's part before its first dot)."""
    return re.sub(r"[^\w -]+", "_", Path(file_name.replace("\\", "/")).stem).strip() or "image"


def _write_png(path: Path, mask) -> None:
    import cv2
    ok, buf = cv2.imencode(".png", mask)
    if not ok:
        raise OSError(f"could not encode {path}")
    buf.tofile(str(path))


def import_annotations(json_path: Path, images_dir: Path, out_dir: Path, per_instance: bool = False) -> dict:
    """Write OUT/images and OUT/masks; returns counts {'images', 'masks', 'skipped'}."""
    from ..coco_annotations import load_coco, object_masks, find_image, union_labels
    from ..datasets import read_image_file
    if not images_dir.is_dir():
        raise CliError(f"The image folder {images_dir} does not exist.")
    images = load_coco(json_path)
    if not any(im.annotations for im in images):
        raise CliError(f"{json_path} has no annotation, so there is nothing to import.")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    counts = {"images": 0, "masks": 0, "skipped": 0}
    used: set[str] = set()
    for im in images:
        if not im.annotations:
            counts["skipped"] += 1
            continue
        src = find_image(images_dir, im.file_name)
        h, w = read_image_file(src).shape[:2]
        masks = object_masks(im, h, w)
        stem = _stem(im.file_name)
        while stem in used:
            stem += "_"
        used.add(stem)
        groups = [(f"{stem}_obj{k}", [m]) for k, m in enumerate(masks, start=1)] if per_instance else [(stem, masks)]
        for name, group in groups:
            shutil.copyfile(src, out_dir / "images" / f"{name}{src.suffix.lower()}")
            _write_png(out_dir / "masks" / f"{name}.png", union_labels(group, (h, w)) * 255)
            counts["masks"] += 1
        counts["images"] += 1
    return counts


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m core_model.import_annotations", description=__doc__.split("\n")[0])
    parser.add_argument("json", type=Path, help="COCO-style annotation file (Scalabel export)")
    parser.add_argument("images", type=Path, help="folder with the annotated images")
    parser.add_argument("out", type=Path, help="dataset folder to write (images/ + masks/)")
    parser.add_argument("--per-instance", action="store_true",
                        help="one image/mask pair per annotation instead of one mask per image")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out} is a file; pass a folder to write the dataset into.")
    counts = import_annotations(args.json, args.images, args.out, args.per_instance)
    print(f"{counts['masks']} masks of {counts['images']} images written to {args.out} (images/ + masks/)"
          + (f"; {counts['skipped']} images without annotation left out" if counts["skipped"] else ""))
    return 0


def cli() -> None:
    run(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
