"""Every error the plugin raises on purpose derives from one root, AvalancheError, and every error core_model
raises on purpose from its own torch-free root, CoreModelError; neither is a ValueError, so front ends tell
bad input (one sentence for the user: ``USER_ERRORS``) from bugs (a ValueError included) with one except
clause."""
import pytest

from avalanche_iseg_plugin.cli.headless import QgisStartError
from avalanche_iseg_plugin.cli.segment_options import InputError
from avalanche_iseg_plugin.engine import errors
from avalanche_iseg_plugin.engine.click_file import ClickFileError
from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable

OWN_ERRORS = [errors.RasterError, errors.SessionError, errors.EmptyMaskError, errors.LayerError, errors.CameraError,
              errors.WriteDeferred,
              ClickFileError,
              InputError, PredictorUnavailable, QgisStartError]


@pytest.mark.parametrize("cls", OWN_ERRORS, ids=lambda c: c.__name__)
def test_plugin_errors_derive_from_the_root(cls):
    assert issubclass(cls, errors.AvalancheError) and not issubclass(cls, ValueError)
    assert cls is errors.AvalancheError or not issubclass(cls, RuntimeError)


def test_core_model_errors_have_their_own_torch_free_root():
    import subprocess
    import sys

    from core_model.errors import CheckpointError, CliError, CoreModelError, DatasetError
    assert errors.AvalancheError.__bases__ == (Exception,) and CoreModelError.__bases__ == (Exception,)
    for cls in (CheckpointError, DatasetError, CliError):
        assert issubclass(cls, CoreModelError) and not issubclass(cls, ValueError)
    assert errors.USER_ERRORS == (errors.AvalancheError, CoreModelError)
    code = "import sys, core_model.errors, avalanche_iseg_plugin.engine.errors; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_every_exception_class_of_the_plugin_is_listed():
    """A new error class anywhere in the plugin (outside gui/, which needs Qt widgets) must join the root."""
    import importlib
    import inspect
    import pkgutil

    import avalanche_iseg_plugin

    found = set()
    for info in pkgutil.walk_packages(avalanche_iseg_plugin.__path__, "avalanche_iseg_plugin."):
        if ".gui" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.add(obj)
    assert found - {errors.AvalancheError} == set(OWN_ERRORS)


def test_predictor_unavailable_is_bad_input_for_the_cli(monkeypatch, capsys, tmp_path):
    """PredictorUnavailable (no torch) is an AvalancheError now: the CLI reports it in one line, exit 2."""
    from avalanche_iseg_plugin.cli import segment

    def unavailable(*_args):
        raise PredictorUnavailable("PyTorch is not installed in QGIS's Python, so the model cannot run.")

    monkeypatch.setattr(segment, "run", unavailable)
    assert segment.main(["--raster", "r.tif", "--clicks", "c.json", "--out", str(tmp_path / "a.gpkg")]) == 2
    assert capsys.readouterr().err == "error: PyTorch is not installed in QGIS's Python, so the model cannot run.\n"

    def bug(_args):   # a ValueError that is not ours is a bug now, no longer "bad input"
        raise ValueError("math domain error")

    monkeypatch.setattr(segment, "run", bug)
    assert segment.main(["--raster", "r.tif", "--clicks", "c.json", "--out", str(tmp_path / "a.gpkg")]) == 1
    assert capsys.readouterr().err == ("error: unexpected failure (ValueError: math domain error); rerun with "
                                       "--debug for details.\n")
