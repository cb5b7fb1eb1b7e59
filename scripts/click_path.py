"""How many of the repository's files one click enters, walked for real.

A started plugin on a real canvas (QGIS offscreen, the tests' canvas driver), a synthetic orthoimage and the
tests' fake predictor (so the walk is about the house, not the network); the first click starts the
avalanche, and the second — a plain positive click inside the window — is traced with a profiler on every
thread: each function call is recorded with the file it is in and the file that called it. Printed: the
files entered, and for each how often it was entered from another file ("entries").

    .venv/bin/python scripts/click_path.py            # from the repository root, headless
"""
from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN = (str(REPO / "avalanche_iseg_plugin"), str(REPO / "core_model"))


def test_click_path(qgis_iface, qgis_new_project, tmp_path):
    from canvas_driver import Digitiser

    calls: Counter = Counter()
    entries: Counter = Counter()
    geometry: Counter = Counter()      # the raster-geometry questions asked: contains, pixel_of
    recording = threading.Event()

    def profile(frame, event, _arg):
        if event != "call" or not recording.is_set():
            return
        name = frame.f_code.co_filename
        if not name.startswith(OWN):
            return
        calls[name] += 1
        if frame.f_code.co_name in ("contains", "pixel_of", "_check_inside", "valid_at"):
            geometry[f"{os.path.basename(name)}:{frame.f_code.co_name}"] += 1
        caller = frame.f_back.f_code.co_filename if frame.f_back is not None else ""
        if caller != name:
            entries[name] += 1

    try:
        from avalanche_iseg_plugin.gui.transport import worker_transport
    except ImportError:               # the flat gui/ before its wings (to measure the old house)
        from avalanche_iseg_plugin.gui import worker_transport

    worker_run = worker_transport.WorkerTransport.run

    def traced_run(self):             # the worker is a QThread: threading.setprofile does not reach it
        sys.setprofile(profile)
        return worker_run(self)

    worker_transport.WorkerTransport.run = traced_run
    threading.setprofile(profile)
    sys.setprofile(profile)
    d = Digitiser(qgis_iface, tmp_path)
    try:
        d.click(*d.pixel_xy(60, 80))
        recording.set()
        d.click(*d.pixel_xy(64, 84))
        recording.clear()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        d.close()
        worker_transport.WorkerTransport.run = worker_run
    print(f"\none click entered {len(calls)} files of the repository ({sum(calls.values())} calls):")
    for name, n in sorted(entries.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {os.path.relpath(name, REPO):60s} entered {n:3d}×, {calls[name]:5d} calls")
    print("raster-geometry questions: " + ", ".join(f"{k} {v}×" for k, v in sorted(geometry.items())))
    assert calls, "the profiler saw no call: the click did not reach the plugin"


if __name__ == "__main__":
    import pytest

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path[:0] = [str(REPO / "test"), str(REPO)]
    sys.exit(pytest.main([f"{__file__}::test_click_path", "-q", "-s", "-p", "no:cacheprovider", "-p", "conftest",
                          "--rootdir", str(REPO), "-c", str(REPO / "pytest.ini")]))
