"""The predictor's undo history is bounded (issue 16, D15): clicks on one object stay within
core_model.undo_history.UNDO_MEMORY_BUDGET, undo is exact within the kept history and replays beyond it;
a NaN prediction is an error, never an "empty mask"."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core_model import undo_history
from core_model.model import build_model
from core_model.predictor import InteractivePredictor, PredictorSettings

ROOT = Path(__file__).resolve().parents[1]

_MANY_CLICKS = r"""
import json, resource, sys, time
import numpy as np, torch
from core_model import undo_history
from core_model.predictor import InteractivePredictor

class Stub(torch.nn.Module):  # a network as cheap as possible: logits from the image's first channel
    with_prev_mask = True
    def forward(self, x, points):
        return {"instances": x[:, :1] * 8 - 4}

def rss():
    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()

vm = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 500 * 2**20, resource.RLIM_INFINITY))
undo_history.UNDO_MEMORY_BUDGET = int(sys.argv[1])
image = np.zeros((160, 160, 3), np.uint8); image[40:120, 40:120] = 255
p = InteractivePredictor(Stub())
p.set_image(image)
rng = np.random.default_rng(0)
t0, peak = time.monotonic(), 0
for i in range(int(sys.argv[2])):
    if i == 5:
        start = rss()  # after the first clicks' one-time allocations
    p.add_click(int(rng.integers(45, 115)), int(rng.integers(45, 115)), bool(i % 5))
    if i > 5 and i % 50 == 0:
        peak = max(peak, rss() - start)
print(json.dumps({"clicks": len(p.clicks), "grown_mb": max(peak, rss() - start) / 2**20,
                  "kept": len(p._history), "seconds": time.monotonic() - t0}))
"""


def test_many_clicks_on_one_object_stay_within_the_undo_budget():
    # 160×160 maps: 100 KB per click; 600 clicks keep 60 MB unbounded (several times that in the heap),
    # while an 8 MiB budget keeps 80 of them.  (The default budget: the 10 000-state test below; 10 000
    # real clicks take minutes, since every click passes all earlier clicks through the pipeline.)
    proc = subprocess.run([sys.executable, "-c", _MANY_CLICKS, str(8 << 20), "600"], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["clicks"] == 600 and result["kept"] < 90
    assert result["grown_mb"] < 8 + 16, result


_TEN_THOUSAND_STATES = r"""
import json, resource
import torch
from core_model.undo_history import UNDO_MEMORY_BUDGET, UndoHistory

def rss():
    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()

history = UndoHistory()
start = rss()
for i in range(10_000):  # the predictor's state before a click: transform states and the 160×160 map
    prob = torch.rand(1, 1, 160, 160)
    noise = torch.empty(4, 4, 400, 400)  # the pipeline's larger temporaries in between
    history.push(([(None, prob, (160, 160), (160, 160), False), None, None], prob, prob))
    del noise
print(json.dumps({"grown_mb": (rss() - start) / 2**20, "budget_mb": UNDO_MEMORY_BUDGET / 2**20,
                  "kept": len(history), "kept_mb": history.nbytes / 2**20}))
"""


def test_ten_thousand_states_stay_within_the_default_budget():
    proc = subprocess.run([sys.executable, "-c", _TEN_THOUSAND_STATES], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["kept_mb"] <= result["budget_mb"] and result["kept"] > 1000
    assert result["grown_mb"] < result["budget_mb"] + 32, result


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model("hrnet18s", ocr_width=8).eval()


def _image():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 80, (72, 72, 3), dtype=np.uint8)
    image[20:50, 15:60] = (220, 210, 200)
    return image


def test_undo_is_exact_within_and_beyond_the_kept_history(tiny, monkeypatch):
    map_bytes = 72 * 72 * 4
    monkeypatch.setattr(undo_history, "UNDO_MEMORY_BUDGET", int(2.5 * map_bytes))
    clicks = [(30, 30, True), (35, 50, True), (10, 10, False), (45, 20, True), (60, 60, False), (25, 40, True)]
    for cache in (True, False):
        p = InteractivePredictor(tiny, settings=PredictorSettings(zoom_min_crop_size=24), cache=cache)
        p.set_image(_image())
        after = [p.add_click(*c) for c in clicks]
        assert len(p._history) <= 3 and p._history.dropped >= 3  # most states were let go
        for k in range(len(clicks) - 1, 0, -1):
            probs = p.undo()
            assert len(p.clicks) == k
            assert np.array_equal(probs, after[k - 1]), f"undo to {k} clicks (cache={cache})"
        assert p.undo() is None and p.clicks == [] and p.undo() is None
        # the replayed state goes on exactly like the original one
        again = [p.add_click(*c) for c in clicks]
        assert all(np.array_equal(a, b) for a, b in zip(after, again))


def test_nan_prediction_is_an_error_and_leaves_the_clicks(monkeypatch):
    class NaNNet(torch.nn.Module):
        with_prev_mask = True

        def forward(self, x, points):
            return {"instances": torch.full_like(x[:, :1], float("nan"))}

    p = InteractivePredictor(NaNNet())
    p.set_image(_image())
    with pytest.raises(ValueError, match="NaN"):
        p.add_click(30, 30, True)
    assert p.clicks == [] and p.probabilities is None
