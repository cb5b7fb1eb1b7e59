"""The optional int8 path of the ONNX Runtime engine (issue 29): a statically quantized copy of the default
model, calibrated on a (here synthetic) dataset folder, runs in the same predictor and stays close to the
float model; calibration leaves out the images it is told to."""
from __future__ import annotations

import numpy as np
import pytest


from core_model.default_model import default_checkpoint  # noqa: E402
from core_model.errors import EngineError  # noqa: E402


def _dataset(folder, n=3):
    import cv2
    (folder / "img").mkdir(parents=True)
    (folder / "gt").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(0, 80, (160, 240, 3), dtype=np.uint8)
        gt = np.zeros((160, 240), np.uint8)
        gt[40 + 10 * i:120, 60:180 - 20 * i] = 255
        image[gt > 0] += 120
        cv2.imwrite(str(folder / "img" / f"s{i}.png"), image)
        cv2.imwrite(str(folder / "gt" / f"s{i}.png"), gt)
    return folder


def test_int8_model_runs_in_the_predictor_close_to_float(tmp_path):
    from core_model.load_predictor import load_predictor
    from core_model.onnx_int8 import calibration_samples, int8_network
    from core_model.predictor import InteractivePredictor, recommended_settings
    folder = _dataset(tmp_path / "calib")
    assert len(calibration_samples(folder, exclude=["s1.png"])) == 2
    with pytest.raises(EngineError, match="no images left"):
        calibration_samples(folder, exclude=["s0", "s1", "s2"])
    network = int8_network(default_checkpoint(), folder, threads=2, n_images=2, n_clicks=2)
    assert network.quantized and network.arch_name == "hrnet18s"
    int8 = InteractivePredictor(network, settings=recommended_settings(network))
    fp32 = load_predictor(default_checkpoint(), engine="onnxruntime", threads=2)
    import cv2
    image = cv2.cvtColor(cv2.imread(str(folder / "img" / "s2.png")), cv2.COLOR_BGR2RGB)
    for pred in (int8, fp32):
        pred.set_image(image)
    a, b = int8.add_click(80, 100, True), fp32.add_click(80, 100, True)
    assert a.shape == b.shape and not np.array_equal(a, b)  # really another model
    assert float(np.abs(a - b).mean()) < 0.05
    agree = np.logical_and(a > 0.49, b > 0.49).sum() / max(1, np.logical_or(a > 0.49, b > 0.49).sum())
    assert agree > 0.8


def test_benchmark_times_int8_beside_float_and_torch(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    folder = _dataset(tmp_path / "calib", n=2)
    base = [sys.executable, "-m", "core_model.benchmark", "--engine", "onnxruntime-int8", "--size", "96", "--clicks",
            "2", "--repeats", "1", "--no-memory", "--json"]
    env = dict(os.environ, OMP_NUM_THREADS="2")
    proc = subprocess.run(base, capture_output=True, text=True, cwd=root, env=env, timeout=300)
    assert proc.returncode == 2 and "--calibration" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run(base + ["--calibration", str(folder)], capture_output=True, text=True, cwd=root, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    assert [m["mode"] for m in res["modes"]] == ["onnxruntime-int8", "onnxruntime", "reference-equivalent", "optimised"]
    assert res["engine"] == "onnxruntime-int8" and res["ratio_per_click"] > 0
