"""training/: data layouts, click sampling, losses, ITER-M clicks, the loop, checkpoints and --resume.

Everything runs on tiny synthetic data (64-px crops) so the file stays well under a minute on 2 cores.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.augment import AugmentSettings, augment
from training.batches import TrainBatches
from training.data_spec import build_datasets, parse_spec
from training.datasets import DataError, ImageFolderDataset, Sample, split_indices
from training.iter_mask import add_error_clicks, error_click
from training.losses import ITERMLoss, NormalizedFocalLoss, SigmoidBCELoss
from training.points_sampler import SamplerSettings, sample_clicks
from training.train import main
from training.trainer import cosine_factor, make_optimizer, set_click_scale


def _shape_image(rng, size=96):
    """A noisy image with a bright ellipse (the object) and its mask."""
    image = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    center = (int(rng.integers(30, size - 30)), int(rng.integers(30, size - 30)))
    axes = (int(rng.integers(12, 24)), int(rng.integers(12, 24)))
    cv2.ellipse(mask, center, axes, 0, 0, 360, 255, -1)
    image[mask > 0] = (230, 200, 60)
    return image, mask


def make_ritm_folder(root: Path, n=6, seed=0, three_channel=False) -> Path:
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    for i in range(n):
        image, mask = _shape_image(rng)
        cv2.imwrite(str(root / "img" / f"im {i:02d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        m = np.where(mask > 0, 128, 0).astype(np.uint8)
        cv2.imwrite(str(root / "gt" / f"im {i:02d}.png"), np.dstack([m, m * 0, m * 0]) if three_channel else mask)
    return root


@pytest.fixture
def tiny_data(tmp_path):
    return make_ritm_folder(tmp_path / "tiny")


# --- data -----------------------------------------------------------------------------------------------
def test_ritm_folder_reads_any_nonzero_channel_as_object(tmp_path):
    root = make_ritm_folder(tmp_path / "davis", n=2, three_channel=True)
    ds = ImageFolderDataset(root)
    assert ds.layout == "ritm" and len(ds) == 2
    sample = ds.get(0)
    raw = cv2.imread(str(root / "gt" / "im 00.png"), cv2.IMREAD_UNCHANGED)
    assert sample.image.shape == (96, 96, 3)
    assert np.array_equal(sample.labels == 1, raw.max(axis=2) > 0)
    assert set(np.unique(sample.labels)) == {0, 1}


def test_grabcut_layout_marks_128_as_ignore(tmp_path):
    root = tmp_path / "GrabCut"
    (root / "data_GT").mkdir(parents=True)
    (root / "boundary_GT").mkdir()
    cv2.imwrite(str(root / "data_GT" / "flower.jpg"), np.full((40, 50, 3), 100, np.uint8))
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 10:40] = 255
    mask[8:10, 10:40] = 128
    cv2.imwrite(str(root / "boundary_GT" / "flower.bmp"), mask)
    sample = ImageFolderDataset(root).get(0)
    assert sample.labels[20, 20] == 1 and sample.labels[9, 20] == -1 and sample.labels[2, 2] == 0


def test_unknown_folder_layout_is_one_sentence(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="neither img/"):
        ImageFolderDataset(tmp_path / "x")


def test_split_is_fixed_by_seed_and_disjoint():
    a_train, a_val = split_indices(100, 40, seed=3)
    b_train, b_val = split_indices(100, 40, seed=3)
    assert a_val == b_val and len(a_val) == 40 and not set(a_train) & set(a_val)
    assert len(split_indices(100, 0.1, seed=3)[1]) == 10
    assert split_indices(100, 40, seed=4)[1] != a_val


def test_data_spec_holds_out_validation_images(tiny_data):
    train, val = build_datasets(f"{tiny_data},val=2", seed=0)
    assert len(train) == 4 and len(val) == 2
    assert not set(train.indices) & set(val.indices)
    with pytest.raises(DataError, match="unknown option"):
        parse_spec(f"{tiny_data},vall=2")
    with pytest.raises(DataError, match="gis:RASTER,POLYGONS"):
        parse_spec("gis:only_one.tif")


def test_augment_gives_crop_with_object_and_photometric_change(tiny_data):
    sample = ImageFolderDataset(tiny_data).get(0)
    settings = AugmentSettings(crop_size=(64, 64), short_side=64)
    rng = np.random.default_rng(0)
    outs = [augment(sample, settings, rng, min_object_area=20) for _ in range(8)]
    for out in outs:
        assert out.image.shape == (64, 64, 3) and out.labels.shape == (64, 64)
        assert (out.labels == 1).sum() >= 20
        # the object keeps its colour up to brightness/contrast/shift: mean inside clearly brighter (R)
        assert out.image[out.labels == 1][:, 0].mean() > out.image[out.labels == 0][:, 0].mean() + 40


def test_object_views_frame_a_small_object_as_zoom_in_does():
    """A 12-px object in a 300-px image: a whole-image crop shrinks it away, an object view (p = 1) frames it
    at 1/2.0–1/1.2 of the crop (up to the jitter) and keeps the colours with it."""
    image = np.full((300, 300, 3), 40, np.uint8)
    labels = np.zeros((300, 300), np.int32)
    labels[250:262, 30:42] = 1
    image[labels == 1] = (230, 200, 60)
    sample = Sample(image, labels, target=1, name="small")
    settings = AugmentSettings(crop_size=(64, 64), short_side=64, object_crop_prob=1.0,
                               brightness_contrast_prob=0.0, rgb_shift_prob=0.0)
    rng = np.random.default_rng(1)
    for _ in range(10):
        out = augment(sample, settings, rng, min_object_area=20)
        assert out.image.shape == (64, 64, 3) and out.labels.shape == (64, 64)
        rows, cols = np.nonzero(out.labels == 1)
        assert 64 / 2.0 - 3 <= rows.max() - rows.min() + 1 <= 64 / 1.2 + 3
        assert 64 / 2.0 - 3 <= cols.max() - cols.min() + 1 <= 64 / 1.2 + 3
        assert out.image[out.labels == 1][:, 0].mean() > 180
    plain = augment(sample, AugmentSettings(crop_size=(64, 64), short_side=64), rng, min_object_area=20)
    assert (plain.labels == 1).sum() < 20  # too small to keep at the whole-image scale


# --- click sampling, losses, error clicks -----------------------------------------------------------------
def test_sampled_clicks_respect_object_others_and_ignore():
    labels = np.zeros((80, 80), np.int32)
    labels[10:40, 10:40] = 1
    labels[50:70, 50:70] = 2
    labels[:, 75:] = -1
    s = SamplerSettings(max_points=24, merge_prob=0.0)
    for seed in range(30):
        gt, points = sample_clicks(labels, 1, np.random.default_rng(seed), s)
        assert points.shape == (48, 3)
        assert np.array_equal(gt == 1, labels == 1) and np.all(gt[labels == -1] == -1)
        pos, neg = points[:24], points[24:]
        assert (pos[:, 0] >= 0).sum() >= 1
        for r, c, idx in pos[pos[:, 0] >= 0]:
            assert labels[int(r), int(c)] == 1 and idx == 100
        for r, c, _ in neg[neg[:, 0] >= 0]:
            assert labels[int(r), int(c)] in (0, 2)
        pads = points[points[:, 0] < 0]
        assert np.all(pads == -1)


def test_sample_without_object_gets_only_negative_clicks():
    labels = np.zeros((40, 40), np.int32)
    for seed in range(10):
        gt, points = sample_clicks(labels, None, np.random.default_rng(seed))
        assert np.all(gt == 0) and np.all(points[:24] == -1)


def test_losses_ignore_ignored_pixels_and_reward_right_answers():
    gt = torch.zeros(1, 1, 8, 8)
    gt[..., 2:6, 2:6] = 1
    gt[..., 0, :] = -1
    good = (gt * 20 - 10)
    bad = -good
    focal, bce = NormalizedFocalLoss(), SigmoidBCELoss()
    assert focal(good, gt) < 1e-3 < focal(bad, gt)
    assert bce(good, gt) < 1e-3 < bce(bad, gt)
    changed = good.clone()
    changed[..., 0, :] = 37.0  # only ignored pixels change
    assert torch.isclose(focal(changed, gt), focal(good, gt)) and torch.isclose(bce(changed, gt), bce(good, gt))
    total, parts = ITERMLoss()({"instances": bad, "instances_aux": bad}, gt)
    assert abs(float(total) - (parts["focal"] + 0.4 * parts["aux_bce"])) < 1e-5


def test_error_click_goes_into_the_larger_error():
    gt = np.zeros((50, 50), np.float32)
    gt[10:40, 10:40] = 1
    r, c, positive = error_click(np.zeros((50, 50)), gt, np.random.default_rng(0))
    assert positive and 17 <= r <= 32 and 17 <= c <= 32  # inside the inner half of the missed object
    r, c, positive = error_click(np.ones((50, 50)), np.zeros((50, 50)), np.random.default_rng(0))
    assert not positive
    assert error_click(gt, gt, np.random.default_rng(0)) is None
    points = torch.full((1, 6, 3), -1.0)
    new = add_error_clicks(torch.zeros(1, 1, 50, 50), torch.from_numpy(gt)[None, None], points, 1,
                           np.random.default_rng(0))
    assert new[0, 2, 2] == 1 and gt[int(new[0, 2, 0]), int(new[0, 2, 1])] == 1  # slot N-1, index 1
    assert torch.all(new[0, 3:] == -1)


# --- the loop -----------------------------------------------------------------------------------------
def test_a_few_steps_lower_the_loss(tiny_data):
    from core_model.model import build_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build_model("hrnet18s")
    assert set_click_scale(model, 1.0)
    model.train()
    train, _ = build_datasets(str(tiny_data))
    batches = TrainBatches([train], AugmentSettings(crop_size=(64, 64), short_side=64),
                           SamplerSettings(max_points=4), min_object_area=20, seed=0)
    images, gt, points, _ = batches.batch(0, 4)
    opt = make_optimizer(model, 1e-3, 0.1)
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["lr"] == pytest.approx(1e-4)
    loss_fn = ITERMLoss()
    net_input = torch.cat((images, torch.zeros_like(images[:, :1])), dim=1)
    losses = []
    for _ in range(8):
        loss, _ = loss_fn(model(net_input, points), gt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0] and np.mean(losses[-3:]) < np.mean(losses[:3]), losses


def test_cosine_schedule_ends_at_min_ratio():
    assert cosine_factor(0, 100, 0.01) == pytest.approx(1.0)
    assert cosine_factor(50, 100, 0.01) == pytest.approx(0.505)
    assert cosine_factor(100, 100, 0.01) == pytest.approx(0.01)


def _cli(data, out, *extra):
    return main(["--data", f"{data},val=2", "--out", str(out), "--crop-size", "64", "--batch-size", "2",
                 "--steps-per-epoch", "2", "--max-points", "4", "--val-clicks", "2", "--threads", "1",
                 "--no-progress", *extra])


def test_cli_writes_checkpoints_that_core_model_loads_and_predicts(tiny_data, tmp_path):
    from core_model.checkpoint import load_model
    from core_model.predictor import InteractivePredictor

    out = tmp_path / "run"
    assert _cli(tiny_data, out, "--epochs", "2") == 0
    ckpts = out / "checkpoints"
    for name in ("001.pth", "002.pth", "last_checkpoint.pth", "best_checkpoint.pth"):
        assert (ckpts / name).is_file(), name
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,step,lr,loss")
    assert rows[2].split(",")[1] == "4"
    assert (out / "log.png").stat().st_size > 1000
    raw = torch.load(ckpts / "last_checkpoint.pth", weights_only=True)
    assert set(raw) == {"state_dict", "config"}
    assert raw["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    model = load_model(ckpts / "last_checkpoint.pth")
    assert model.arch_name == "hrnet18s"
    predictor = InteractivePredictor(model)
    image = cv2.cvtColor(cv2.imread(str(tiny_data / "img" / "im 00.jpg")), cv2.COLOR_BGR2RGB)
    predictor.set_image(image)
    probs = predictor.add_click(48, 48, True)
    assert probs.shape == (96, 96) and np.isfinite(probs).all() and 0 <= probs.min() <= probs.max() <= 1


def test_resume_continues_exactly_where_the_run_stopped(tiny_data, tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    assert _cli(tiny_data, full, "--epochs", "2", "--no-epoch-checkpoints") == 0
    assert _cli(tiny_data, split, "--epochs", "2", "--no-epoch-checkpoints", "--max-steps", "3") == 0
    stopped = torch.load(split / "train_state.pth", weights_only=True)
    assert stopped["step"] == 3
    assert main(["--out", str(split), "--resume", "--threads", "1", "--no-progress"]) == 0
    a = torch.load(full / "train_state.pth", weights_only=True)
    b = torch.load(split / "train_state.pth", weights_only=True)
    assert a["step"] == b["step"] == 4
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert float(sa[k]["step"]) == float(sb[k]["step"]) == 4.0
        assert torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) and torch.equal(sa[k]["exp_avg_sq"], sb[k]["exp_avg_sq"])
    wa = torch.load(full / "checkpoints" / "last_checkpoint.pth", weights_only=True)["state_dict"]
    wb = torch.load(split / "checkpoints" / "last_checkpoint.pth", weights_only=True)["state_dict"]
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert len((split / "log.csv").read_text().strip().splitlines()) == 3


def test_cli_refuses_bad_input_with_one_line(tiny_data, tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a folder" in err[0]
    assert main(["--out", str(tmp_path / "r2"), "--resume", "--no-progress"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    assert main(["--data", str(tiny_data), "--out", str(tmp_path / "r3"), "--crop-size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    assert main(["--data", str(tiny_data), "--out", str(tmp_path / "r4"), "--until", "soon"]) == 2
    assert "--until" in capsys.readouterr().err


def test_finetunes_from_an_official_ritm_checkpoint(tiny_data, tmp_path, shared):
    from core_model.checkpoint import load_model

    ref = shared("ritm_reference", "hrnet18s_itermask_ref.pth")
    out = tmp_path / "ft"
    assert _cli(tiny_data, out, "--epochs", "1", "--steps-per-epoch", "1", "--weights", str(ref),
                "--arch", "hrnet32") == 0  # the checkpoint's architecture wins over --arch
    tuned = load_model(out / "checkpoints" / "last_checkpoint.pth")
    base = load_model(ref)
    assert tuned.arch_name == "hrnet18s"
    tuned_sd, base_sd = tuned.state_dict(), base.state_dict()
    assert tuned_sd.keys() == base_sd.keys()
    changed = [k for k in base_sd if base_sd[k].is_floating_point() and not torch.equal(base_sd[k], tuned_sd[k])]
    assert len(changed) > 100  # it trained from the reference weights ...
    diff = max(float((base_sd[k] - tuned_sd[k]).abs().max()) for k in changed if k.endswith("weight"))
    assert diff < 0.05  # ... one small step away from them, not from a fresh start
