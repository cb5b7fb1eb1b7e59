"""Per-click latency and peak memory of the predictor: python -m core_model.benchmark [--device cpu|cuda]

Runs a realistic simulated session (RITM's simulated user on a synthetic 16:9 image with one object, or on
--image/--mask) in two modes, each in a fresh process so peak memory is its own:
- optimised: the inference copy of the model (BatchNorm folded, no aux upsampling; see
  core_model.inference_speedups) with the predictor's
  caches (image tensor, crops, flipped copies and image stem reused while the zoom-in region is unchanged);
- reference-equivalent: the plain model as loaded, no caching, auxiliary output computed — what RITM does.
A first, untimed session lets the simulated user choose the clicks (and warms torch up); the timed sessions
replay them.  The image load and set_image are excluded from the per-click times.  Reports the median seconds per click,
the speed-up, peak memory (RSS on CPU, max allocated on CUDA) and the largest probability difference.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .cli_util import ArgumentParser, CliError, add_model_arguments, checkpoint_path, run

MODES = ("optimised", "reference-equivalent")


def synthetic_scene(width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured 16:9 RGB image with one irregular bright object (an avalanche-like tongue) and its mask."""
    import cv2
    height = max(32, int(round(width * 9 / 16)))
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (height // 8 + 2, width // 8 + 2, 3)).astype(np.float32)
    base = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    image = 110 + 25 * base + rng.normal(0, 6, (height, width, 3))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = 0.45 * height, 0.5 * width
    r = np.hypot((yy - cy) / (0.28 * height), (xx - cx) / (0.18 * width))
    wobble = 0.15 * np.sin(6 * np.arctan2(yy - cy, xx - cx))
    obj = r < 1.0 + wobble
    image[obj] += 70
    return np.clip(image, 0, 255).astype(np.uint8), obj.astype(np.int8)


def _peak_memory_mib(device) -> float | None:
    import torch
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    try:
        import resource
    except ImportError:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2 ** 20


def worker(mode: str, args) -> dict:
    """One mode in this process; returns timings, memory, the clicks and the final probabilities file."""
    import torch
    from .checkpoint import load_model
    from .clicks import ClickSimulator
    from .cli_util import read_image, setup_torch
    from .predictor import InteractivePredictor

    device = setup_torch(args.device, args.threads)
    if args.image is not None:
        from .datasets import davis_mask
        image = read_image(args.image)
        gt = davis_mask(args.mask)
    else:
        image, gt = synthetic_scene(args.size)
    model = load_model(checkpoint_path(args.checkpoint), device=device)
    if mode == "optimised":
        from .cli_util import optimize
        model = optimize(model)
    predictor = InteractivePredictor(model, device=device, cache=(mode == "optimised"))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # Untimed first session: the simulated user picks the clicks (and torch warms up its kernels).
    predictor.set_image(image)
    simulator = ClickSimulator(gt)
    pred = np.zeros(gt.shape, dtype=bool)
    for _ in range(args.clicks):
        click = simulator.next(pred)
        predictor.add_click(click.row, click.col, click.is_positive)
        pred = predictor.mask
    clicks = simulator.clicks

    times, set_image_s = [], []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        predictor.set_image(image)
        sync()
        set_image_s.append(time.perf_counter() - start)
        for k, click in enumerate(clicks):
            start = time.perf_counter()
            predictor.add_click(click.row, click.col, click.is_positive)
            sync()
            times.append((k, time.perf_counter() - start))
    out = Path(args.probs_out)
    np.save(out, predictor.probabilities)
    all_t = [t for _, t in times]
    later = [t for k, t in times if k > 0]
    return {"mode": mode, "median_s_per_click": float(np.median(all_t)),
            "median_s_first_click": float(np.median([t for k, t in times if k == 0])),
            "median_s_later_clicks": float(np.median(later)) if later else None,
            "median_s_set_image": float(np.median(set_image_s)),
            "peak_memory_mib": _peak_memory_mib(device),
            "clicks": [[c.row, c.col, c.is_positive] for c in clicks],
            "image_size": [int(image.shape[1]), int(image.shape[0])],
            "arch": getattr(model, "arch_name", "?")}


def _run_worker(mode: str, argv: list[str], probs: Path) -> dict:
    cmd = [sys.executable, "-m", "core_model.benchmark", "--worker-mode", mode, "--probs-out", str(probs), *argv]
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
        raise CliError(lines[-1].removeprefix("error: ") if lines else f"the {mode} run failed.")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_report(res: dict) -> str:
    w, h = res["image_size"]
    lines = [f"benchmark: {res['checkpoint']} ({res['arch']}), {res['device']}, {res['threads']} threads, "
             f"image {w}×{h}, {res['clicks']} simulated clicks × {res['repeats']} repeats (image load excluded)",
             f"{'mode':<22}{'median s/click':>15}{'first click s':>15}{'later clicks s':>16}{'set_image s':>13}"
             f"{'peak MiB':>10}"]
    for m in res["modes"]:
        mem = "n/a" if m["peak_memory_mib"] is None else f"{m['peak_memory_mib']:.0f}"
        later = "n/a" if m["median_s_later_clicks"] is None else f"{m['median_s_later_clicks']:.3f}"
        lines.append(f"{m['mode']:<22}{m['median_s_per_click']:>15.3f}{m['median_s_first_click']:>15.3f}"
                     f"{later:>16}{m['median_s_set_image']:>13.3f}{mem:>10}")
    lines.append(f"speed-up (median per click): {res['speedup']:.2f}×; same simulated clicks: "
                 f"{'yes' if res['same_clicks'] else 'NO'}; max |Δ probability| after the last click: "
                 f"{res['max_abs_prob_diff']:.1e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = ArgumentParser(prog="python -m core_model.benchmark", description=__doc__.split("\n")[0])
    add_model_arguments(parser, threads_default=2)
    parser.add_argument("--size", type=int, default=400, help="width of the synthetic 16:9 image (default 400)")
    parser.add_argument("--image", type=Path, default=None, help="use this image instead of the synthetic one")
    parser.add_argument("--mask", type=Path, default=None, help="object mask for --image (non-zero = object)")
    parser.add_argument("--clicks", type=int, default=10, help="simulated clicks per session (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="sessions per mode (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker-mode", choices=MODES, default=None, help=argparse_hidden())
    parser.add_argument("--probs-out", default=None, help=argparse_hidden())
    args = parser.parse_args(argv)
    if (args.image is None) != (args.mask is None):
        raise CliError("--image and --mask go together: give both or neither.")
    for name, value, low in (("--size", args.size, 32), ("--clicks", args.clicks, 1), ("--repeats", args.repeats, 1)):
        if value < low:
            raise CliError(f"{name} must be at least {low}, not {value}.")
    if args.worker_mode:
        print(json.dumps(worker(args.worker_mode, args)))
        return 0

    ckpt = checkpoint_path(args.checkpoint)       # fail early, with the clear message, if it is missing
    from .checkpoint import load_model
    load_model(ckpt)                               # … or foreign
    if args.image is not None:
        from .cli_util import read_image
        from .datasets import davis_mask
        read_image(args.image), davis_mask(args.mask)
    with tempfile.TemporaryDirectory() as tmp:
        results, probs = [], []
        for mode in MODES:
            path = Path(tmp) / f"{mode}.npy"
            results.append(_run_worker(mode, argv, path))
            probs.append(np.load(path))
    fast, ref = results
    res = {"checkpoint": str(ckpt), "arch": fast["arch"], "device": args.device, "threads": args.threads,
           "image_size": fast["image_size"], "clicks": args.clicks, "repeats": args.repeats, "modes": results,
           "speedup": ref["median_s_per_click"] / fast["median_s_per_click"],
           "same_clicks": fast["clicks"] == ref["clicks"],
           "max_abs_prob_diff": float(np.abs(probs[0] - probs[1]).max())}
    print(json.dumps(res, indent=2) if args.json else format_report(res))
    return 0


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
