"""First click on a huge orthoimage vs a small one: python scripts/bench_big_raster.py [--size 20000] [--fake]

Makes, in a temporary folder that is deleted at the end, three tiled JPEG (YCbCr) RGB GeoTIFFs of the same
textured scene: 2 000 × 2 000 px, ``--size`` × ``--size`` px without overviews and the same with overviews
(AVERAGE, levels 2..64). For each it times the first click exactly as the digitiser's session server
answers it (SetRaster: the raster is opened; AddClick: the window around the click is read and the model
predicts), in rounds alternating the rasters (different click positions each round, so that no GDAL block
cache helps), after one untimed click that loads the model. The median per raster is reported. It also
times a box of a quarter of the big raster's side (a window that must be downsampled to Window max side),
which reads from the overviews when they exist.

Without ``--fake`` the shipped default model predicts (what a user waits for); ``--fake`` times only the
raster side with a predictor that does nothing. The last stdout line is JSON: first_click_small_s,
first_click_big_s, ratio (the worse big raster over the small one), peak_rss_mib (this process's peak),
and the per-raster figures.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "test"))

from avalanche_iseg_plugin.engine.protocol import AddClick, Box, Discard, PredictorKey, SetRaster  # noqa: E402
from avalanche_iseg_plugin.engine.session_server import SessionServer  # noqa: E402

gdal.UseExceptions()
TILED = ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=JPEG", "PHOTOMETRIC=YCBCR",
         "JPEG_QUALITY=85", "BIGTIFF=IF_SAFER"]
PIXEL = 0.25   # m, as a drone/aerial mosaic


def _scene(path: Path, side: int) -> None:
    """A smooth random texture (compresses well), 3 bands, EPSG:2056."""
    rng = np.random.default_rng(0)
    import cv2
    coarse = rng.normal(0, 1, (side // 16 + 2, side // 16 + 2, 3)).astype(np.float32)
    image = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)
    image = np.clip(120 + 40 * image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), side, side, 3, gdal.GDT_Byte, TILED)
    ds.SetGeoTransform((2_600_000.0, PIXEL, 0.0, 1_200_000.0, 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(image[..., b])
    ds = None


def make_rasters(folder: Path, big: int) -> dict[str, Path]:
    small = folder / "small.tif"
    _scene(small, 2000)
    no_ovr = folder / "big_no_overviews.tif"
    # the big scene is the small one upsampled (bilinear), written tile by tile by GDAL
    gdal.Translate(str(no_ovr), str(small), width=big, height=big, resampleAlg="bilinear",
                   creationOptions=TILED)
    ds = gdal.Open(str(no_ovr), gdal.GA_Update)
    ds.SetGeoTransform((2_600_000.0, PIXEL, 0.0, 1_200_000.0, 0.0, -PIXEL))
    ds = None
    with_ovr = folder / "big_overviews.tif"
    gdal.Translate(str(with_ovr), str(no_ovr), creationOptions=TILED)
    ds = gdal.Open(str(with_ovr), gdal.GA_Update)
    gdal.SetConfigOption("COMPRESS_OVERVIEW", "JPEG")
    gdal.SetConfigOption("PHOTOMETRIC_OVERVIEW", "YCBCR")
    ds.BuildOverviews("AVERAGE", [2, 4, 8, 16, 32, 64])
    ds = None
    return {"small": small, "big_no_overviews": no_ovr, "big_overviews": with_ovr}


class _Timed:
    """The predictor, with the time spent in it counted (the rest of a click is the raster side)."""

    def __init__(self, inner):
        self._inner = inner
        self.seconds = 0.0

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if name in ("set_image", "add_click"):
            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return value(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started
            return timed
        return value


class _NoopPredictor:
    """Sets the image and answers an empty mask: only the raster side is timed."""

    def __init__(self):
        self.image_shape = None
        self.probabilities = None
        self.settings = None

    def set_image(self, image):
        self.image_shape = image.shape[:2]
        self.probabilities = np.zeros(self.image_shape, np.float32)

    def add_click(self, row, col, is_positive):
        return self.probabilities

    @property
    def mask(self):
        return self.probabilities > 0.5

    def reset(self):
        pass

    def undo(self):
        pass


def _check(reply):
    if type(reply).__name__ == "ErrorReply":
        raise SystemExit(f"bench_big_raster: the session server failed: {reply.message}\n{reply.traceback}")
    return reply


def first_click(server, key, path: Path, row: int, col: int, side: int) -> tuple[float, float]:
    """(seconds of SetRaster + AddClick, of which outside the predictor)."""
    gt = (2_600_000.0, PIXEL, 0.0, 1_200_000.0, 0.0, -PIXEL)
    x, y = gt[0] + (col + 0.5) * PIXEL, gt[3] - (row + 0.5) * PIXEL
    timed = TIMED[-1] if TIMED else None
    in_predictor = timed.seconds if timed else 0.0
    started = time.perf_counter()
    _check(server.handle(SetRaster(str(path), 1600, key, 0.49)))
    _check(server.handle(AddClick(x, y, True)))
    elapsed = time.perf_counter() - started
    in_predictor = (timed.seconds - in_predictor) if timed else 0.0
    _check(server.handle(Discard()))
    return elapsed, elapsed - in_predictor


def box_read(server, key, path: Path, side: int) -> float:
    gt0, gt3 = 2_600_000.0, 1_200_000.0
    quarter = side // 4
    x0, y0 = gt0 + quarter * PIXEL, gt3 - quarter * PIXEL
    x1, y1 = gt0 + 2 * quarter * PIXEL, gt3 - 2 * quarter * PIXEL
    _check(server.handle(SetRaster(str(path), 1600, key, 0.49)))
    started = time.perf_counter()
    _check(server.handle(Box(x0, y0, x1, y1)))
    elapsed = time.perf_counter() - started
    _check(server.handle(Discard()))
    return elapsed


TIMED: list = []


def _factory(fake: bool):
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor

    def make(*args):
        TIMED.append(_Timed(_NoopPredictor() if fake else make_predictor(*args)))
        return TIMED[-1]
    return make


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="side of the big rasters in pixels")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fake", action="store_true", help="a predictor that does nothing (raster side only)")
    parser.add_argument("--make", metavar="FOLDER", help=argparse.SUPPRESS)   # the child that writes the rasters
    args = parser.parse_args(argv)
    if args.make:
        make_rasters(Path(args.make), args.size)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_big_raster_") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        # written by a child process, so that GDAL's write cache does not count in this process's peak memory
        subprocess.run([sys.executable, __file__, "--make", str(folder), "--size", str(args.size)], check=True)
        rasters = {name: folder / f"{name}.tif" for name in ("small", "big_no_overviews", "big_overviews")}
        made_s = time.perf_counter() - started
        disk_mib = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"rasters made in {made_s:.0f} s, {disk_mib:.0f} MiB on disk", flush=True)
        server = SessionServer(predictor_factory=_factory(args.fake))
        from avalanche_iseg_plugin.engine.plugin_settings import default_checkpoint_path
        key = PredictorKey(default_checkpoint_path(), "cpu")
        first_click(server, key, rasters["small"], 100, 100, 2000)   # loads the model (untimed)
        times = {name: [] for name in rasters}
        raster_side = {name: [] for name in rasters}
        for r in range(args.rounds):
            for name, path in rasters.items():
                side = 2000 if name == "small" else args.size
                frac = (r + 1) / (args.rounds + 1)
                total, outside = first_click(server, key, path, int(frac * side), int((1 - frac) * side), side)
                times[name].append(total)
                raster_side[name].append(outside)
                print(f"round {r + 1} {name}: {total:.3f} s (raster side {outside:.3f} s)", flush=True)
        boxes = {name: round(box_read(server, key, rasters[name], args.size), 3)
                 for name in ("big_overviews", "big_no_overviews")}
        print(f"box of {args.size // 4} px (downsampled to 1600): {boxes}", flush=True)
    medians = {name: statistics.median(v) for name, v in times.items()}
    worst_big = max(medians["big_no_overviews"], medians["big_overviews"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"first_click_small_s": round(medians["small"], 3), "first_click_big_s": round(worst_big, 3),
              "ratio": round(worst_big / medians["small"], 3), "peak_rss_mib": round(peak, 1),
              "first_click_big_no_overviews_s": round(medians["big_no_overviews"], 3),
              "first_click_big_overviews_s": round(medians["big_overviews"], 3),
              "box_quarter_side_s": boxes,
              "raster_side_s": {name: round(statistics.median(v), 4) for name, v in raster_side.items()}, "predictor": "noop" if args.fake else "default model (cpu)",
              "size": args.size, "rasters_made_s": round(made_s, 1), "disk_mib": round(disk_mib, 1)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
