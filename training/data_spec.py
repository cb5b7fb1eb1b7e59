"""The `--data` specifications of the training CLI → training and validation datasets.

    FOLDER[,val=N|F][,layout=ritm|grabcut]
        An image/mask folder, layout auto-detected (img/ + gt/, or data_GT/ + boundary_GT/).
        val: validation images held out by the split seed — a count (val=40) or a fraction (val=0.1);
        default 0 (all for training).
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


@dataclass
class DataSpec:
    kind: str  # 'folder' or 'gis'
    paths: list[str]
    options: dict[str, str]
    text: str


def parse_spec(text: str) -> DataSpec:
    kind, rest = ("gis", text[4:]) if text.lower().startswith("gis:") else ("folder", text)
    parts = [p.strip() for p in rest.split(",")]
    paths = [p for p in parts if "=" not in p and p]
    options = {}
    for p in parts:
        if "=" in p:
            key, value = p.split("=", 1)
            options[key.strip()] = value.strip()
    allowed = GIS_KEYS if kind == "gis" else FOLDER_KEYS
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(f"--data {text!r}: unknown option {unknown[0]!r} (allowed: {', '.join(sorted(allowed))}).")
    wanted = 2 if kind == "gis" else 1
    if len(paths) != wanted:
        form = "gis:RASTER,POLYGONS[,key=value…]" if kind == "gis" else "FOLDER[,key=value…]"
        raise DataError(f"--data {text!r} is not of the form {form}.")
    return DataSpec(kind, paths, options, text)


def _number(spec: DataSpec, key: str, default: float) -> float:
    if key not in spec.options:
        return default
    try:
        return float(spec.options[key])
    except ValueError:
        raise DataError(f"--data {spec.text!r}: {key} must be a number, not {spec.options[key]!r}.") from None


def build_datasets(text: str, seed: int = 0, window_size: int = 256):
    """(training dataset or None, validation dataset or None) of one --data specification."""
    spec = parse_spec(text)
    if spec.kind == "folder":
        base = ImageFolderDataset(spec.paths[0], spec.options.get("layout"))
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
    if spec.kind == "folder":
        return ImageFolderDataset(spec.paths[0], spec.options.get("layout"))
    from .gis_samples import GisWindowDataset

    return GisWindowDataset(spec.paths[0], spec.paths[1], split="all", seed=seed, negatives=0.0,
                            window_size=window_size, layer=spec.options.get("layer") or None)
