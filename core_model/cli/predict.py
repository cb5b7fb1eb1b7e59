"""Predict one object from clicks: python -m core_model.predict --image IMG --clicks CLICKS.json --out PROBS.npy

CLICKS.json is a list of [row, col, is_positive] in image pixels (row 0 = top), e.g. [[120, 340, true],
[200, 310, false]]; the clicks are applied in order in RITM's standard setting and the probability map after
the last one is written as an H×W float32 .npy (optionally also a 0/255 PNG mask).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from .common import (ArgumentParser, CliError, add_brs_argument, add_model_arguments, predictor as make_predictor, read_image, run,
                     setup_engine)


def parse_clicks(path: Path) -> list[tuple[int, int, bool]]:
    if not path.is_file():
        raise CliError(f"Clicks file {path} does not exist.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"Clicks file {path} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}).") \
            from None
    example = 'e.g. [[120, 340, true], [200, 310, false]]'
    if not isinstance(data, list) or not data:
        raise CliError(f"Clicks file {path} must hold a non-empty list of [row, col, is_positive], {example}.")
    clicks = []
    for i, item in enumerate(data, 1):
        ok = isinstance(item, (list, tuple)) and len(item) == 3
        if ok:
            row, col, pos = item
            ok = (all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
                      for v in (row, col)) and (isinstance(pos, bool) or pos in (0, 1)))
        if not ok:
            raise CliError(f"Click {i} in {path} is {json.dumps(item)}; each click must be [row, col, is_positive] "
                           f"with integer pixel coordinates, {example}.")
        clicks.append((int(row), int(col), bool(pos)))
    return clicks


def write_mask_png(path: Path, mask: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise CliError(f"Could not encode the mask for {path}.")
    buf.tofile(str(path))


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m core_model.predict", description=__doc__.split("\n")[0])
    add_model_arguments(parser)
    add_brs_argument(parser)
    parser.add_argument("--image", type=Path, required=True, help="RGB image (any format OpenCV reads)")
    parser.add_argument("--clicks", type=Path, required=True, help="JSON list of [row, col, is_positive]")
    parser.add_argument("--out", type=Path, required=True, help="output probability map (.npy, H×W float32)")
    parser.add_argument("--mask-out", type=Path, default=None, help="optional output mask PNG (0 / 255)")
    args = parser.parse_args(argv)

    clicks = parse_clicks(args.clicks)
    image = read_image(args.image)
    h, w = image.shape[:2]
    for i, (row, col, _) in enumerate(clicks, 1):
        if not (0 <= row < h and 0 <= col < w):
            raise CliError(f"Click {i} at row {row}, column {col} is outside the {w}×{h} image "
                           f"(rows 0–{h - 1}, columns 0–{w - 1}).")
    for out in (args.out, args.mask_out):
        if out is not None and not out.parent.resolve().is_dir():
            raise CliError(f"Output folder {out.parent} does not exist.")
    device = setup_engine(args)
    predictor = make_predictor(args.checkpoint, device, brs_mode=args.brs, engine=args.engine, threads=args.threads)
    predictor.set_image(image)
    for row, col, pos in clicks:
        predictor.add_click(row, col, pos)
    probs = predictor.probabilities
    with open(args.out, "wb") as f:
        np.save(f, probs.astype(np.float32))
    mask = predictor.mask
    if args.mask_out is not None:
        write_mask_png(args.mask_out, mask)
    print(f"{len(clicks)} clicks on {args.image.name} ({w}×{h}): {int(mask.sum())} object pixels; "
          f"probabilities written to {args.out}" + (f", mask to {args.mask_out}" if args.mask_out else ""))
    return 0


def cli() -> None:
    run(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
