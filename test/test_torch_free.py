"""Digitising without torch (issue 29): in a process where torch cannot be imported, core_model loads the
default model and an official-layout RITM checkpoint, predicts on the ONNX Runtime engine (chosen
automatically) and its command lines run; the --engine flag of the commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED


ROOT = Path(__file__).resolve().parents[1]
REF = SHARED / "ritm_reference"
# A finder first on sys.meta_path that refuses torch: `import torch` fails as if it were not installed.
NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, _NoTorch())
"""

_PREDICT = NO_TORCH + """
import json
import numpy as np
import core_model
from core_model.errors import EngineError
out = {}
pred = core_model.load_predictor(core_model.default_checkpoint())
image = np.zeros((240, 320, 3), np.uint8); image[80:160, 100:220] = 200
pred.set_image(image)
first = pred.add_click(120, 160, True)
second = pred.add_click(10, 10, False)
out["default"] = {"engine": pred.engine.name, "description": pred.engine.description, "shape": list(first.shape),
                  "object": int(pred.mask.sum()), "undo_exact": bool(np.array_equal(pred.undo(), first))}
try:
    core_model.load_predictor(core_model.default_checkpoint(), engine="torch")
except EngineError as exc:
    out["torch_refused"] = str(exc)
ref = sys.argv[1]
if ref:
    data = np.load(ref + "_session_davis017.npz")
    pred = core_model.load_predictor(ref + ".pth", zoom_in=True)
    pred.set_image(data["image"])
    row, col, pos = data["clicks"][0].tolist()
    out["reference_diff"] = float(np.abs(pred.add_click(row, col, bool(pos)) - data["probs"][0]).max())
out["torch_imported"] = "torch" in sys.modules
print(json.dumps(out))
"""


def _run(code: str, *args, timeout=300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)


def test_default_model_and_official_checkpoint_predict_without_torch():
    ref = REF / "hrnet18s_itermask_ref"
    proc = _run(_PREDICT, str(ref) if ref.with_suffix(".pth").is_file() else "")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch_imported"] is False
    assert out["default"]["engine"] == "onnxruntime" and out["default"]["description"] == "ONNX Runtime, CPU"
    assert out["default"]["shape"] == [240, 320] and out["default"]["object"] > 0 and out["default"]["undo_exact"]
    assert "torch is not installed" in out["torch_refused"]
    if "reference_diff" not in out:
        pytest.skip(f"{REF} is missing: the official-layout checkpoint was not tried")
    assert out["reference_diff"] < 1e-4


def _cli(module: str, *args, no_torch: bool = False) -> subprocess.CompletedProcess:
    code = (NO_TORCH if no_torch else "import sys\n") + \
        f"import runpy\nsys.argv = [{module!r}] + sys.argv[1:]\nrunpy.run_module({module!r}, run_name='__main__')\n"
    return _run(code, *args)


@pytest.fixture(scope="module")
def image_and_clicks(tmp_path_factory):
    import cv2
    folder = tmp_path_factory.mktemp("cli")
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:90, 40:120] = 220
    cv2.imwrite(str(folder / "im.png"), image)
    (folder / "clicks.json").write_text("[[60, 80, true], [5, 5, false]]")
    return folder


def test_predict_cli_engines_agree_and_run_without_torch(image_and_clicks):
    folder = image_and_clicks
    outputs = {}
    for engine, no_torch in (("torch", False), ("onnxruntime", False), ("auto", True)):
        out = folder / f"{engine}.npy"
        proc = _cli("core_model.predict", "--engine", engine, "--threads", "2", "--image", str(folder / "im.png"),
                    "--clicks", str(folder / "clicks.json"), "--out", str(out), no_torch=no_torch)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs[engine] = np.load(out)
    assert float(np.abs(outputs["torch"] - outputs["onnxruntime"]).max()) < 1e-4
    assert np.array_equal(outputs["onnxruntime"], outputs["auto"])  # auto without torch is onnxruntime


@pytest.mark.parametrize("args, words", [(["--engine", "onnxruntime", "--brs", "f-BRS-B"], ["PyTorch engine"]),
                                         (["--engine", "onnxruntime", "--device", "cuda"], ["CPU"]),
                                         (["--engine", "torch"], ["torch is not installed"])])
def test_predict_cli_refusals_are_one_line(image_and_clicks, args, words):
    folder = image_and_clicks
    proc = _cli("core_model.predict", *args, "--image", str(folder / "im.png"), "--clicks",
                str(folder / "clicks.json"), "--out", str(folder / "x.npy"), no_torch="torch is not" in words[0])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), proc.stderr


def test_benchmark_cli_times_onnxruntime_beside_the_reference():
    proc = _cli("core_model.benchmark", "--engine", "onnxruntime", "--size", "96", "--clicks", "2", "--repeats", "1",
                "--no-memory", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    assert res["engine"] == "onnxruntime"
    assert [m["mode"] for m in res["modes"]] == ["onnxruntime", "reference-equivalent", "optimised"]
    assert all(m["median_s_per_click"] > 0 and m["median_s_first_click"] > 0 for m in res["modes"])
    assert res["ratio_per_click"] > 0 and res["max_abs_prob_diff"] < 1e-4


def test_benchmark_cli_without_torch_times_onnxruntime_alone():
    proc = _cli("core_model.benchmark", "--size", "64", "--clicks", "1", "--repeats", "1", "--no-memory", "--json",
                no_torch=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    assert res["engine"] == "onnxruntime" and [m["mode"] for m in res["modes"]] == ["onnxruntime"]
    assert res["speedup"] is None


def test_evaluate_cli_engines_give_the_same_noc():
    dataset = SHARED / "datasets" / "COCO_MVal_subset"
    if not dataset.is_dir():
        pytest.skip(f"{dataset} is missing")
    results = {}
    for engine in ("torch", "onnxruntime"):
        proc = _cli("core_model.evaluate", "--engine", engine, "--threads", "2", "--dataset", str(dataset),
                    "--limit", "1", "--n-clicks", "3", "--json")
        assert proc.returncode == 0, proc.stderr[-2000:]
        results[engine] = json.loads(proc.stdout)
    a, b = results["torch"], results["onnxruntime"]
    assert (a["noc85"], a["noc90"], a["total_clicks"]) == (b["noc85"], b["noc90"], b["total_clicks"])
    assert a["mean_iou_at_click"] == pytest.approx(b["mean_iou_at_click"], abs=1e-4)
