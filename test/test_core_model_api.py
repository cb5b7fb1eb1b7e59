"""core_model's public API (cheap to import), its one Transform base, and its command lines (in
core_model/cli, still run as python -m core_model.X, each making its predictor with load_predictor)."""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

from conftest import REPO

CLI_MODULES = ("predict", "evaluate", "benchmark", "model_speed")


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{code}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_import_core_model_needs_neither_torch_nor_opencv():
    loaded = _python("import core_model, core_model.raster_rgb, core_model.clicks, core_model.noc\n"
                     "core_model.DEFAULT_CHECKPOINT, core_model.Click, core_model.iou, core_model.load_predictor\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'cv2', 'qgis', 'PyQt5')))")
    assert loaded == "[]"


def test_public_api_names_resolve():
    import core_model
    from core_model.checkpoint import load_model
    from core_model.load_predictor import load_predictor
    from core_model.noc import noc
    from core_model.predictor import InteractivePredictor

    for name in core_model.__all__:
        assert getattr(core_model, name) is not None, name
    # the functions named like their modules stay functions, whatever was imported before
    assert core_model.load_predictor is load_predictor and core_model.noc is noc
    assert core_model.InteractivePredictor is InteractivePredictor and core_model.load_model is load_model
    assert core_model.DEFAULT_CHECKPOINT.name == "avalanche_iseg_default.pth"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        core_model.nothing  # noqa: B018


def test_every_transform_derives_from_the_one_base():
    import torch

    from core_model import transforms
    from core_model.transforms import HorizontalFlip, LimitLongestSide, NetInput, Sigmoid, Transform, ZoomIn

    classes = [c for _, c in inspect.getmembers(transforms, inspect.isclass)
               if c.__module__ == transforms.__name__ and hasattr(c, "inv_transform")]
    assert set(classes) == {Transform, ZoomIn, LimitLongestSide, Sigmoid, HorizontalFlip}
    assert all(issubclass(c, Transform) for c in classes)
    with pytest.raises(TypeError):
        Transform()
    for t in (ZoomIn(), LimitLongestSide(), Sigmoid(), HorizontalFlip()):
        state = t.get_state()
        t.reset()
        t.set_state(state)
        t.clear_cache()
    inp = NetInput(torch.rand(1, 3, 4, 5), torch.zeros(1, 1, 4, 5), "k")
    out, clicks = HorizontalFlip().transform(inp, [[]])
    assert out.rgb.shape[0] == 2 and len(clicks) == 2


@pytest.mark.parametrize("name", CLI_MODULES)
def test_shims_run_the_moved_command_with_the_same_options(name):
    def run(module):
        return subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                              timeout=120)

    shim, moved = run(f"core_model.{name}"), run(f"core_model.cli.{name}")
    assert shim.returncode == moved.returncode == 0, shim.stderr + moved.stderr
    assert "--checkpoint" in shim.stdout
    assert shim.stdout.replace("core_model.cli.", "core_model.") == moved.stdout.replace("core_model.cli.",
                                                                                         "core_model.")
    assert len((REPO / "core_model" / f"{name}.py").read_text().splitlines()) <= 8


def test_commands_make_predictors_only_with_load_predictor():
    """No command builds an InteractivePredictor itself: they all go through load_predictor."""
    for path in sorted((REPO / "core_model" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        called = {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
                  for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert "InteractivePredictor" not in called, path.name
        assert "optimize_for_inference" not in called or path.name == "model_speed.py", path.name
    common = (REPO / "core_model" / "cli" / "common.py").read_text(encoding="utf-8")
    assert "load_predictor(" in common
