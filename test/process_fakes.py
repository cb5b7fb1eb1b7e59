"""Predictor factories a child server process can import by name (engine/server_process.py --factory)."""
from gis_fixtures import FakePredictor


def fake_factory(checkpoint, device, threshold):
    return FakePredictor(threshold=threshold)


LATE_MODULE = "avalanche_late_dependency"


def late_factory(checkpoint, device, threshold):
    """Like make_predictor needing torch: works only once LATE_MODULE is importable (the tests install it
    into the private dependency folder after the process started)."""
    import importlib

    importlib.import_module(LATE_MODULE)
    return FakePredictor(threshold=threshold)
