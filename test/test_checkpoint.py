"""Safe checkpoint loading (refusals) and save → load round trips."""
import os
import pickle

import numpy as np
import pytest
import torch

from core_model.checkpoint import CheckpointError, checkpoint_config, load_model, save_checkpoint
from core_model.model import build_model

MARKER_NAME = "pwned_marker"


class _RunsCode:
    """Unpickling this would call os.system and create a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _inputs(size=64, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 4, size, size, generator=g)
    points = torch.tensor([[[20.0, 30.0, 0.0], [-1, -1, -1], [40.0, 10.0, 1.0], [-1, -1, -1]]]).repeat(batch, 1, 1)
    return image, points


def _run(model, image, points):
    with torch.no_grad():
        return model(image, points)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    # Non-trivial BatchNorm statistics so that the round trip really checks the buffers.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _assert_refused(path, *words):
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert msg.count(". ") == 0 and msg.endswith("."), f"not one sentence: {msg}"
    for w in words:
        assert w in msg, msg
    return msg


@pytest.mark.parametrize("raw_pickle", [False, True])
def test_pickle_that_runs_code_is_refused(tmp_path, raw_pickle):
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "evil.pth"
    payload = {"state_dict": {"w": torch.zeros(1)}, "config": _RunsCode(marker)}
    if raw_pickle:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    else:
        torch.save(payload, path)
    _assert_refused(path, "run code")
    assert not marker.exists()


def test_payload_is_live_without_weights_only(tmp_path):
    # Proves the crafted file above would have done harm if loaded unsafely.
    marker = tmp_path / MARKER_NAME
    data = pickle.dumps(_RunsCode(marker))
    pickle.loads(data)
    assert marker.exists()


def _write(path, config_class=None, params=None, state=None):
    ckpt = {"state_dict": state if state is not None else {"w": torch.zeros(1)}}
    if config_class is not None:
        ckpt["config"] = {"class": config_class, "params": params or {}}
    torch.save(ckpt, path)
    return path


def test_unknown_class_is_refused(tmp_path):
    _assert_refused(_write(tmp_path / "x.pth", "mypackage.models.Net"), "unknown model class")


@pytest.mark.parametrize("cls", ["isegm.model.is_deeplab_model.DeeplabModel",
                                 "isegm.model.is_segformer_model.SegformerModel",
                                 "isegm.model.is_plainvit_model.PlainVitModel",
                                 "isegm.model.is_something_new.NewModel"])
def test_non_hrnet_ritm_model_is_refused(tmp_path, cls):
    _assert_refused(_write(tmp_path / "x.pth", cls), cls, "only RITM HRNet models")


def test_plain_state_dict_is_refused(tmp_path, small_model):
    path = tmp_path / "weights_only.pth"
    torch.save(small_model.state_dict(), path)
    _assert_refused(path, "without the model config")
    path2 = tmp_path / "no_config.pth"
    torch.save({"state_dict": small_model.state_dict()}, path2)
    _assert_refused(path2, "without the model config")


def test_truncated_file_is_refused(tmp_path, small_model):
    good = tmp_path / "good.pth"
    save_checkpoint(small_model, good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(data[: len(data) // 2])
    _assert_refused(bad, "truncated or corrupted")


def test_text_jpeg_empty_missing_are_refused(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n")
    _assert_refused(text, "not a PyTorch checkpoint")
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9")
    _assert_refused(jpeg, "not a PyTorch checkpoint")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    _assert_refused(empty, "empty")
    _assert_refused(tmp_path / "missing.pth", "does not exist")
    _assert_refused(tmp_path, "not a file")


def test_config_problems_are_refused(tmp_path, small_model):
    config = checkpoint_config(small_model)
    state = small_model.state_dict()

    def variant(name, **changes):
        params = {k: dict(v) for k, v in config["params"].items()}
        for key, entry in changes.items():
            if entry is None:
                params.pop(key)
            else:
                params[key] = entry
        return _write(tmp_path / name, config["class"], params, state)

    _assert_refused(variant("unknown_param.pth", secret_switch={"type": "builtin", "value": 1,
                                                               "specified": True}), "secret_switch")
    _assert_refused(variant("bad_norm.pth", norm_layer={"type": "class", "value": "os.system",
                                                        "specified": True}), "os.system")
    _assert_refused(variant("bad_type.pth", width={"type": "builtin", "value": "18", "specified": True}), "width")
    _assert_refused(variant("groups.pth", clicks_groups={"type": "builtin", "value": [5, 10],
                                                         "specified": True}), "clicks_groups")
    # Architecture in the config disagrees with the weights: strict key/shape matching.
    msg = _assert_refused(variant("wrong_arch.pth", small={"type": "builtin", "value": False,
                                                           "specified": True}), "does not match")
    assert "hrnet18" in msg
    _assert_refused(variant("wrong_width.pth", ocr_width={"type": "builtin", "value": 64,
                                                          "specified": True}), "shape")
    extra_state = dict(state, **{"feature_extractor.extra.weight": torch.zeros(3)})
    _assert_refused(_write(tmp_path / "extra_key.pth", config["class"], config["params"], extra_state),
                    "unexpected weights", "feature_extractor.extra.weight")
    missing_state = {k: v for k, v in state.items() if k != "maps_transform.3.scale"}
    _assert_refused(_write(tmp_path / "missing_key.pth", config["class"], config["params"], missing_state),
                    "weights missing", "maps_transform.3.scale")


def test_round_trip_gives_identical_outputs(tmp_path, small_model):
    path = tmp_path / "model.pth"
    save_checkpoint(small_model, path, extra={"epoch": 7})
    raw = torch.load(path, weights_only=True)
    assert raw["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    assert raw["config"]["params"]["norm_layer"]["type"] == "class"
    assert raw["config"]["params"]["width"] == {"type": "builtin", "value": 18, "specified": True}
    assert raw["epoch"] == 7
    loaded = load_model(path)
    assert loaded.arch_name == "hrnet18s" and loaded.checkpoint_path == str(path) and not loaded.training
    image, points = _inputs()
    a, b = _run(small_model, image, points), _run(loaded, image, points)
    assert torch.equal(a["instances"], b["instances"]) and torch.equal(a["instances_aux"], b["instances_aux"])


def test_inference_copy_cannot_be_saved(tmp_path, small_model):
    from core_model.inference_speedups import optimize_for_inference
    with pytest.raises(TypeError, match="optimize_for_inference"):
        save_checkpoint(optimize_for_inference(small_model), tmp_path / "fast.pth")
    assert not (tmp_path / "fast.pth").exists()


def test_half_round_trip_loads_float32(tmp_path, small_model):
    path = tmp_path / "model_half.pth"
    save_checkpoint(small_model, path, half=True)
    raw = torch.load(path, weights_only=True)["state_dict"]
    assert raw["feature_extractor.conv1.weight"].dtype == torch.float16
    assert raw["feature_extractor.bn1.num_batches_tracked"].dtype == torch.int64
    full_size = sum(v.numel() * v.element_size() for v in small_model.state_dict().values())
    assert os.path.getsize(path) < 0.6 * full_size
    loaded = load_model(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    # Identical to the model with its weights rounded to float16 and back.
    rounded = build_model("hrnet18s").eval()
    rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                             for k, v in small_model.state_dict().items()})
    image, points = _inputs()
    a, b = _run(rounded, image, points), _run(loaded, image, points)
    assert torch.equal(a["instances"], b["instances"])
    close = _run(small_model, image, points)["instances"]
    assert float((close - b["instances"]).abs().max()) < 0.05


@pytest.mark.parametrize("params", [dict(use_rgb_conv=True, use_leaky_relu=False),
                                    dict(use_disks=False, norm_radius=260, with_prev_mask=False),
                                    dict(conv_extend=True, binary_prev_mask=True, with_aux_output=False)])
def test_variants_round_trip(tmp_path, params):
    torch.manual_seed(1)
    model = build_model("hrnet18s", ocr_width=16, **params).eval()
    path = tmp_path / "variant.pth"
    save_checkpoint(model, path)
    loaded = load_model(path)
    for key, value in params.items():
        assert loaded.params[key] == value
    image, points = _inputs(size=48)
    if not params.get("with_prev_mask", True):
        image = image[:, :3]
    a, b = _run(model, image, points), _run(loaded, image, points)
    assert set(a) == set(b) == ({"instances", "instances_aux"} if params.get("with_aux_output", True)
                                else {"instances"})
    assert torch.equal(a["instances"], b["instances"])


def test_hrnet32_builds_and_runs():
    model = build_model("hrnet32").eval()
    assert model.arch_name == "hrnet32" and model.feature_extractor.ocr_width == 128
    assert model.state_dict()["feature_extractor.transition3.3.0.0.weight"].shape == (256, 128, 3, 3)
    image, points = _inputs(size=64, batch=2)
    out = _run(model, image, points)
    assert out["instances"].shape == (2, 1, 64, 64) and out["instances_aux"].shape == (2, 1, 64, 64)
    assert torch.isfinite(out["instances"]).all()


def test_build_model_rejects_unknown_arch():
    with pytest.raises(ValueError, match="hrnet18s"):
        build_model("resnet50")


def test_forward_rejects_wrong_shapes(small_model):
    image, points = _inputs(size=32)
    with pytest.raises(ValueError, match="B×4×H×W"):
        small_model(image[:, :3], points)
    with pytest.raises(ValueError, match="B×2N×3"):
        small_model(image, points[:, :3])
    with pytest.raises(ValueError, match="B×2N×3"):
        small_model(image, points[:, :, :2])


def test_click_maps_match_definition():
    from core_model.click_maps import click_maps
    points = torch.tensor([[[3.0, 4.0, 0.0], [-1, -1, -1], [8.0, 1.0, 1.0], [-1, -1, -1]]])
    disks = click_maps(points, 10, 12, norm_radius=2, use_disks=True)
    rr, cc = np.mgrid[0:10, 0:12]
    assert np.array_equal(disks[0, 0].numpy(), ((rr - 3) ** 2 + (cc - 4) ** 2 <= 4).astype(np.float32))
    assert np.array_equal(disks[0, 1].numpy(), ((rr - 8) ** 2 + (cc - 1) ** 2 <= 4).astype(np.float32))
    dist = click_maps(points, 10, 12, norm_radius=5, use_disks=False)
    expected = np.tanh(2 * np.sqrt(((rr - 3) / 5) ** 2 + ((cc - 4) / 5) ** 2))
    assert np.allclose(dist[0, 0].numpy(), expected, atol=1e-6)
    none = click_maps(torch.full((1, 2, 3), -1.0), 5, 5, norm_radius=2, use_disks=True)
    assert none.sum() == 0


def test_recommended_predictor_settings_travel_with_the_checkpoint(tmp_path, small_model):
    """A checkpoint may recommend inference settings (our default model does); predictors built without
    explicit settings use them, explicit overrides win, official-style files keep RITM's defaults."""
    from core_model.load_predictor import load_predictor
    from core_model.predictor import InteractivePredictor, PredictorSettings

    hinted = tmp_path / "hinted.pth"
    save_checkpoint(small_model, hinted, predictor_settings={"zoom_target_size": 192, "max_longest_side": 256,
                                                             "zoom_min_crop_size": 100, "future_knob": 3})
    model = load_model(hinted)
    assert model.predictor_hints == {"zoom_target_size": 192, "max_longest_side": 256, "zoom_min_crop_size": 100}
    s = InteractivePredictor(model).settings
    assert (s.zoom_target_size, s.max_longest_side, s.zoom_min_crop_size, s.threshold) == (192, 256, 100, 0.49)
    s = load_predictor(hinted, threshold=0.6).settings
    assert (s.zoom_target_size, s.max_longest_side, s.threshold) == (192, 256, 0.6)
    assert load_predictor(hinted, settings=PredictorSettings()).settings.zoom_target_size == 400
    # re-saving a loaded model keeps its recommendation
    again = tmp_path / "again.pth"
    save_checkpoint(model, again, half=True)
    assert load_model(again).predictor_hints == model.predictor_hints

    plain = tmp_path / "plain.pth"
    save_checkpoint(small_model, plain)
    assert "predictor_settings" not in torch.load(plain, weights_only=True)
    s = load_predictor(plain).settings
    assert (s.zoom_target_size, s.max_longest_side, s.zoom_min_crop_size) == (400, None, 200)


@pytest.mark.parametrize("hints, word", [([192], "malformed predictor settings"),
                                         ({"zoom_target_size": "big"}, "zoom_target_size"),
                                         ({"max_longest_side": 4}, "max_longest_side"),
                                         ({"zoom_target_size": True}, "zoom_target_size")])
def test_bad_recommended_settings_are_refused(tmp_path, small_model, hints, word):
    path = tmp_path / "bad hints.pth"
    torch.save({"state_dict": small_model.state_dict(), "config": checkpoint_config(small_model),
                "predictor_settings": hints}, path)
    _assert_refused(path, word)
