"""The shipped default model: its file, the settings it recommends, and the README's main job on it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from osgeo import ogr
from rasterio import features
from rasterio.transform import Affine

from conftest import REPO
from core_model.checkpoint import load_model
from core_model.default_model import DEFAULT_CHECKPOINT

sys.path.insert(0, str(REPO / "scripts"))
import make_sample  # noqa: E402

CARD = DEFAULT_CHECKPOINT.parent / "MODEL_CARD.md"
# The inference settings the model was trained for (see the card): first click at most 256 px, zoom-in to 256.
RECOMMENDED = {"zoom_target_size": 256, "max_longest_side": 256}
# IoU of the main job's polygons with the sample's true avalanches, as measured for the shipped model
# (see the card) less a margin for float rounding across machines.
MIN_IOU = (MIN_IOU_BIG, MIN_IOU_SMALL) = (0.75, 0.85)


def test_default_model_file_is_small_half_precision_and_recommends_its_settings():
    assert DEFAULT_CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    raw = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    assert raw["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    assert raw["state_dict"]["feature_extractor.conv1.weight"].dtype == torch.float16
    model = load_model(DEFAULT_CHECKPOINT)
    assert model.arch_name == "hrnet18s"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.predictor_hints == RECOMMENDED
    card = CARD.read_text(encoding="utf-8")
    for name, value in RECOMMENDED.items():
        assert f"{name}={value}" in card


def _rasterize(geometry_wkb: bytes, shape) -> np.ndarray:
    from shapely import wkb
    transform = Affine(*make_sample.GEOTRANSFORM[1:3], make_sample.GEOTRANSFORM[0],
                       *make_sample.GEOTRANSFORM[4:6], make_sample.GEOTRANSFORM[3])
    return features.rasterize([wkb.loads(geometry_wkb)], out_shape=shape, transform=transform).astype(bool)


def test_readme_main_job_segments_the_sample_avalanches(tmp_path):
    """`make_sample.py` then `avalanche_iseg_plugin.segment` without --checkpoint, as the README runs them."""
    sample = tmp_path / "ava"
    for cmd in ([sys.executable, str(REPO / "scripts" / "make_sample.py"), str(sample)],
                [sys.executable, "-m", "avalanche_iseg_plugin.segment", "--raster", str(sample / "ortho.tif"),
                 "--clicks", str(sample / "clicks.json"), "--out", str(sample / "avalanches.gpkg"), "--threads", "2"]):
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    _, first, second = make_sample.make_scene()
    ds = ogr.Open(str(sample / "avalanches.gpkg"))
    layer = ds.GetLayer("avalanches")
    got = [_rasterize(bytes(f.GetGeometryRef().ExportToWkb()), first.shape) for f in layer]
    ds = None
    assert len(got) == 2
    ious = [(g & t).sum() / (g | t).sum() for g, t in zip(got, (first, second))]
    print("IoU of the sample avalanches:", [round(float(i), 3) for i in ious])
    assert ious[0] >= MIN_IOU_BIG and ious[1] >= MIN_IOU_SMALL
