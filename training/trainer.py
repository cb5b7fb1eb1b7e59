"""The ITER-M training run: model, optimiser, schedule, epochs, validation, checkpoints, resume.

Run folder layout:
    checkpoints/NNN.pth            the model after epoch NNN (RITM's official checkpoint layout)
    checkpoints/last_checkpoint.pth   the latest model (also written when a run stops early)
    checkpoints/best_checkpoint.pth   the model with the best validation NoC@90 so far
    train_state.pth                step, optimiser and schedule state, best score, the run's settings
    log.csv, log.png               losses and validation NoC per epoch
"""
from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .augment import AugmentSettings
from .batches import TrainBatches
from .data_spec import build_datasets, build_validation
from .iter_mask import simulate_clicks
from .log_plot import append_row, write_plot
from .losses import ITERMLoss
from .points_sampler import SamplerSettings
from .run_state import TrainingError, read_train_state
from .validate import prepare, run_sessions, summarize

BACKBONE_PREFIX = "feature_extractor."


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    arch: str = "hrnet18s"
    val_data: list[str] = field(default_factory=list)
    weights: str | None = None
    click_scale_init: float | None = 1.0
    crop_size: int = 256
    batch_size: int = 8
    epochs: int = 20
    steps_per_epoch: int = 100
    lr: float = 5e-4
    backbone_lr_mult: float = 0.1
    min_lr_ratio: float = 0.01
    max_points: int = 24
    max_next_clicks: int = 3
    prev_mask_drop_prob: float = 0.2
    object_crop_prob: float = 0.0
    min_object_area: int | None = None
    val_clicks: int = 20
    val_max_images: int = 40
    val_every: int = 1
    seed: int = 0
    split_seed: int = 0
    save_every_minutes: float = 10.0
    keep_epoch_checkpoints: bool = True


@dataclass
class RunControl:
    """How long this invocation runs; never stored (a resumed run gets its own)."""
    deadline: float | None = None  # time.time() at which to stop
    max_steps: int | None = None  # steps in this invocation
    threads: int = 2
    device: str | None = None
    progress: bool = True


# --- building blocks ----------------------------------------------------------------------------------
def set_click_scale(model, value: float) -> bool:
    """Start value of the ScaleLayer that ends RITM's maps_transform (RITM: 0.05); False if none."""
    mt = getattr(model, "maps_transform", None)
    if mt is None:
        return False
    layers = [m for m in mt.modules() if isinstance(getattr(m, "scale", None), torch.nn.Parameter)]
    if not layers:
        return False
    layer = layers[-1]
    with torch.no_grad():
        layer.scale.fill_(value / float(getattr(layer, "lr_mult", 1.0)))
    return True


def make_optimizer(model, lr: float, backbone_lr_mult: float) -> torch.optim.Optimizer:
    backbone = [p for n, p in model.named_parameters() if n.startswith(BACKBONE_PREFIX) and p.requires_grad]
    head = [p for n, p in model.named_parameters() if not n.startswith(BACKBONE_PREFIX) and p.requires_grad]
    groups = [{"params": head, "lr": lr}, {"params": backbone, "lr": lr * backbone_lr_mult}]
    return torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def cosine_factor(step: int, total: int, min_ratio: float) -> float:
    t = min(max(step, 0), total) / max(total, 1)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def load_datasets(cfg: TrainConfig):
    train, val = [], []
    for spec in cfg.data:
        t, v = build_datasets(spec, seed=cfg.split_seed, window_size=cfg.crop_size)
        train.append(t)
        val.append(v)
    for spec in cfg.val_data:
        val.append(build_validation(spec, seed=cfg.split_seed, window_size=cfg.crop_size))
    train = [d for d in train if d is not None and len(d)]
    val = [d for d in val if d is not None and len(d)]
    if not train:
        raise TrainingError("the --data given leave no image for training (all of it is held out for validation).")
    return train, val


def validation_items(val_sets, cfg: TrainConfig) -> list:
    items = []
    for ds in val_sets:
        for i in range(len(ds)):
            item = prepare(ds.get(i), cfg.crop_size)
            if item is not None:
                items.append(item)
    if len(items) > cfg.val_max_images:
        keep = np.random.default_rng(cfg.split_seed).choice(len(items), cfg.val_max_images, replace=False)
        items = [items[i] for i in sorted(keep)]
    return items


