"""One evaluation run: a checkpoint, in one mode, on one dataset, with RITM's simulated user.

Sessions stop when the IoU reaches the highest target (and at least `min_clicks` clicks were made) or the
click budget is used; `full_sessions` makes every session use the whole budget (for the IoU curve).
`resize` (W, H) is the avalanche fork's: an image wider than W or higher than H is resized to W×H (the
mask with nearest-neighbour) before the session."""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..noc import NOC_THRESHOLDS, evaluate_sample
from .modes import RECOMMENDED, RITM, describe_settings, run_settings


@dataclass
class RunOptions:
    n_clicks: int = 20
    min_clicks: int = 5
    targets: tuple = (0.85, 0.90)
    full_sessions: bool = False
    resize: tuple | None = None        # (width, height)
    overrides: dict = field(default_factory=dict)   # PredictorSettings fields (None: the mode's)
    limit: int | None = None
    preset: str | None = None          # --preset: complete settings, on RITM's defaults instead of the recommended
    engine: str | None = None          # torch or onnxruntime (None: torch when installed)
    threads: int | None = None


@dataclass
class Named:
    """A checkpoint or dataset as the user named it (NAME=PATH, else the file or folder name)."""
    name: str
    path: Path


@dataclass
class RunResult:
    checkpoint: Named
    arch: str
    mode: str
    dataset: Named
    layout: str
    settings: str
    n_clicks: int
    names: list = field(default_factory=list)
    ious: list = field(default_factory=list)        # per sample: IoU after each click (np.ndarray)
    predictor_seconds: float = 0.0
    wall_seconds: float = 0.0
    predictor: object = field(default=None, repr=False)   # kept until the pictures of the worst are drawn

    @property
    def label(self) -> str:
        """Row name: the checkpoint, with the mode when it is not the checkpoint's own settings."""
        return self.checkpoint.name if self.mode == RECOMMENDED else f"{self.checkpoint.name} [{self.mode}]"

    @property
    def total_clicks(self) -> int:
        return int(sum(len(x) for x in self.ious))

    @property
    def seconds_per_click(self) -> float:
        return self.predictor_seconds / self.total_clicks if self.total_clicks else float("nan")


def resize_sample(image: np.ndarray, gt: np.ndarray, resize: tuple | None):
    """The fork's resize: only images larger than (W, H) in one direction are resized, to exactly W×H."""
    if resize is None:
        return image, gt
    import cv2
    width, height = resize
    if image.shape[1] > width or image.shape[0] > height:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        gt = cv2.resize(gt, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, gt


def make_predictor(checkpoint: Path, mode: str, dataset_name: str, options: RunOptions, device):
    """The run's predictor, made by load_predictor with the mode's settings and the run's overrides."""
    from ..load_predictor import load_predictor
    overrides = {k: v for k, v in options.overrides.items() if v is not None}
    full_size = overrides.get("max_longest_side") == 0               # --max-longest-side 0
    if full_size:
        del overrides["max_longest_side"]
    if mode == RECOMMENDED and options.preset is None:
        return load_predictor(checkpoint, device=device, engine=options.engine, threads=options.threads,
                              **overrides, **({"max_longest_side": None} if full_size else {}))
    settings = run_settings(RITM if mode == RECOMMENDED else mode, dataset_name, overrides)
    return load_predictor(checkpoint, device=device, engine=options.engine, threads=options.threads,
                          settings=dataclasses.replace(settings, max_longest_side=None) if full_size else settings)


def stop_target(options: RunOptions) -> float:
    """The IoU a session stops at: the highest target (NoC@85 and @90 are always reported, so at least 0.90),
    beyond reach with `full_sessions`."""
    return 1.01 if options.full_sessions else max(*options.targets, *NOC_THRESHOLDS)


def run_one(checkpoint: Named, mode: str, dataset: Named, ds, options: RunOptions, device,
            progress: bool = True) -> RunResult:
    """Evaluate `checkpoint` in `mode` on the samples of `ds` (an EvalDataset of `dataset`)."""
    predictor = make_predictor(checkpoint.path, mode, dataset.name, options, device)
    result = RunResult(checkpoint, getattr(predictor.model, "arch_name", "?"), mode, dataset, ds.layout,
                       describe_settings(predictor.settings), options.n_clicks)
    n = len(ds) if options.limit is None else min(options.limit, len(ds))
    from tqdm import tqdm
    start = time.perf_counter()
    desc = f"evaluating {checkpoint.name} [{mode}] on {dataset.name}" if progress else "evaluating"
    for i in tqdm(range(n), desc=desc, unit="sample", file=sys.stderr, dynamic_ncols=True):
        sample = ds[i]
        image, gt = resize_sample(sample.image, sample.gt, options.resize)
        ious, _, spent = evaluate_sample(predictor, image, gt, options.n_clicks, stop_target(options),
                                         options.min_clicks)
        result.names.append(sample.name)
        result.ious.append(ious)
        result.predictor_seconds += spent
    result.wall_seconds = time.perf_counter() - start
    result.predictor = predictor
    return result


def replay(result: RunResult, ds, index: int, options: RunOptions, on_click) -> None:
    """Run sample `index` again with the run's predictor, calling `on_click(clicks, mask, iou)` after each
    click (the predictor is deterministic, so the session is the one measured)."""
    sample = ds[index]
    image, gt = resize_sample(sample.image, sample.gt, options.resize)
    evaluate_sample(result.predictor, image, gt, options.n_clicks, stop_target(options), options.min_clicks,
                    on_click=lambda clicks, mask, iou: on_click(image, gt, clicks, mask, iou))
