"""How close one click's network call is to what this CPU can do, and what the faster paths cost (issue 18).

    .venv/bin/python scripts/network_efficiency.py [--checkpoint PATH] [--size 400] [--threads 1] [--repeats 7]

Prints a Markdown table (docs/profile.md, "Why the network cannot get much cheaper here"):
- the floating-point work of one network call in RITM's setting (a batch of 2: the zoomed crop, size×size,
  and its mirror image), counted by torch's FlopCounterMode on the model as loaded;
- the wall time of that call for the model as loaded (what core_model.benchmark's reference-equivalent
  pipeline runs) and for the fused inference copy (what the plugin runs), as GFLOP/s;
- the fp32 peak this machine reaches in a convolution: the network's largest one (the OCR head's 3×3,
  15·width → 2·ocr_width channels at a quarter of the size) alone, and a large matrix product;
- the ways to do fewer or cheaper operations that were measured on that convolution: Winograd F(4×4, 3×3)
  written with torch ops (fewer multiplications, more memory traffic), bfloat16 (AMX on CPUs that have
  it: much faster, but every product is rounded to 8 bits), and ONNX Runtime for the whole network when
  the onnx and onnxruntime packages are installed (they are not requirements).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"

# Winograd F(4×4, 3×3) (Lavin & Gray 2016, points 0, ±1, ±2, ∞): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.
_BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
       [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
_G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
_AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]


def winograd_weights(w: torch.Tensor) -> torch.Tensor:
    g = torch.tensor(_G, dtype=torch.float64)
    u = torch.einsum("ij,kcjl,ml->imck", g, w.double(), g)
    return u.reshape(36, w.shape[1], w.shape[0]).float().contiguous()


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A stride-1, padding-1 3×3 convolution of N×C×H×W `x` with pre-transformed weights `u` (36×C×K)."""
    n, c, h, w = x.shape
    th, tw = -(-h // 4), -(-w // 4)
    padded = x.new_zeros(n, th * 4 + 2, tw * 4 + 2, c)
    padded[:, 1:h + 1, 1:w + 1] = x.permute(0, 2, 3, 1)
    tiles = padded.unfold(1, 6, 4).unfold(2, 6, 4)                      # n, th, tw, c, 6, 6
    bt = torch.tensor(_BT, dtype=x.dtype)
    v = torch.einsum("ij,ntwcjk,lk->ilntwc", bt, tiles, bt).reshape(36, n * th * tw, c)
    m = torch.bmm(v, u).reshape(6, 6, n, th, tw, -1)
    at = torch.tensor(_AT, dtype=x.dtype)
    y = torch.einsum("ij,jkntwo,lk->ntiwlo", at, m, at).reshape(n, th * 4, tw * 4, -1)[:, :h, :w]
    return (y + bias).permute(0, 3, 1, 2)


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1000


def network_inputs(size: int):
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((1, 4, size, size), dtype=np.float32))
    image[:, 3] = (image[:, 3] > 0.5).float()
    image = torch.cat([image, torch.flip(image, dims=[3])])
    points = torch.tensor([[[size / 2, size / 3, 0], [-1, -1, -1]],
                           [[size / 2, size - 1 - size / 3, 0], [-1, -1, -1]]], dtype=torch.float32)
    return image, points


def count_gflop(model, image, points) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(image, points, with_aux=False)
    return counter.get_total_flops() / 1e9


