"""The ONNX Runtime engine (issue 29): parity with the reference RITM sessions and with the torch predictor,
exact undo, the refusals of checkpoints it has no graph for, and of the refinement modes."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from conftest import SHARED, shared_path
from core_model.clicks import Click, next_click
from core_model.errors import CheckpointError, EngineError
from core_model.noc import iou
from core_model.predictor import InteractivePredictor, PredictorSettings

from core_model.onnx_network import load_onnx_network  # noqa: E402
from core_model.onnx_variants import GRAPH_DIR, SHIPPED, manifest_entry  # noqa: E402

REF = SHARED / "ritm_reference"
SESSIONS = sorted(p.name for p in REF.glob("*_session_*.npz") if "BRS" not in p.name) \
    or ["hrnet18s_itermask_ref_session_davis017.npz"]
PROB_TOL = 1e-4
_networks: dict = {}


def _network(name: str):
    if name not in _networks:
        _networks[name] = load_onnx_network(shared_path("ritm_reference", name + ".pth"), threads=2)
    return _networks[name]


@pytest.fixture(autouse=True, scope="module")
def _forget_networks():
    yield
    _networks.clear()


@pytest.mark.parametrize("session", SESSIONS)
def test_session_parity_and_simulated_clicks(session):
    data = np.load(shared_path("ritm_reference", session))
    pred = InteractivePredictor(_network(session.split("_session_")[0]), settings=PredictorSettings())
    assert pred.engine.name == "onnxruntime"
    pred.set_image(data["image"])
    gt = data["gt"]
    mask = np.zeros(gt.shape, dtype=bool)
    diffs = []
    for k, (row, col, positive) in enumerate(data["clicks"].tolist()):
        assert next_click(gt, mask, clicked=pred.clicks) == Click(row, col, bool(positive)), f"click {k + 1}"
        probs = pred.add_click(row, col, bool(positive))
        assert probs.dtype == np.float32 and probs.shape == gt.shape
        diffs.append(float(np.abs(probs - data["probs"][k]).max()))
        mask = pred.mask
        assert iou(gt, mask) == pytest.approx(data["ious"][k], abs=1e-3)
    print(f"{session} (ONNX Runtime): max |probs - reference| per click: " + ", ".join(f"{d:.1e}" for d in diffs))
    assert max(diffs) <= PROB_TOL


@pytest.mark.parametrize("name", ["hrnet18s_itermask_ref", "hrnet18_itermask_ref"])
def test_forward_parity(name):
    from core_model.click_maps_numpy import click_maps_array
    data = np.load(shared_path("ritm_reference", name + "_forward.npz"))
    net = _network(name)
    x = data["input"]
    maps = click_maps_array(data["points"], x.shape[2], x.shape[3], net.norm_radius, net.use_disks)
    logits = net(net.normalize(x[:, :3]), np.concatenate([x[:, 3:], maps], axis=1))
    assert logits.shape == data["instances"].shape
    assert float(np.abs(logits - data["instances"]).max()) < 1e-4


def _scene(h=300, w=500, seed=3):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    obj = ((yy - 0.5 * h) / (0.3 * h)) ** 2 + ((xx - 0.45 * w) / (0.2 * w)) ** 2 < 1
    image[obj] += 150
    return image


@pytest.mark.parametrize("overrides", [{}, {"flip": False}, {"zoom_in": False, "max_longest_side": None}])
def test_same_as_torch_predictor_with_zoom_limit_flip_and_exact_undo(overrides):
    """The default model recommends zoom-in to 256 and a 256-pixel longest side: both transforms run."""
    from core_model.load_predictor import load_predictor
    from core_model.default_model import default_checkpoint
    torch.set_num_threads(2)
    ort = load_predictor(default_checkpoint(), engine="onnxruntime", threads=2, **overrides)
    ref = load_predictor(default_checkpoint(), engine="torch", **overrides)
    assert ort.settings == ref.settings and ort.engine.name == "onnxruntime" and ref.engine.name == "torch"
    image = _scene()
    clicks = [(150, 225, True), (60, 400, False), (200, 160, True), (150, 300, True), (20, 20, False)]
    for pred in (ort, ref):
        pred.set_image(image)
    history = []
    for row, col, pos in clicks:
        a, b = ort.add_click(row, col, pos), ref.add_click(row, col, pos)
        assert a.dtype == np.float32 and float(np.abs(a - b).max()) < PROB_TOL
        assert np.array_equal(ort.mask, a > ort.settings.threshold)
        history.append(a)
    for k in range(len(clicks) - 1, 0, -1):  # undo restores the previous click's output bit for bit
        assert np.array_equal(ort.undo(), history[k - 1])
    assert ort.undo() is None and ort.clicks == []
    again = ort.add_click(*clicks[0])
    assert np.array_equal(again, history[0])


def test_initial_mask_feeds_the_previous_mask_channel_as_with_torch():
    from core_model.load_predictor import load_predictor
    from core_model.default_model import default_checkpoint
    ort = load_predictor(default_checkpoint(), engine="onnxruntime", threads=2)
    ref = load_predictor(default_checkpoint(), engine="torch")
    image = _scene(seed=5)
    initial = np.zeros(image.shape[:2], np.float32)
    initial[100:200, 150:300] = 1
    for pred in (ort, ref):
        pred.set_image(image)
        pred.set_initial_mask(initial)
    assert np.array_equal(ort.probabilities, initial)
    a, b = ort.add_click(150, 225, True), ref.add_click(150, 225, True)
    assert float(np.abs(a - b).max()) < PROB_TOL
    assert ort._zoom.object_roi == ref._zoom.object_roi and ort._zoom.object_roi is not None


def test_refinement_modes_need_the_torch_engine():
    from core_model.load_predictor import load_predictor
    from core_model.default_model import default_checkpoint
    with pytest.raises(EngineError) as info:
        load_predictor(default_checkpoint(), engine="onnxruntime", brs_mode="f-BRS-B")
    msg = str(info.value)
    assert "f-BRS-B" in msg and "PyTorch" in msg and "\n" not in msg and msg.endswith(".")
    with pytest.raises(EngineError, match="CPU"):
        load_predictor(default_checkpoint(), device="cuda", engine="onnxruntime")


def _tiny_checkpoint(path, **params):
    from core_model.checkpoint import save_checkpoint
    from core_model.model import build_model
    torch.manual_seed(0)
    save_checkpoint(build_model("hrnet18s", **params), path)
    return path


def test_checkpoints_without_a_graph_or_with_mismatched_weights_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no graph") as info:
        load_onnx_network(_tiny_checkpoint(tmp_path / "ocr8.pth", ocr_width=8))
    assert str(tmp_path / "ocr8.pth") in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="no graph"):
        load_onnx_network(_tiny_checkpoint(tmp_path / "relu.pth", use_leaky_relu=False))
    from core_model.checkpoint import checkpoint_config
    from core_model.model import build_model
    model = build_model("hrnet18s")
    state = dict(model.state_dict())
    del state["feature_extractor.conv1.weight"]
    torch.save({"state_dict": state, "config": checkpoint_config(model)}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="weights missing for feature_extractor.conv1.weight"):
        load_onnx_network(tmp_path / "missing.pth")
    state["feature_extractor.conv1.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save({"state_dict": state, "config": checkpoint_config(model)}, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match=r"has shape \(64, 3, 5, 5\) instead of \(64, 3, 3, 3\)"):
        load_onnx_network(tmp_path / "shape.pth")


def test_a_saved_checkpoint_of_each_shipped_architecture_runs_like_torch(tmp_path):
    """Any official-layout checkpoint of a shipped variant (here: a fresh hrnet18s without the previous
    mask, i.e. another graph than the reference sessions use) gives torch's logits."""
    from core_model.checkpoint import load_model
    from core_model.click_maps_numpy import click_maps_array
    path = _tiny_checkpoint(tmp_path / "noprev.pth", with_prev_mask=False)
    net, model = load_onnx_network(path, threads=2), load_model(path)
    rng = np.random.default_rng(0)
    rgb = rng.random((2, 3, 96, 160), dtype=np.float32)
    points = np.array([[[40, 50, 0], [-1, -1, -1]], [[10, 100, 0], [70, 20, 1]]], np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(rgb), torch.from_numpy(points))["instances"].numpy()
    maps = click_maps_array(points, 96, 160, net.norm_radius, net.use_disks)
    assert float(np.abs(net(net.normalize(rgb), maps) - expected).max()) < 1e-4


def test_shipped_graphs_are_small_and_hold_no_weights():
    for variant in SHIPPED:
        entry = manifest_entry(variant)
        assert entry is not None, variant.name
        raw = (GRAPH_DIR / variant.graph_file).read_bytes()
        assert len(raw) < 100_000
        graph = gzip.decompress(raw)
        assert len(graph) < 1_000_000
        assert set(entry["graph_weights"]) <= set(entry["state_dict"])