def is_better(score: dict, best: dict | None) -> bool:
    if not score:
        return False
    key = lambda s: (s["val_noc90"], s["val_noc85"], -s.get("val_miou@5", 0.0))
    return best is None or key(score) < key(best)


# --- the run ------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: TrainConfig, control: RunControl, resume: bool = False, log=print):
        from core_model.checkpoint import load_model
        from core_model.model import build_model

        self.cfg, self.control, self.log = cfg, control, log
        self.out = Path(cfg.out)
        self.ckpt_dir = self.out / "checkpoints"
        self.state_path = self.out / "train_state.pth"
        torch.set_num_threads(max(1, control.threads))
        try:
            import cv2

            cv2.setNumThreads(max(1, control.threads))
        except Exception:
            pass
        self.device = torch.device(control.device or ("cuda" if torch.cuda.is_available() else "cpu"))

        self.train_sets, self.val_sets = load_datasets(cfg)
        area = cfg.min_object_area or int(round(0.0065 * cfg.crop_size * cfg.crop_size))
        self.batches = TrainBatches(self.train_sets, AugmentSettings(crop_size=(cfg.crop_size, cfg.crop_size),
                                                                     short_side=cfg.crop_size,
                                                                     object_crop_prob=cfg.object_crop_prob),
                                    SamplerSettings(max_points=cfg.max_points), area, seed=cfg.seed)
        self.val_items = validation_items(self.val_sets, cfg)

        state = None
        if resume:
            last = self.ckpt_dir / "last_checkpoint.pth"
            if not self.state_path.exists() or not last.exists():
                raise TrainingError(f"{self.out} holds no run to resume (train_state.pth or "
                                    "checkpoints/last_checkpoint.pth is missing).")
            state = read_train_state(self.state_path, TrainConfig)
            self.model = load_model(last)
        elif cfg.weights:
            self.model = load_model(cfg.weights)
        else:
            torch.manual_seed(cfg.seed)  # the same seed gives the same starting weights
            self.model = build_model(cfg.arch)
            if cfg.click_scale_init is not None:
                set_click_scale(self.model, cfg.click_scale_init)
        self.model.to(self.device).train()
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.optimizer = make_optimizer(self.model, cfg.lr, cfg.backbone_lr_mult)
        self.total_steps = cfg.epochs * cfg.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cosine_factor(s, self.total_steps, cfg.min_lr_ratio))
        self.loss_fn = ITERMLoss()
        self.step = 0
        self.best: dict | None = None
        self.epoch_acc = {"n": 0, "loss": 0.0, "focal": 0.0, "aux_bce": 0.0, "sim_clicks": 0.0, "seconds": 0.0}
        self.elapsed = 0.0
        if state is not None:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
                for p in self.model.parameters():
                    moments = self.optimizer.state.get(p, {})
                    if any(moments[k].shape != p.shape for k in ("exp_avg", "exp_avg_sq") if k in moments):
                        raise ValueError("optimiser state of another shape")
            except (ValueError, KeyError, TypeError, IndexError, RuntimeError, AttributeError):
                raise TrainingError(f"{self.state_path} does not fit the model in checkpoints/last_checkpoint.pth "
                                    "(its optimiser state is of another model); it cannot be resumed.") from None
            self.step = int(state["step"])
            self.best = state.get("best")
            self.epoch_acc = dict(state["epoch_acc"])
            self.elapsed = float(state.get("elapsed", 0.0))
        self._stop_requested = False

    # --- persistence ------------------------------------------------------------------------------
    def save_state(self) -> None:
        from core_model.checkpoint import save_checkpoint

        save_checkpoint(self.model, self.ckpt_dir / "last_checkpoint.pth")
        state = {"step": self.step, "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "best": self.best, "epoch_acc": self.epoch_acc,
                 "elapsed": self.elapsed, "config": asdict(self.cfg)}
        tmp = self.state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.state_path)

    def end_of_epoch(self, epoch: int) -> None:
        from core_model.checkpoint import save_checkpoint

        acc = self.epoch_acc
        n = max(acc["n"], 1)
        row = {"epoch": epoch, "step": self.step, "lr": self.optimizer.param_groups[0]["lr"],
               "loss": acc["loss"] / n, "focal": acc["focal"] / n, "aux_bce": acc["aux_bce"] / n,
               "sim_clicks": acc["sim_clicks"] / n, "sec_per_step": acc["seconds"] / n,
               "elapsed_min": self.elapsed / 60.0}
        score = {}
        if self.val_items and (epoch % self.cfg.val_every == 0 or epoch == self.cfg.epochs):
            t0 = time.time()
            ious = run_sessions(self.model, self.val_items, self.cfg.val_clicks, self.cfg.batch_size, self.device)
            score = summarize(ious, self.cfg.val_clicks)
            row.update(score)
            self.log(f"epoch {epoch}: loss {row['loss']:.4f}, validation NoC@85 {score['val_noc85']:.2f}, "
                     f"NoC@90 {score['val_noc90']:.2f}, mIoU@1 {score['val_miou@1']:.3f} "
                     f"({len(ious)} images, {time.time() - t0:.0f} s)")
        else:
            self.log(f"epoch {epoch}: loss {row['loss']:.4f}")
        if self.cfg.keep_epoch_checkpoints:
            save_checkpoint(self.model, self.ckpt_dir / f"{epoch:03d}.pth")
        if is_better(score, self.best):
            self.best = dict(score, epoch=epoch, step=self.step)
            save_checkpoint(self.model, self.ckpt_dir / "best_checkpoint.pth")
        self.epoch_acc = {k: 0.0 for k in self.epoch_acc}
        self.epoch_acc["n"] = 0
        self.save_state()
        append_row(self.out / "log.csv", row)
        write_plot(self.out / "log.csv", self.out / "log.png")

    # --- one step ---------------------------------------------------------------------------------
    def train_step(self) -> dict:
        cfg = self.cfg
        torch.manual_seed(cfg.seed * 1_000_003 + self.step)  # dropout in the OCR head: fixed per step
        images, gt, points, rng = self.batches.batch(self.step, cfg.batch_size)
        images, gt, points = images.to(self.device), gt.to(self.device), points.to(self.device)
        net_input, points, n_sim = simulate_clicks(self.model, images, gt, points, rng, cfg.max_next_clicks,
                                                   cfg.prev_mask_drop_prob)
        outputs = self.model(net_input, points)
        loss, parts = self.loss_fn(outputs, gt)
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss became {float(loss)} at step {self.step}; lower --lr.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        parts["sim_clicks"] = float(n_sim)
        return parts

    def _request_stop(self, signum, frame):
        self._stop_requested = True

    def run(self) -> dict:
        cfg, control = self.cfg, self.control
        self.out.mkdir(parents=True, exist_ok=True)
        old_handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old_handlers[sig] = signal.signal(sig, self._request_stop)
            except ValueError:  # not in the main thread
                pass
        bar = None
        if control.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, unit="step", mininterval=2.0,
                       dynamic_ncols=True, file=sys.stderr)
        steps_this_run = 0
        last_save = time.time()
        reason = "finished"
        try:
            while self.step < self.total_steps:
                if self._stop_requested:
                    reason = "stopped by signal"
                    break
                if control.deadline is not None and time.time() >= control.deadline:
                    reason = "time limit reached"
                    break
                if control.max_steps is not None and steps_this_run >= control.max_steps:
                    reason = "step limit of this run reached"
                    break
                t0 = time.time()
                parts = self.train_step()
                dt = time.time() - t0
                self.elapsed += dt
                steps_this_run += 1
                acc = self.epoch_acc
                acc["n"] += 1
                acc["seconds"] += dt
                for k in ("loss", "focal", "aux_bce", "sim_clicks"):
                    acc[k] += parts.get(k, 0.0)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['loss']:.4f}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}",
                                    s_per_step=f"{dt:.2f}")
                if self.step % cfg.steps_per_epoch == 0:
                    self.end_of_epoch(self.step // cfg.steps_per_epoch)
                    last_save = time.time()
                elif time.time() - last_save >= cfg.save_every_minutes * 60:
                    self.save_state()
                    last_save = time.time()
        finally:
            if bar is not None:
                bar.close()
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
        if self.step % cfg.steps_per_epoch != 0 or steps_this_run == 0:
            self.save_state()
        self.log(f"{reason} at step {self.step} of {self.total_steps}; the run is in {self.out}"
                 + ("" if self.step >= self.total_steps else " (continue it with --resume)"))
        return {"step": self.step, "reason": reason, "best": self.best}
