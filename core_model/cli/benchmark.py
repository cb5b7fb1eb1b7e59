"""Per-click latency and peak memory of the predictor: python -m core_model.benchmark [--device cpu|cuda]

Runs a realistic simulated session (RITM's simulated user on a synthetic 16:9 image with one object, or on
--image/--mask) in two modes (three with --unfused):
- optimised: the inference copy of the model (BatchNorm folded, no aux upsampling; see
  core_model.inference_speedups) with the predictor's caches (image tensor, crops, flipped copies and the
  image stem prepared in set_image and reused while the zoom-in region is unchanged);
- reference-equivalent: the plain model as loaded, no caching, auxiliary output computed — what RITM does;
- optimised-unfused (with --unfused): the optimised mode without the fused conv activations (fused_convs).
With --engine onnxruntime the first mode is `onnxruntime` (the predictor on the ONNX Runtime engine, with its
caches), timed beside the torch optimised and reference-equivalent modes when torch is installed (alone
when it is not).
A first, untimed session lets the simulated user choose the clicks (and warms torch up) and records the
largest probability difference between the modes.  The timed sessions replay the clicks with the
modes alternating click by click, so that load on a shared machine hits both alike.  The image load and
set_image are excluded from the per-click times.  Peak memory (RSS on CPU, max allocated on CUDA) is
measured per mode in a fresh process that replays the session once.
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

from ..engines import ONNXRUNTIME, ONNXRUNTIME_INT8, torch_available
from .common import ArgumentParser, CliError, add_brs_argument, add_model_arguments, checkpoint_path, predictor as make_predictor, \
    run, setup_engine, setup_torch

MODES = ("optimised", "reference-equivalent", "optimised-unfused")
DEFAULT_MODES = MODES[:2]
REFERENCE = MODES[1]
INT8 = ONNXRUNTIME_INT8
ONNX_MODES = (ONNXRUNTIME, INT8)
ALL_MODES = MODES + ONNX_MODES


def _modes(args) -> tuple[str, ...]:
    """The modes to time, the fast one first."""
    torch_modes = DEFAULT_MODES[::-1] if torch_available() else ()
    if args.engine == ONNXRUNTIME:
        return (ONNXRUNTIME,) + torch_modes
    if args.engine == INT8:
        return ONNX_MODES[::-1] + torch_modes
    return DEFAULT_MODES + (MODES[2:] if args.unfused else ())


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


def _scene(args):
    if args.image is None:
        return synthetic_scene(args.size)
    from ..datasets import DatasetError, davis_mask
    from .common import read_image
    image = read_image(args.image)
    try:
        gt = davis_mask(args.mask)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if gt.shape != image.shape[:2]:
        raise CliError(f"The mask {args.mask} is {gt.shape[1]}×{gt.shape[0]} pixels but the image is "
                       f"{image.shape[1]}×{image.shape[0]}.")
    return image, gt


def _predictor(mode: str, checkpoint, device, brs_mode: str = "NoBRS", threads: int | None = None,
               calibration: Path | None = None):
    """optimised: load_predictor's inference copy with caches; reference-equivalent: its reference pipeline;
    optimised-unfused: the inference copy without fused activations; onnxruntime: the ONNX Runtime engine
    with its caches; onnxruntime-int8: that with the int8 copy of the network calibrated on images of
    `calibration` (all in refinement mode `brs_mode`)."""
    if mode == INT8 and calibration is None:
        raise CliError("--engine onnxruntime-int8 needs --calibration FOLDER (images and masks to calibrate on).")
    if mode in ONNX_MODES:
        return make_predictor(checkpoint, "cpu", brs_mode=brs_mode, engine=mode, threads=threads,
                              int8_calibration=calibration if mode == INT8 else None)
    return make_predictor(checkpoint, device, reference=mode == "reference-equivalent", brs_mode=brs_mode,
                          fuse=mode != "optimised-unfused", engine="torch")


def _is_cuda(device) -> bool:
    return getattr(device, "type", str(device)) == "cuda"


def _setup(args):
    """The device: torch's threads are set whenever torch is installed (the torch modes run beside ONNX
    Runtime); the engine is checked as the other commands check it."""
    device = setup_engine(args)
    return setup_torch(args.device, args.threads) if torch_available() else device


def _sync(device) -> None:
    if _is_cuda(device):
        import torch
        torch.cuda.synchronize(device)


def _peak_memory_mib(device) -> float | None:
    if _is_cuda(device):
        import torch
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    try:  # Linux: this process image's own high-water mark (ru_maxrss would include the parent's at fork)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2 ** 20


def memory_worker(mode: str, args) -> dict:
    """Replay the clicks once in this (fresh) process and report its peak memory."""
    device = setup_engine(args) if mode in ONNX_MODES else setup_torch(args.device, args.threads)
    image, _ = _scene(args)
    clicks = json.loads(Path(args.clicks_file).read_text())
    if _is_cuda(device):
        import torch
        torch.cuda.reset_peak_memory_stats(device)
    predictor = _predictor(mode, args.checkpoint, device, args.brs, args.threads)
    predictor.set_image(image)
    for row, col, positive in clicks:
        predictor.add_click(row, col, positive)
    return {"mode": mode, "peak_memory_mib": _peak_memory_mib(device)}


def _memory_in_fresh_process(mode: str, argv: list[str], clicks_file: Path) -> float | None:
    cmd = [sys.executable, "-m", "core_model.cli.benchmark", "--worker-mode", mode, "--clicks-file", str(clicks_file),
           *argv]
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
        raise CliError(lines[-1].removeprefix("error: ") if lines else f"the {mode} memory run failed.")
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_memory_mib"]


def measure(args) -> dict:
    from ..clicks import ClickSimulator
    device = _setup(args)
    image, gt = _scene(args)
    modes = _modes(args)
    predictors = {mode: _predictor(mode, args.checkpoint, device, args.brs, args.threads, args.calibration)
                  for mode in modes}
    ref = REFERENCE if REFERENCE in modes else modes[0]
    model = predictors[ref].model

    # Untimed session: the simulated user clicks on the reference-equivalent output; both modes follow.
    for p in predictors.values():
        p.set_image(image)
    simulator = ClickSimulator(gt)
    pred = np.zeros(gt.shape, dtype=bool)
    max_diff = 0.0
    for _ in range(args.clicks):
        click = simulator.next(pred)
        out = {m: p.add_click(click.row, click.col, click.is_positive) for m, p in predictors.items()}
        max_diff = max([max_diff] + [float(np.abs(out[m] - out[ref]).max()) for m in modes if m != ref])
        pred = out[ref] > predictors[ref].settings.threshold
    clicks = simulator.clicks

    times = {m: [] for m in modes}
    set_image_s = {m: [] for m in modes}
    for rep in range(args.repeats):
        order = modes if rep % 2 == 0 else modes[::-1]
        for m in order:
            _sync(device)
            start = time.perf_counter()
            predictors[m].set_image(image)
            _sync(device)
            set_image_s[m].append(time.perf_counter() - start)
        for k, click in enumerate(clicks):
            for m in order:
                start = time.perf_counter()
                predictors[m].add_click(click.row, click.col, click.is_positive)
                _sync(device)
                times[m].append((k, time.perf_counter() - start))
    results = []
    for m in modes:
        later = [t for k, t in times[m] if k > 0]
        results.append({"mode": m, "median_s_per_click": float(np.median([t for _, t in times[m]])),
                      "median_s_first_click": float(np.median([t for k, t in times[m] if k == 0])),
                      "median_s_later_clicks": float(np.median(later)) if later else None,
                      "median_s_set_image": float(np.median(set_image_s[m]))})
    return {"arch": getattr(model, "arch_name", "?"), "image_size": [int(image.shape[1]), int(image.shape[0])],
            "clicks_list": [[c.row, c.col, c.is_positive] for c in clicks], "modes": results,
            "max_abs_prob_diff": max_diff}


def format_report(res: dict) -> str:
    w, h = res["image_size"]
    lines = [f"benchmark: {res['checkpoint']} ({res['arch']}), {res.get('engine', 'torch')} engine, {res['device']}, "
             f"{res['threads']} threads, "
             f"image {w}×{h}, {res['clicks']} simulated clicks × {res['repeats']} repeats (image load excluded), "
             f"{res.get('brs_mode', 'NoBRS')}{', tuned malloc' if res.get('tune_malloc') else ''}",
             f"{'mode':<22}{'median s/click':>15}{'first click s':>15}{'later clicks s':>16}{'set_image s':>13}"
             f"{'peak MiB':>10}"]
    for m in res["modes"]:
        mem = "n/a" if m.get("peak_memory_mib") is None else f"{m['peak_memory_mib']:.0f}"
        later = "n/a" if m["median_s_later_clicks"] is None else f"{m['median_s_later_clicks']:.3f}"
        lines.append(f"{m['mode']:<22}{m['median_s_per_click']:>15.3f}{m['median_s_first_click']:>15.3f}"
                     f"{later:>16}{m['median_s_set_image']:>13.3f}{mem:>10}")
    if res.get("speedup") is not None:
        lines.append(f"{res['modes'][0]['mode']} / reference-equivalent (medians): {res['ratio_per_click']:.2f} per "
                     f"click (speed-up {res['speedup']:.2f}×), {res['ratio_first_click']:.2f} first click (speed-up "
                     f"{1 / res['ratio_first_click']:.2f}×); largest |Δ probability| between the modes over the "
                     f"session: {res['max_abs_prob_diff']:.1e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = ArgumentParser(prog="python -m core_model.benchmark", description=__doc__.split("\n")[0])
    add_model_arguments(parser, threads_default=2, extra_engines=(INT8,))  # threads: torch's and ONNX Runtime's
    parser.add_argument("--calibration", type=Path, default=None,
                        help="dataset folder (img/ + gt/) whose first 16 images calibrate the int8 model "
                             "(--engine onnxruntime-int8)")
    add_brs_argument(parser)
    parser.add_argument("--size", type=int, default=400, help="width of the synthetic 16:9 image (default 400)")
    parser.add_argument("--image", type=Path, default=None, help="use this image instead of the synthetic one")
    parser.add_argument("--mask", type=Path, default=None, help="object mask for --image (non-zero = object)")
    parser.add_argument("--clicks", type=int, default=10, help="simulated clicks per session (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed sessions per mode (default 3)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--tune-malloc", action="store_true",
                        help="call core_model.inference_speedups.tune_glibc_allocator() first (process-wide, as the "
                             "plugin's session process does; both modes profit)")
    parser.add_argument("--unfused", action="store_true",
                        help="also time the inference copy without fused activations (optimised-unfused)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker-mode", choices=ALL_MODES, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--clicks-file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.image is None) != (args.mask is None):
        raise CliError("--image and --mask go together: give both or neither.")
    for name, value, low in (("--size", args.size, 32), ("--clicks", args.clicks, 1), ("--repeats", args.repeats, 1)):
        if value < low:
            raise CliError(f"{name} must be at least {low}, not {value}.")
    if args.tune_malloc:
        from ..inference_speedups import tune_glibc_allocator
        tune_glibc_allocator()
    if args.worker_mode:
        print(json.dumps(memory_worker(args.worker_mode, args)))
        return 0

    ckpt = checkpoint_path(args.checkpoint)
    res = {"checkpoint": str(ckpt), "device": args.device, "threads": args.threads, "clicks": args.clicks,
           "repeats": args.repeats, "brs_mode": args.brs, "tune_malloc": args.tune_malloc, **measure(args)}
    res["engine"] = args.engine  # resolved by measure
    fast, ref = res["modes"][0], next((m for m in res["modes"] if m["mode"] == REFERENCE), None)
    res["speedup"] = res["ratio_per_click"] = res["ratio_first_click"] = None
    if ref is not None:
        res["speedup"] = ref["median_s_per_click"] / fast["median_s_per_click"]
        res["ratio_per_click"] = fast["median_s_per_click"] / ref["median_s_per_click"]
        res["ratio_first_click"] = fast["median_s_first_click"] / ref["median_s_first_click"]
    if not args.no_memory:
        with tempfile.TemporaryDirectory() as tmp:
            clicks_file = Path(tmp) / "clicks.json"
            clicks_file.write_text(json.dumps(res["clicks_list"]))
            for m in res["modes"]:  # (the int8 model is not made again for a memory run: n/a)
                m["peak_memory_mib"] = None if m["mode"] == INT8 else \
                    _memory_in_fresh_process(m["mode"], argv, clicks_file)
    print(json.dumps(res, indent=2) if args.json else format_report(res))
    return 0


def cli() -> None:
    run(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
