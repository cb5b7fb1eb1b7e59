"""Forward parity with the reference RITM implementation on its own checkpoints (../shared/ritm_reference)."""
import numpy as np
import pytest
import torch

from conftest import shared_path
from core_model.checkpoint import load_model
from core_model.inference_speedups import optimize_for_inference
from core_model.model import build_model

TOL = 1e-4


def _reference(name):
    ckpt = shared_path("ritm_reference", f"{name}_itermask_ref.pth")
    ref = np.load(shared_path("ritm_reference", f"{name}_itermask_ref_forward.npz"))
    return ckpt, ref


def _max_diffs(out, ref):
    return {k: float(np.abs(out[k].numpy() - ref[k]).max()) for k in ("instances", "instances_aux")}


@pytest.mark.parametrize("name,arch", [("hrnet18s", "hrnet18s"), ("hrnet18", "hrnet18")])
def test_forward_matches_reference(name, arch):
    ckpt, ref = _reference(name)
    model = load_model(ckpt)
    assert model.arch_name == arch and not model.training
    with torch.no_grad():
        out = model(torch.from_numpy(ref["input"]), torch.from_numpy(ref["points"]))
    assert out["instances"].shape == ref["instances"].shape
    diffs = _max_diffs(out, ref)
    print(f"{name} max abs diff: {diffs}")
    assert max(diffs.values()) <= TOL, diffs
    # The fixture is sensitive to the clicks: dropping the positive clicks must change the output.
    pts = torch.from_numpy(ref["points"]).clone()
    pts[:, :3] = -1
    with torch.no_grad():
        changed = model(torch.from_numpy(ref["input"]), pts)["instances"]
    assert float((changed - out["instances"]).abs().max()) > 0.5

    # The inference-optimised copy gives the same outputs; the original model is left untouched.
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    assert fast.n_folded_batchnorms > 100
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    fast_out = fast(torch.from_numpy(ref["input"]), torch.from_numpy(ref["points"]))
    fast_diffs = _max_diffs(fast_out, ref)
    print(f"{name} optimised max abs diff: {fast_diffs}")
    assert max(fast_diffs.values()) <= TOL, fast_diffs
    no_aux = fast(torch.from_numpy(ref["input"]), torch.from_numpy(ref["points"]), with_aux=False)
    assert set(no_aux) == {"instances"} and torch.equal(no_aux["instances"], fast_out["instances"])
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(RuntimeError, match="cannot be trained"):
        fast.train()


def test_split_forward_equals_full_forward():
    ckpt, ref = _reference("hrnet18s")
    model = load_model(ckpt)
    image = torch.from_numpy(ref["input"])
    points = torch.from_numpy(ref["points"])
    with torch.no_grad():
        full = model(image, points)
        feats = model.image_features(image[:, :3])
        split = model.forward_from_features(feats, image[:, 3:], points)
        no_aux = model(image, points, with_aux=False)
    fast = optimize_for_inference(model)
    fast_feats = fast.image_features(image[:, :3])
    fast_full = fast(image, points)
    fast_split = fast.forward_from_features(fast_feats, image[:, 3:], points)
    assert torch.equal(fast_full["instances"], fast_split["instances"])
    assert torch.equal(full["instances"], split["instances"])
    assert torch.equal(full["instances_aux"], split["instances_aux"])
    assert "instances_aux" not in no_aux and torch.equal(no_aux["instances"], full["instances"])


def test_state_dict_keys_are_ritm_keys():
    ckpt, _ = _reference("hrnet18")
    official = torch.load(ckpt, weights_only=True)["state_dict"]
    ours = build_model("hrnet18").state_dict()
    assert list(ours.keys()) == list(official.keys())
    assert all(ours[k].shape == official[k].shape for k in ours)


def test_backbone_parameter_split():
    model = build_model("hrnet18s")
    backbone = {id(p) for p in model.backbone_parameters()}
    named = dict(model.named_parameters())
    assert backbone == {id(p) for n, p in named.items() if n.startswith("feature_extractor.")}
    assert {id(p) for p in model.head_parameters()} == {id(p) for n, p in named.items()
                                                        if not n.startswith("feature_extractor.")}
    assert "maps_transform.3.scale" in named and named["maps_transform.3.scale"].item() == pytest.approx(0.05)


def test_model_speed_cli(capsys, tmp_path):
    from core_model import model_speed
    ckpt, _ = _reference("hrnet18s")
    assert model_speed.main(["--checkpoint", str(ckpt), "--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "optimised+cached_image" in out and "speed-up" in out
    missing = tmp_path / "nope.pth"
    assert model_speed.main(["--checkpoint", str(missing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
