"""NoC of the int8 ONNX Runtime model against the float one (and torch's): python scripts/evaluate_onnx_int8.py
--dataset HELD_OUT --calibration FOLDER [--checkpoint CKPT] [--limit N] [--n-clicks 20] [--threads 1]

The int8 model (core_model.onnx_int8: static quantization, calibrated on simulated clicks on images of
--calibration that are not in --dataset) and the float model are evaluated in RITM's NoC protocol on
--dataset with the checkpoint's recommended settings; with --torch the torch engine too.  Needs onnx (to
quantize) and, for --torch, torch.  Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core_model.cli.evaluate import summarise  # noqa: E402
from core_model.datasets import EvalDataset  # noqa: E402
from core_model.default_model import default_checkpoint  # noqa: E402
from core_model.noc import evaluate_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--n-clicks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calibration-images", type=int, default=16)
    parser.add_argument("--torch", action="store_true", help="also evaluate the torch engine")
    parser.add_argument("--method", choices=("minmax", "moving-average"), default="minmax",
                        help="calibration method (default minmax)")
    parser.add_argument("--no-float", action="store_true", help="evaluate the int8 model only")
    parser.add_argument("--everything", action="store_true",
                        help="quantize every operator (default: convolutions, the first ones and the heads kept float)")
    args = parser.parse_args()
    from core_model.load_predictor import load_predictor
    from core_model.onnx_int8 import int8_network
    from core_model.predictor import InteractivePredictor, recommended_settings
    ckpt = args.checkpoint or default_checkpoint()
    dataset = EvalDataset(args.dataset)
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    names = [dataset[i].name for i in range(n)]
    start = time.perf_counter()
    int8 = int8_network(ckpt, args.calibration, args.threads, exclude=names, n_images=args.calibration_images,
                        everything=args.everything, method=args.method)
    predictors = {"onnxruntime-int8": InteractivePredictor(int8, settings=recommended_settings(int8))}
    if not args.no_float:
        predictors["onnxruntime"] = load_predictor(ckpt, engine="onnxruntime", threads=args.threads)
    quantize_s = time.perf_counter() - start
    if args.torch:
        import torch
        torch.set_num_threads(args.threads)
        predictors["torch"] = load_predictor(ckpt, engine="torch")
    out = {"checkpoint": str(ckpt), "dataset": str(args.dataset), "images": n, "quantize_s": quantize_s}
    for engine, pred in predictors.items():
        ious, seconds = [], 0.0
        for i in range(n):
            sample = dataset[i]
            sample_ious, _, spent = evaluate_sample(pred, sample.image, sample.gt, args.n_clicks)
            ious.append(sample_ious)
            seconds += spent
        out[engine] = summarise(ious, seconds, args.n_clicks)
        print(engine, out[engine]["noc85"], out[engine]["noc90"], file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