def onnx_runtime_ms(model, image, points, threads: int, repeats: int) -> float | None:
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import onnxruntime as ort
    except ImportError:
        return None

    class AfterClickMaps(torch.nn.Module):
        """The network from the normalised image and the click maps on (RITM's click-map ops do not export)."""
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, rgb, coord):
            fe = self.m.feature_extractor
            return fe.forward_from_stem(fe.image_stem(rgb), self.m.maps_transform(coord))[0]

    with torch.no_grad():
        rgb = model.normalize(image[:, :3])
        coord = model.coord_features(rgb, image[:, 3:], points)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "net.onnx")
        torch.onnx.export(AfterClickMaps(model).eval(), (rgb, coord), path, opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: rgb.numpy(), session.get_inputs()[1].name: coord.numpy()}
    return median_ms(lambda: session.run(None, feed), repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=SHARED / "ritm_reference" / "hrnet18s_itermask_ref.pth")
    parser.add_argument("--size", type=int, default=400, help="crop size (RITM's zoom-in target, default 400)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from core_model.checkpoint import load_model
    from core_model.inference_speedups import optimize_for_inference
    model = load_model(args.checkpoint).eval()
    fast = optimize_for_inference(load_model(args.checkpoint))
    image, points = network_inputs(args.size)
    gflop = count_gflop(model, image, points)
    rows = []
    with torch.inference_mode():
        ref = model(image, points, with_aux=False)["instances"]
        out = fast(image, points, with_aux=False)["instances"]
        t_loaded = median_ms(lambda: model(image, points, with_aux=False), args.repeats)
        t_fast = median_ms(lambda: fast(image, points, with_aux=False), args.repeats)
        rows.append(("network, model as loaded (reference-equivalent)", t_loaded, gflop / t_loaded * 1e3, "—"))
        rows.append(("network, fused inference copy (plugin)", t_fast, gflop / t_fast * 1e3,
                     f"{(out - ref).abs().max().item():.1e} (logits)"))

        fe = model.feature_extractor
        cin, cout, q = 15 * fe.width, 2 * fe.ocr_width, args.size // 4
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, cin, q, q, generator=gen).contiguous(memory_format=torch.channels_last)
        w = torch.randn(cout, cin, 3, 3, generator=gen) * (2 / (9 * cin)) ** 0.5
        b = torch.zeros(cout)
        conv_gflop = 2 * 2 * q * q * cin * cout * 9 / 1e9
        exact = F.conv2d(x.double(), w.double(), b.double(), padding=1)
        scale = exact.abs().max().item()

        def rel_err(y):
            return f"{(y.double() - exact).abs().max().item() / scale:.1e} (relative)"
        t = median_ms(lambda: F.conv2d(x, w, b, padding=1), args.repeats)
        rows.append((f"OCR conv {cin}→{cout} 3×3 at {q}², fp32 oneDNN", t, conv_gflop / t * 1e3,
                     rel_err(F.conv2d(x, w, b, padding=1))))
        a = torch.randn(2048, 2048, generator=gen)
        t = median_ms(lambda: a @ a, args.repeats)
        rows.append(("matrix product 2048³, fp32", t, 2 * 2048 ** 3 / 1e9 / t * 1e3, "—"))
        u = winograd_weights(w)
        t = median_ms(lambda: winograd_conv3x3(x, u, b), args.repeats)
        rows.append(("OCR conv, Winograd F(4×4,3×3) in torch ops (4× fewer products)", t, conv_gflop / t * 1e3,
                     rel_err(winograd_conv3x3(x, u, b))))
        xb, wb = x.bfloat16(), w.bfloat16()
        t = median_ms(lambda: F.conv2d(xb, wb, padding=1), args.repeats)
        rows.append(("OCR conv, bfloat16 (AMX where the CPU has it)", t, conv_gflop / t * 1e3,
                     rel_err(F.conv2d(xb, wb, padding=1).float())))
    t_ort = onnx_runtime_ms(model, image, points, args.threads, args.repeats)
    if t_ort is not None:
        rows.append(("network after the click maps, ONNX Runtime (CPU, all graph optimisations)", t_ort, gflop / t_ort * 1e3, "—"))

    print(f"# {args.checkpoint.name}, batch 2 × {args.size}², {args.threads} thread(s), median of {args.repeats}; "
          f"one network call = {gflop:.1f} GFLOP")
    print("| what | ms | GFLOP/s | error |\n|---|---:|---:|---|")
    for name, ms, rate, err in rows:
        print(f"| {name} | {ms:.1f} | {rate:.0f} | {err} |")
    if t_ort is None:
        print("\nONNX Runtime: not installed (pip install onnx onnxruntime to include it).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
