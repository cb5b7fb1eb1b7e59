import numpy as np

from conftest import shared_path
from core_model.checkpoint import load_model
from core_model.inference_speedups import InferenceHRNetModel
from core_model.load_predictor import load_predictor
from core_model.predictor import InteractivePredictor, PredictorSettings


def test_load_predictor_uses_the_inference_copy_with_the_same_output():
    ckpt = shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    image[30:70, 40:90] = 230
    fast = load_predictor(ckpt, settings=PredictorSettings(threshold=0.3))
    plain = InteractivePredictor(load_model(ckpt), cache=False)
    assert isinstance(fast.model, InferenceHRNetModel)
    assert fast.settings.threshold == 0.3
    for p in (fast, plain):
        p.set_image(image)
        p.add_click(50, 60, True)
        p.add_click(10, 10, False)
    assert np.abs(fast.probabilities - plain.probabilities).max() < 1e-4
