"""Training batches: random samples of all training datasets, augmented, with sampled clicks.

Everything random about step `s` comes from numpy's generator seeded with (seed, s), so a resumed run
sees exactly the batches the uninterrupted run would have seen.
"""
from __future__ import annotations

import numpy as np
import torch

from .augment import AugmentSettings, augment
from .points_sampler import SamplerSettings, sample_clicks


class TrainBatches:
    def __init__(self, datasets: list, augment_settings: AugmentSettings, sampler_settings: SamplerSettings,
                 min_object_area: int, seed: int = 0):
        self.datasets = [d for d in datasets if d is not None and len(d) > 0]
        self.index = [(di, i) for di, d in enumerate(self.datasets) for i in range(len(d))]
        self.aug = augment_settings
        self.sampler = sampler_settings
        self.min_object_area = min_object_area
        self.seed = seed

    def __len__(self) -> int:
        return len(self.index)

    def rng(self, step: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, step])

    def item(self, rng: np.random.Generator):
        di, i = self.index[int(rng.integers(0, len(self.index)))]
        sample = self.datasets[di].get(i, rng)
        negative = sample.target is None and not (sample.labels > 0).any()
        sample = augment(sample, self.aug, rng, self.min_object_area, allow_empty=negative)
        gt, points = sample_clicks(sample.labels, sample.target, rng, self.sampler)
        return sample.image, gt, points

    def batch(self, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.random.Generator]:
        """(images B×3×H×W in [0, 1], gt B×1×H×W (1/0/-1), points B×2N×3, the step's generator)."""
        rng = self.rng(step)
        items = [self.item(rng) for _ in range(batch_size)]
        images = torch.from_numpy(np.stack([im for im, _, _ in items])).permute(0, 3, 1, 2).float().div_(255.0)
        gt = torch.from_numpy(np.stack([g for _, g, _ in items]))[:, None]
        points = torch.from_numpy(np.stack([p for _, _, p in items]))
        return images, gt, points, rng
