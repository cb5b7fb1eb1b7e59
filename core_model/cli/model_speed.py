"""Forward-pass speed of the model: unoptimised vs optimize_for_inference (vs cached image features).

    python -m core_model.model_speed --checkpoint PATH [--size 400] [--batch 2] [--threads 2] [--repeats 6]
                                     [--clock wall|cpu] [--tune-malloc]

Runs are interleaved (machines are noisy; compare the ratios of one run).  Prints ms per forward (min and
median), the speed-up, and the largest output difference between the variants.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from ..checkpoint import CheckpointError, load_model
from ..inference_speedups import optimize_for_inference, tune_glibc_allocator


def _inputs(size: int, batch: int):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 4, size, size, generator=g)
    image[:, 3] = (image[:, 3] > 0.5).float()
    points = torch.tensor([[size * 0.4, size * 0.5, 0], [size * 0.6, size * 0.55, 2],
                           [size * 0.1, size * 0.1, 1], [-1, -1, -1]]).repeat(batch, 1, 1)
    return image, points


def measure(model, size: int = 400, batch: int = 2, repeats: int = 6, clock=time.perf_counter) -> dict:
    image, points = _inputs(size, batch)
    fast = optimize_for_inference(model)
    feats = fast.image_features(image[:, :3])
    variants = {
        "unoptimised": lambda: model(image, points),
        "optimised": lambda: fast(image, points, with_aux=False),
        "optimised+cached_image": lambda: fast.forward_from_features(feats, image[:, 3:], points, with_aux=False),
    }
    times = {k: [] for k in variants}
    outputs = {}
    with torch.no_grad():
        for name, fn in variants.items():
            outputs[name] = fn()["instances"]
        for _ in range(repeats):
            for name, fn in variants.items():
                start = clock()
                fn()
                times[name].append(clock() - start)
    ref = outputs["unoptimised"]
    return {name: {"min_ms": 1000 * min(t), "median_ms": 1000 * statistics.median(t),
                   "max_abs_diff": float((outputs[name] - ref).abs().max())} for name, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default) or process CPU time (steadier on a busy machine; with more "
                             "than one thread it also counts the threads' idle spinning)")
    parser.add_argument("--tune-malloc", action="store_true", help="call tune_glibc_allocator() first")
    args = parser.parse_args(argv)
    if args.size < 32 or args.batch < 1 or args.threads < 1 or args.repeats < 1:
        print("error: --size must be at least 32 and --batch, --threads, --repeats at least 1.", file=sys.stderr)
        return 2
    if args.tune_malloc:
        tune_glibc_allocator()
    torch.set_num_threads(args.threads)
    try:
        model = load_model(args.checkpoint)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    result = measure(model, args.size, args.batch, args.repeats, clock)
    base = result["unoptimised"]["min_ms"]
    print(f"{model.arch_name}: batch {args.batch}×4×{args.size}×{args.size}, {args.threads} threads, "
          f"{args.repeats} interleaved runs, {args.clock} clock{', tuned malloc' if args.tune_malloc else ''}")
    for name, r in result.items():
        print(f"  {name:24s} min {r['min_ms']:7.1f} ms  median {r['median_ms']:7.1f} ms  "
              f"speed-up {base / r['min_ms']:.2f}×  max |Δ| {r['max_abs_diff']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
