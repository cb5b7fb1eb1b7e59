"""Per-click latency of the digitiser's engine, click by click (issue 13: "the second click is slow").

Runs the plugin's SessionServer (what the worker runs) with the bundled model on CPU, on real terrain: a
hillshade of ../shared/gis/avaframe_alr/avaAlr.tif (Tirol, 5 m), and clicks like a user inside the
documented 1999 release area (relAlr.shp) — several avalanches of several clicks each. For every click it
prints the wall time and what the click did (new window, window grown and clicks replayed, zoom-in crop
first used or reused), then the median per click index.

    .venv/bin/python scripts/measure_click_latency.py [--objects 3] [--clicks 5] [--threads N] [--preload] [--omp-default]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if "--omp-default" in sys.argv:
    os.environ.pop("OMP_WAIT_POLICY", None)              # OpenMP's own policy (threads spin before they sleep)
else:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the plugin's worker process, before torch loads
sys.path.insert(0, str(REPO))
GIS = REPO.parent / "shared" / "gis" / "avaframe_alr"


def hillshade(folder: str) -> str:
    from osgeo import gdal

    out = os.path.join(folder, "alr_hillshade.tif")
    gdal.DEMProcessing(out, str(GIS / "avaAlr.tif"), "hillshade", options=gdal.DEMProcessingOptions(zFactor=1.5))
    rgb = os.path.join(folder, "alr_rgb.tif")
    gdal.Translate(rgb, out, bandList=[1, 1, 1])
    return rgb


def release_points(n: int):
    """Points inside the release area, spread over it (raster CRS, EPSG:31287)."""
    from osgeo import ogr

    ds = ogr.Open(str(GIS / "relAlr.shp"))
    feature = ds.GetLayer(0).GetNextFeature()
    geom = feature.GetGeometryRef().Clone()
    minx, maxx, miny, maxy = geom.GetEnvelope()
    pts, k = [], 0
    while len(pts) < n and k < 10000:
        k += 1
        x = minx + (maxx - minx) * ((k * 0.618034) % 1.0)
        y = miny + (maxy - miny) * ((k * 0.414214) % 1.0)
        if geom.Contains(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})")):
            pts.append((x, y))
    return pts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--max-side", type=int, default=1600)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--omp-default", action="store_true",
                        help="leave OMP_WAIT_POLICY unset (as the thread transport had: torch was imported first)")
    parser.add_argument("--preload", action="store_true",
                        help="send Preload first, as the plugin does when the tool is switched on (untimed)")
    args = parser.parse_args(argv)
    if not GIS.exists():
        print("../shared/gis/avaframe_alr is missing", file=sys.stderr)
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from avalanche_iseg_plugin.engine.protocol import AddClick, Discard, PredictorKey, Preload, SetRaster
    from avalanche_iseg_plugin.engine.session_server import SessionServer
    from avalanche_iseg_plugin.engine.plugin_settings import default_checkpoint_path

    folder = tempfile.mkdtemp()
    raster = hillshade(folder)
    server = SessionServer()
    key = PredictorKey(default_checkpoint_path(), "cpu")
    points = release_points(args.objects * args.clicks)
    times: dict[int, list[float]] = {}
    cpu: dict[int, list[float]] = {}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s) (other work inflates wall times)")
    if args.preload:
        started = time.perf_counter()
        server.handle(Preload(key))
        print(f"preload (model load + warm-up, in the background in the plugin): "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), raster {raster}")
    for obj in range(args.objects):
        server.handle(SetRaster(raster, args.max_side, key, 0.49))
        for i in range(args.clicks):
            x, y = points[obj * args.clicks + i]
            session = server.session
            window_before = session._window if session is not None else None
            zoom = session.predictor._zoom if session is not None and session._predictor is not None else None
            crops_before = getattr(zoom, "_rgb_cache", None)
            started, cpu_started = time.perf_counter(), time.process_time()
            reply = server.handle(AddClick(x, y, True))
            ms = (time.perf_counter() - started) * 1000.0
            cpu_ms = (time.process_time() - cpu_started) * 1000.0
            session = server.session
            zoom = session.predictor._zoom
            what = ("new window" if window_before is None else
                    "window grown, clicks replayed" if session._window != window_before else "same window")
            cache = getattr(zoom, "_rgb_cache", None)
            crop = "" if cache is None else (" zoom crop reused" if crops_before is not None and
                                             cache[0] == crops_before[0] else " zoom crop new")
            error = f" ERROR {reply.text}" if hasattr(reply, "traceback") else ""
            print(f"object {obj + 1} click {i + 1}: {ms:7.0f} ms wall, {cpu_ms:7.0f} ms CPU  {what}{crop}{error}")
            times.setdefault(i + 1, []).append(ms)
            cpu.setdefault(i + 1, []).append(cpu_ms)
        server.handle(Discard())
    print("median wall per click index: " + ", ".join(f"#{i}: {statistics.median(v):.0f} ms" for i, v in times.items()))
    print("median CPU per click index:  " + ", ".join(f"#{i}: {statistics.median(v):.0f} ms" for i, v in cpu.items()))
    print("first object, CPU per click: " + ", ".join(f"#{i}: {v[0]:.0f} ms" for i, v in cpu.items()))
    print("first object, wall per click: " + ", ".join(f"#{i}: {v[0]:.0f} ms" for i, v in times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
