"""Small real checkpoints for the model-manager tests (a width-8 HRNet, about 2.3 MB in float16) and
helpers to make catalogues that point at a loopback server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_checkpoint(path: Path, seed: int) -> Path:
    import torch

    from core_model import build_model, save_checkpoint
    torch.manual_seed(seed)
    save_checkpoint(build_model("hrnet18s", width=8, ocr_width=8).eval(), path, half=True)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """Two different small checkpoints (architecture 'hrnet8s')."""
    folder = tmp_path_factory.mktemp("tiny_ckpts")
    return make_checkpoint(folder / "tiny_a.pth", 0), make_checkpoint(folder / "tiny_b.pth", 1)


def write_catalogue(path: Path, models: list[dict]) -> Path:
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path
