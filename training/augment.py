"""Training augmentations on (image, labels), as in RITM's itermask recipe, in numpy/OpenCV.

Recipe (RITM's hrnet*_itermask configs): random uniform scale 0.75–1.40, horizontal flip, zero padding up
to the crop size, random crop, brightness/contrast (brightness ±0.25, contrast −0.15…+0.40, p = 0.75)
and an RGB shift of ±10 per channel (p = 0.75). Before that, `fit_short_side` brings every image to a
common scale (shorter side = crop size) so that a small CPU crop still sees most of the object.

`object_crop_prob` adds what the predictor sees after its first click: zoom-in cuts the object's box,
enlarged, out of the image and resizes it to the network's input size. With that probability a training
sample is such a view: a square around one object, 1.2–2.0 times its box, jittered, resized to the crop.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .datasets import Sample


@dataclass
class AugmentSettings:
    crop_size: tuple[int, int] = (256, 256)  # (height, width)
    short_side: int | None = 256  # None: keep the image's own scale
    scale_range: tuple[float, float] = (0.75, 1.40)
    flip_prob: float = 0.5
    brightness_limit: tuple[float, float] = (-0.25, 0.25)
    contrast_limit: tuple[float, float] = (-0.15, 0.40)
    brightness_contrast_prob: float = 0.75
    rgb_shift_limit: int = 10
    rgb_shift_prob: float = 0.75
    object_crop_prob: float = 0.0
    object_crop_expansion: tuple[float, float] = (1.2, 2.0)


def resize(sample: Sample, height: int, width: int) -> Sample:
    if sample.image.shape[:2] == (height, width):
        return sample
    image = cv2.resize(sample.image, (width, height), interpolation=cv2.INTER_LINEAR)
    labels = cv2.resize(sample.labels, (width, height), interpolation=cv2.INTER_NEAREST)
    return Sample(image, labels, sample.target, sample.name)


def scale_by(sample: Sample, factor: float) -> Sample:
    h, w = sample.labels.shape
    return resize(sample, max(1, int(round(h * factor))), max(1, int(round(w * factor))))


def fit_short_side(sample: Sample, short_side: int | None) -> Sample:
    if not short_side:
        return sample
    return scale_by(sample, short_side / min(sample.labels.shape))


def fit_long_side(sample: Sample, long_side: int) -> Sample:
    return scale_by(sample, long_side / max(sample.labels.shape))


def pad_to(sample: Sample, height: int, width: int, label_fill: int = 0) -> Sample:
    h, w = sample.labels.shape
    ph, pw = max(0, height - h), max(0, width - w)
    if ph == 0 and pw == 0:
        return sample
    top, left = ph // 2, pw // 2
    image = cv2.copyMakeBorder(sample.image, top, ph - top, left, pw - left, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    labels = cv2.copyMakeBorder(sample.labels, top, ph - top, left, pw - left, cv2.BORDER_CONSTANT,
                                value=label_fill)
    return Sample(image, labels, sample.target, sample.name)


def random_crop(sample: Sample, height: int, width: int, rng: np.random.Generator) -> Sample:
    sample = pad_to(sample, height, width)
    h, w = sample.labels.shape
    r0 = int(rng.integers(0, h - height + 1))
    c0 = int(rng.integers(0, w - width + 1))
    return Sample(sample.image[r0:r0 + height, c0:c0 + width].copy(),
                  sample.labels[r0:r0 + height, c0:c0 + width].copy(), sample.target, sample.name)


def object_view(sample: Sample, settings: AugmentSettings, rng: np.random.Generator) -> Sample | None:
    """A zoom-in-like view: a square around one object (the target, else a random one), resized to the crop
    size and flipped at random; None when the sample has no object."""
    ids = [sample.target] if sample.target is not None else [int(i) for i in np.unique(sample.labels) if i > 0]
    if not ids:
        return None
    rows, cols = np.nonzero(sample.labels == ids[int(rng.integers(len(ids)))])
    if rows.size == 0:
        return None
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = max(r1 - r0, c1 - c0, 8) * float(rng.uniform(*settings.object_crop_expansion))
    jitter = rng.uniform(-0.15, 0.15, size=2) * side
    top = int(round((r0 + r1) / 2 + jitter[0] - side / 2))
    left = int(round((c0 + c1) / 2 + jitter[1] - side / 2))
    side = int(round(side))
    h, w = sample.labels.shape
    pad = (max(0, -top), max(0, top + side - h), max(0, -left), max(0, left + side - w))
    image = cv2.copyMakeBorder(sample.image, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    labels = cv2.copyMakeBorder(sample.labels, *pad, cv2.BORDER_CONSTANT, value=0)
    top, left = top + pad[0], left + pad[2]
    view = Sample(image[top:top + side, left:left + side].copy(), labels[top:top + side, left:left + side].copy(),
                  sample.target, sample.name)
    view = resize(view, *settings.crop_size)
    if rng.random() < settings.flip_prob:
        view = Sample(view.image[:, ::-1].copy(), view.labels[:, ::-1].copy(), view.target, view.name)
    return view


def brightness_contrast(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    out = image.astype(np.float32) * (1.0 + contrast) + brightness * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def rgb_shift(image: np.ndarray, shifts) -> np.ndarray:
    out = image.astype(np.int16) + np.asarray(shifts, dtype=np.int16).reshape(1, 1, 3)
    return np.clip(out, 0, 255).astype(np.uint8)


def geometric(sample: Sample, settings: AugmentSettings, rng: np.random.Generator) -> Sample:
    """Scale, flip, pad and crop (what changes which pixels belong to which object)."""
    crop_h, crop_w = settings.crop_size
    sample = scale_by(sample, float(rng.uniform(*settings.scale_range)))
    if rng.random() < settings.flip_prob:
        sample = Sample(sample.image[:, ::-1].copy(), sample.labels[:, ::-1].copy(), sample.target, sample.name)
    return random_crop(sample, crop_h, crop_w, rng)


def photometric(image: np.ndarray, settings: AugmentSettings, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < settings.brightness_contrast_prob:
        image = brightness_contrast(image, float(rng.uniform(*settings.brightness_limit)),
                                    float(rng.uniform(*settings.contrast_limit)))
    if rng.random() < settings.rgb_shift_prob:
        lim = settings.rgb_shift_limit
        image = rgb_shift(image, rng.integers(-lim, lim + 1, size=3))
    return image


def drop_small_objects(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Objects (label > 0) smaller than min_area pixels become background."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    small = ids[counts < min_area]
    if small.size:
        labels = labels.copy()
        labels[np.isin(labels, small)] = 0
    return labels


def augment(sample: Sample, settings: AugmentSettings, rng: np.random.Generator,
            min_object_area: int, tries: int = 10, allow_empty: bool = False) -> Sample:
    """A random training crop that keeps at least one object of `min_object_area` pixels (RITM retries
    the augmentation until an object survives); after `tries` failures the last crop is returned.
    `allow_empty`: the sample is meant to have no object (a negative window), take the first crop."""
    out = None
    if settings.object_crop_prob > 0 and not allow_empty and rng.random() < settings.object_crop_prob:
        out = object_view(sample, settings, rng)
        if out is not None:
            out.labels = drop_small_objects(out.labels, min_object_area)
            if not (out.labels > 0).any():
                out = None
    if out is None:
        base = fit_short_side(sample, settings.short_side)
        out = base
        for _ in range(max(1, tries)):
            out = geometric(base, settings, rng)
            out.labels = drop_small_objects(out.labels, min_object_area)
            if allow_empty or (out.labels > 0).any():
                break
    out.image = photometric(out.image, settings, rng)
    return out
