"""The `--data` specifications of the training CLI → training and validation datasets.

    FOLDER[,val=N|F][,layout=ritm|grabcut]
        An image/mask folder, layout auto-detected (img/ + gt/, data_GT/ + boundary_GT/, or images/ + masks/).
        val: validation images held out by the split seed — a count (val=40) or a fraction (val=0.1);
        default 0 (all for training).
    coco:JSON,IMAGES[,val=N|F][,objects=union|instances]   (or JSON,IMAGES: a .json file is recognised)
        A COCO-style annotation file (Scalabel's export) and its image folder; all objects of an image as
        one (union, the default) or each annotation its own object (instances). val: as for folders.
    gis:RASTER,POLYGONS[,split_field=NAME][,val_value=VALUE][,val=F][,negatives=F][,layer=NAME]
        A raster + avalanche outline layer. Outlines whose attribute NAME equals VALUE (default "val")
        are validation; without split_field a share val (default 0.15) is, by the split seed.
        negatives: windows without avalanches per outline (default 0.25).
"""
from __future__ import annotations

from dataclasses import dataclass

from .datasets import DataError, ImageFolderDataset, SubsetDataset, split_indices

FOLDER_KEYS = {"val", "layout"}
GIS_KEYS = {"split_field", "val_value", "val", "negatives", "layer"}
COCO_KEYS = {"val", "objects"}
KIND_KEYS = {"folder": FOLDER_KEYS, "gis": GIS_KEYS, "coco": COCO_KEYS}
KIND_FORMS = {"folder": "FOLDER[,key=value…]", "gis": "gis:RASTER,POLYGONS[,key=value…]",
              "coco": "coco:JSON,IMAGES[,key=value…]"}


@dataclass
class DataSpec:
    kind: str  # 'folder', 'gis' or 'coco'
    paths: list[str]
    options: dict[str, str]
    text: str


def parse_spec(text: str) -> DataSpec:
    kind, rest = "folder", text
    for prefix in ("gis", "coco"):
        if text.lower().startswith(prefix + ":"):
            kind, rest = prefix, text[len(prefix) + 1:]
    parts = [p.strip() for p in rest.split(",")]
    paths = [p for p in parts if "=" not in p and p]
    if kind == "folder" and paths and paths[0].lower().endswith(".json"):
        kind = "coco"
    options = {}
    for p in parts:
        if "=" in p:
            key, value = p.split("=", 1)
            options[key.strip()] = value.strip()
    allowed = KIND_KEYS[kind]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(f"--data {text!r}: unknown option {unknown[0]!r} (allowed: {', '.join(sorted(allowed))}).")
    wanted = 1 if kind == "folder" else 2
    if len(paths) != wanted:
        raise DataError(f"--data {text!r} is not of the form {KIND_FORMS[kind]}.")
    return DataSpec(kind, paths, options, text)


def _number(spec: DataSpec, key: str, default: float) -> float:
    if key not in spec.options:
        return default
    try:
        return float(spec.options[key])
    except ValueError:
        raise DataError(f"--data {spec.text!r}: {key} must be a number, not {spec.options[key]!r}.") from None


def _base_dataset(spec: DataSpec):
    if spec.kind == "coco":
        from .coco_samples import CocoDataset  # pycocotools only when COCO data is used

        return CocoDataset(spec.paths[0], spec.paths[1], spec.options.get("objects", "union"))
    return ImageFolderDataset(spec.paths[0], spec.options.get("layout"))


def build_datasets(text: str, seed: int = 0, window_size: int = 256):
    """(training dataset or None, validation dataset or None) of one --data specification."""
    spec = parse_spec(text)
    if spec.kind in ("folder", "coco"):
        base = _base_dataset(spec)
        train_idx, val_idx = split_indices(len(base), _number(spec, "val", 0.0), seed)
        train = SubsetDataset(base, train_idx, f"{base.name}:train") if train_idx else None
        val = SubsetDataset(base, val_idx, f"{base.name}:val") if val_idx else None
        return train, val
    from .gis_samples import GisWindowDataset  # rasterio/shapely only when GIS data is used

    kwargs = dict(split_field=spec.options.get("split_field") or None, val_value=spec.options.get("val_value", "val"),
                  val=_number(spec, "val", 0.15), seed=seed, negatives=_number(spec, "negatives", 0.25),
                  window_size=window_size, layer=spec.options.get("layer") or None)
    train = GisWindowDataset(spec.paths[0], spec.paths[1], split="train", **kwargs)
    val = GisWindowDataset(spec.paths[0], spec.paths[1], split="val", **kwargs)
    return (train if len(train) else None), (val if len(val) else None)


def build_validation(text: str, seed: int = 0, window_size: int = 256):
    """A --val-data specification: the whole dataset is validation."""
    spec = parse_spec(text)
    if spec.kind in ("folder", "coco"):
        return _base_dataset(spec)
    from .gis_samples import GisWindowDataset

    return GisWindowDataset(spec.paths[0], spec.paths[1], split="all", seed=seed, negatives=0.0,
                            window_size=window_size, layer=spec.options.get("layer") or None)
