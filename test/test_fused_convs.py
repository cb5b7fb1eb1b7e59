"""The fused-activation inference copy (core_model.fused_convs, issue 18) against the reference RITM outputs
stored in ../shared/ritm_reference: one forward, every stored NoBRS session through load_predictor (the path
the plugin and `core_model.benchmark` use), the unfused copy, and the gradient path the BRS modes take."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from conftest import SHARED, shared_path
from core_model.checkpoint import load_model
from core_model.fused_convs import FUSED_OP, FusedConv
from core_model.inference_speedups import optimize_for_inference

REF = SHARED / "ritm_reference"
SESSIONS = sorted(p.name for p in REF.glob("*_session_*.npz") if "BRS" not in p.name) \
    or ["hrnet18s_itermask_ref_session_davis017.npz"]
TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def test_this_torch_build_has_the_fused_op():
    # The project's CPU wheels (x86-64 with oneDNN) have it; without it fuse_activations changes nothing.
    assert FUSED_OP


@pytest.mark.parametrize("name", ["hrnet18s", "hrnet18"])
def test_fused_forward_matches_reference_and_unfused_copy(name):
    model = load_model(shared_path("ritm_reference", f"{name}_itermask_ref.pth"))
    ref = np.load(shared_path("ritm_reference", f"{name}_itermask_ref_forward.npz"))
    image, points = torch.from_numpy(ref["input"]), torch.from_numpy(ref["points"])
    fused, unfused = optimize_for_inference(model), optimize_for_inference(model, fuse=False)
    assert fused.n_fused_convs > 100 and unfused.n_fused_convs == 0
    # Every conv but the click path's 3→16 one carries its activation: no activation module is left
    # in a Sequential of the backbone (only the branch sums' ReLU), and the blocks run their fused forward.
    fe = fused.feature_extractor
    acts = (nn.ReLU, nn.LeakyReLU)
    assert not any(isinstance(c, acts) for s in fe.modules() if isinstance(s, nn.Sequential) for c in s)
    assert any(isinstance(c, acts) for s in unfused.feature_extractor.modules() if isinstance(s, nn.Sequential)
               for c in s)
    assert not any(type(m) is nn.Conv2d for m in fused.modules())
    assert type(fe).__name__ == "FusedHighResolutionNet"
    out, plain = fused(image, points), unfused(image, points)
    for key in ("instances", "instances_aux"):
        diff = float(np.abs(out[key].numpy() - ref[key]).max())
        assert diff <= TOL, (key, diff)
        assert float((out[key] - plain[key]).abs().max()) <= 1e-5
    # The fixture reacts to the clicks: the fused copy too.
    pts = points.clone()
    pts[:, :3] = -1
    assert float((fused(image, pts)["instances"] - out["instances"]).abs().max()) > 0.5


@pytest.mark.parametrize("session", SESSIONS)
def test_load_predictor_session_parity(session):
    """The plugin's predictor (fused inference copy + caches) reproduces every stored session of RITM."""
    from core_model.load_predictor import load_predictor
    data = np.load(shared_path("ritm_reference", session))
    pred = load_predictor(shared_path("ritm_reference", session.split("_session_")[0] + ".pth"))
    assert pred.model.n_fused_convs > 100
    pred.set_image(data["image"])
    diffs = []
    for k, (row, col, positive) in enumerate(data["clicks"].tolist()):
        probs = pred.add_click(row, col, bool(positive))
        diffs.append(float(np.abs(probs - data["probs"][k]).max()))
        assert np.array_equal(pred.mask, probs > 0.49)
    print(f"{session}: fused max |probs - reference| per click: " + ", ".join(f"{d:.1e}" for d in diffs))
    assert max(diffs) <= TOL


def test_gradient_path_falls_back_to_the_unfused_ops():
    """BRS back-propagates through the inference copy: with a gradient the fused convs compute exactly
    what the unfused copy does, and the gradient reaches the input."""
    model = load_model(shared_path("ritm_reference", "hrnet18s_itermask_ref.pth"))
    fused, unfused = optimize_for_inference(model), optimize_for_inference(model, fuse=False)
    g = torch.Generator().manual_seed(1)
    rgb = torch.rand(2, 3, 96, 128, generator=g)
    prev = torch.zeros(2, 1, 96, 128)
    points = torch.tensor([[[40.0, 60.0, 0.0], [-1.0, -1.0, -1.0]]]).repeat(2, 1, 1)
    grads, outs = [], []
    for m in (fused, unfused):
        with torch.inference_mode(False), torch.enable_grad():
            bias = torch.zeros(2, 3, 96, 128, requires_grad=True)
            feats = m.feature_extractor
            x = m.normalize(rgb + bias).contiguous(memory_format=torch.channels_last)
            coord = m.coord_features(x, prev, points)
            logits = feats.forward_from_stem(feats.image_stem(x), m.maps_transform(coord))[0]
            logits.sigmoid().sum().backward()
        grads.append(bias.grad)
        outs.append(logits.detach())
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(grads[0], grads[1]) and float(grads[0].abs().max()) > 0


def test_fused_conv_alone_and_nothing_to_fuse_without_folding():
    conv = nn.Conv2d(8, 4, 3, padding=1)
    x = torch.randn(2, 8, 5, 7).contiguous(memory_format=torch.channels_last)
    other = torch.randn(2, 4, 5, 7)
    with torch.no_grad():
        ref = conv(x)
        for act, fn in (("none", lambda y: y), ("relu", torch.relu),
                        ("leaky_relu", lambda y: nn.functional.leaky_relu(y, 0.2))):
            fc = FusedConv(conv, act, 0.2)
            assert torch.allclose(fc(x), fn(ref), atol=1e-6)
            assert "act=" + act in repr(fc)
        plain = FusedConv(conv)
        assert torch.allclose(plain.add_relu(x, other), torch.relu(ref + other), atol=1e-6)
    # The model being optimised (e.g. one in training) is left as it was: the copy is fused, not the original.
    from core_model.model import build_model
    raw = build_model("hrnet18s").eval()
    fast = optimize_for_inference(raw)
    assert any(isinstance(m, FusedConv) for m in fast.modules())
    assert not any(isinstance(m, FusedConv) for m in raw.modules())
    assert all(p.requires_grad for p in raw.parameters())


def test_session_process_keeps_freed_buffers():
    """The plugin's session process tunes glibc's allocator for inference (Linux with glibc, as here)."""
    import sys

    from avalanche_iseg_plugin.engine.predictor_loader import keep_freed_buffers
    assert keep_freed_buffers() is sys.platform.startswith("linux")


def test_load_predictor_can_leave_the_copy_unfused():
    """`core_model.benchmark --unfused` times this one beside the fused one."""
    from core_model.load_predictor import load_predictor
    ckpt = shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")
    assert load_predictor(ckpt, fuse=False).model.n_fused_convs == 0
    assert load_predictor(ckpt).model.n_fused_convs > 100
