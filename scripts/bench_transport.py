"""Per-click latency of the process transport vs the thread transport on the same session.

    .venv/bin/python scripts/bench_transport.py [--clicks 30] [--max-side 1600] [--checkpoint RITM.pth]

Both transports run the same commands (a raster, a box, then --clicks positive/negative clicks) on a
synthetic 3-band GeoTIFF large enough for a --max-side window. Per click it measures the wall time from
``send`` to the reply on the GUI thread and the server's own time (SessionView.latency_ms); the
difference is what the transport adds. Without --checkpoint the test suite's FakePredictor runs (the
transport's cost is what is measured); with one, the real model on --device.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "test")]

from qgis.PyQt.QtCore import QCoreApplication  # noqa: E402

from avalanche_iseg_plugin.engine.protocol import AddClick, Box, PredictorKey, SetRaster  # noqa: E402


def run(transport, path, info, args, key) -> tuple[list, list, tuple]:
    times, server, shape = [], [], ()
    arrived = {}
    transport.replied.connect(lambda command, reply: arrived.update(reply=reply, at=time.perf_counter()))

    def call(command):
        arrived.clear()
        started = time.perf_counter()
        transport.send(command)
        transport.wait_idle(300)
        return arrived["reply"], arrived["at"] - started

    call(SetRaster(path, args.max_side, key, 0.49))
    x, y = info["lobe_xy"]
    half = info["pixel"] * args.max_side * 0.45
    reply, _ = call(Box(x - half, y - half, x + half, y + half))
    shape = getattr(reply.window, "native_shape", ()) if reply.window else ()
    for i in range(args.clicks):
        dx = (i % 7 - 3) * info["pixel"] * 20
        reply, wall = call(AddClick(x + dx, y - dx, i % 3 != 2))
        times.append(wall * 1000.0)
        server.append(reply.latency_ms)
    transport.stop()
    return times, server, shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--max-side", type=int, default=1600)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from gis_fixtures import make_lobe_geotiff

    from avalanche_iseg_plugin.engine.session_server import SessionServer
    from avalanche_iseg_plugin.gui.transport.process_transport import ProcessTransport
    from avalanche_iseg_plugin.gui.transport.worker_transport import WorkerTransport

    app = QCoreApplication.instance() or QCoreApplication([])  # noqa: F841
    folder = tempfile.mkdtemp(prefix="bench_transport_")
    side = args.max_side + 200
    info = make_lobe_geotiff(os.path.join(folder, "ortho.tif"), size=(side, side))
    info.setdefault("pixel", 0.5)
    key = PredictorKey(args.checkpoint or "fake.pth", args.device)
    if args.checkpoint:
        from avalanche_iseg_plugin.engine.predictor_loader import make_predictor
        thread_factory, spec = make_predictor, ""
    else:
        from process_fakes import fake_factory
        thread_factory, spec = fake_factory, "process_fakes:fake_factory"
    rows = []
    for name, transport in (("thread", WorkerTransport(SessionServer(thread_factory))),
                            ("process", ProcessTransport(spec))):
        walls, servers, shape = run(transport, info["path"], info, args, key)
        overhead = [w - s for w, s in zip(walls, servers)]
        rows.append((name, statistics.median(walls), statistics.median(servers), statistics.median(overhead),
                     max(overhead), shape))
    print(f"{args.clicks} clicks, window {rows[0][5]} native px (max side {args.max_side}), "
          f"predictor: {os.path.basename(args.checkpoint) or 'FakePredictor'} on {args.device}")
    print(f"{'transport':<10}{'wall ms':>10}{'server ms':>11}{'added ms':>10}{'max added':>11}")
    for name, wall, server, added, worst, _ in rows:
        print(f"{name:<10}{wall:>10.2f}{server:>11.2f}{added:>10.2f}{worst:>11.2f}")
    print(f"process adds {rows[1][1] - rows[0][1]:+.2f} ms per click over the thread (median wall time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
