"""Per-click pictures of a session (RITM's --vis-preds): the image with the predicted mask tinted, the
ground truth's outline, the clicks so far (green positive, red negative) and the IoU, one JPEG per click."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

MASK_TINT = np.array([0, 120, 255], dtype=np.float32)      # RGB
GT_OUTLINE = (255, 220, 0)
POSITIVE, NEGATIVE = (40, 220, 40), (230, 40, 40)


def safe_name(text: str) -> str:
    """A file-name-safe version of a sample or run name."""
    return re.sub(r"[^A-Za-z0-9._#-]+", "_", text).strip("_") or "sample"


def draw_click_picture(image: np.ndarray, gt: np.ndarray, clicks, mask: np.ndarray, iou: float) -> np.ndarray:
    """H×W×3 uint8 RGB: the picture of the session after its last click."""
    import cv2
    out = image.astype(np.float32)
    m = np.asarray(mask, dtype=bool)
    out[m] = 0.55 * out[m] + 0.45 * MASK_TINT
    out = out.clip(0, 255).astype(np.uint8)
    contours, _ = cv2.findContours((np.asarray(gt) == 1).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, GT_OUTLINE, 1)
    radius = max(3, round(min(image.shape[:2]) / 80))
    for c in clicks:
        colour = POSITIVE if c.is_positive else NEGATIVE
        cv2.circle(out, (int(c.col), int(c.row)), radius, colour, -1)
        cv2.circle(out, (int(c.col), int(c.row)), radius, (255, 255, 255), 1)
    text = f"click {len(clicks)}  IoU {iou:.3f}"
    cv2.putText(out, text, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def picture_writer(folder: Path, sample_name: str):
    """An on-click callback writing `<folder>/<sample>_click<k>.jpg`; the written paths collect in its `.paths`."""
    import cv2
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(sample_name.rsplit(".", 1)[0] if "#" not in sample_name else sample_name)
    paths: list[Path] = []

    def on_click(image, gt, clicks, mask, iou):
        picture = draw_click_picture(image, gt, clicks, mask, iou)
        path = folder / f"{stem}_click{len(clicks):02d}.jpg"
        ok, buf = cv2.imencode(".jpg", picture[:, :, ::-1])
        if ok:
            buf.tofile(str(path))
            paths.append(path)

    on_click.paths = paths
    return on_click
