"""Predictor factories a child server process can import by name (engine/server_process.py --factory)."""
from gis_fixtures import FakePredictor


def fake_factory(checkpoint, device, threshold):
    return FakePredictor(threshold=threshold)
