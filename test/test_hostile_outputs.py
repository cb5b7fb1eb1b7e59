"""Output faults (issue 16, D16 D17 D21): a write that fails part-way (full disk, file size limit) gives one
clear sentence and leaves no broken GeoPackage; SIGTERM is handled like Ctrl+C (no empty GeoPackage left);
two writers appending to one GeoPackage never produce duplicate ids.  Faults a process cannot make in itself
run the CLI (with the FakePredictor) as a subprocess: test/fake_segment_main.py."""
from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from osgeo import ogr

from gis_fixtures import make_lobe_geotiff

HERE = Path(__file__).resolve().parent
SIZE = (120, 160)


@pytest.fixture
def job(tmp_path):
    """(raster info, clicks file, fake checkpoint) of a small one-object run."""
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=SIZE, pixel=1.25)
    clicks = tmp_path / "clicks.json"
    clicks.write_text(json.dumps([{"x": info["lobe_xy"][0], "y": info["lobe_xy"][1]}]), encoding="utf-8")
    checkpoint = tmp_path / "fake.pth"
    checkpoint.write_bytes(b"never read")
    return info, clicks, checkpoint


def cli_command(job, out, *extra):
    info, clicks, checkpoint = job
    return [sys.executable, str(HERE / "fake_segment_main.py"), *extra, "--raster", info["path"], "--clicks",
            str(clicks), "--out", str(out), "--checkpoint", str(checkpoint)]


def cli_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def geopackage_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(out.name + "*"))


# -- D16: a full disk while creating a new GeoPackage ------------------------------------------------------
@pytest.mark.parametrize("limit", [4_000, 40_000])
def test_full_disk_while_creating_leaves_no_broken_geopackage(tmp_path, job, limit):
    import resource

    def small_files():  # writes past `limit` bytes fail with EFBIG, as on a full disk (SIGXFSZ ignored)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    out = tmp_path / "new.gpkg"
    result = subprocess.run(cli_command(job, out), preexec_fn=small_files, env=cli_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Cannot create the GeoPackage"), result.stderr
    assert f"the file size limit of {limit} bytes was reached" in lines[0] and "nothing was left behind" in lines[0]
    assert geopackage_files(out) == []


def test_failed_creation_of_a_new_file_removes_it(tmp_path, qgis_app, monkeypatch):
    """In-process: the file is written but cannot be opened back (as after a failed write)."""
    from avalanche_iseg_plugin.engine.errors import LayerError
    from avalanche_iseg_plugin.layers import avalanche_layer

    def broken(path, layer_name=None):
        raise LayerError(f"The file '{os.path.basename(path)}' cannot be opened as a vector layer.")
    monkeypatch.setattr(avalanche_layer, "open_avalanche_layer", broken)
    out = tmp_path / "new.gpkg"
    with pytest.raises(LayerError, match="writing it failed .*nothing was left behind"):
        avalanche_layer.create_avalanche_layer(out, "EPSG:2056")
    assert geopackage_files(out) == []


def _as_in_a_terminal():
    """Ctrl+C as in a terminal: a test run started in the background (``cmd &``) ignores SIGINT, and its
    children would inherit that (Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _written(marker: Path) -> bool:
    """The paused writer wrote its marker whole (it then sleeps until signalled)."""
    try:
        return marker.read_text() == "created"
    except OSError:
        return False


# -- D17: SIGTERM like SIGINT ------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_signal_after_creating_the_geopackage_leaves_no_empty_file(tmp_path, job, signum, code, word):
    out, marker = tmp_path / "signalled.gpkg", tmp_path / "created"
    process = subprocess.Popen(cli_command(job, out, "--pause-before-write", str(marker)), env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_as_in_a_terminal)
    try:
        deadline = time.monotonic() + 90
        while not _written(marker) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _written(marker) and out.exists(), process.communicate(timeout=30)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    assert err == f"error: {word}; nothing more was written.\n"
    assert geopackage_files(out) == []


def test_signal_never_removes_a_geopackage_that_holds_features(tmp_path, job):
    out, marker = tmp_path / "kept.gpkg", tmp_path / "created"
    first = subprocess.run(cli_command(job, out), env=cli_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    process = subprocess.Popen(cli_command(job, out, "--pause-before-write", str(marker)), env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _written(marker) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143
    ds = ogr.Open(str(out))
    assert ds.GetLayerByName("avalanches").GetFeatureCount() == 1
    ds = None


# -- D21: two writers appending to one GeoPackage ----------------------------------------------------------
SQUARE = "POLYGON ((2600010 1199910, 2600030 1199910, 2600030 1199930, 2600010 1199930, 2600010 1199910))"


def ids_on_disk(path) -> list[int]:
    ds = ogr.Open(str(path))
    ids = [f["id"] for f in ds.GetLayerByName("avalanches")]
    ds = None
    return ids


def test_two_writers_with_the_same_stale_maximum_get_distinct_ids(tmp_path, qgis_app, monkeypatch):
    """Writer B read max(id) before writer A committed (the race): B's feature is renumbered, not duplicated."""
    from avalanche_iseg_plugin.layers import avalanche_layer as al

    path = tmp_path / "shared.gpkg"
    al.create_avalanche_layer(path, "EPSG:2056")
    writer_a, writer_b = al.open_avalanche_layer(path, "avalanches"), al.open_avalanche_layer(path, "avalanches")
    al.add_object(writer_a, SQUARE, "EPSG:2056", {"source": "a"})
    stale = al.next_id(writer_b)
    al.add_object(writer_a, SQUARE, "EPSG:2056", {"source": "a"})                 # ids 1, 2
    monkeypatch.setattr(al, "next_id", lambda layer: stale)                     # B still believes 2 is free
    fid = al.add_object(writer_b, SQUARE, "EPSG:2056", {"source": "b"})
    assert sorted(ids_on_disk(path)) == [1, 2, 3]
    assert writer_b.getFeature(fid)["id"] == 3                                   # the layer shows the new id
    del writer_a, writer_b
    gc.collect()


def test_ids_of_other_formats_and_foreign_layers_are_left_alone(tmp_path, qgis_app):
    from avalanche_iseg_plugin.layers import avalanche_layer as al
    from avalanche_iseg_plugin.layers.feature_ids import make_ids_unique

    path = tmp_path / "shared.gpkg"
    layer = al.create_avalanche_layer(path, "EPSG:2056")
    fid = al.add_object(layer, SQUARE, "EPSG:2056")
    assert make_ids_unique(layer, [fid]) == {} and ids_on_disk(path) == [1]
    del layer
    gc.collect()


WRITER = """
import sys
sys.path[:0] = [{repo!r}]
from qgis.core import QgsApplication
app = QgsApplication([], False); app.initQgis()
from avalanche_iseg_plugin.layers import avalanche_layer as al
layer = al.open_avalanche_layer({path!r}, "avalanches")
for _ in range({n}):
    al.add_object(layer, {square!r}, "EPSG:2056", {{"source": sys.argv[1]}})
del layer
app.exitQgis()
"""


def test_two_processes_appending_at_once_never_duplicate_ids(tmp_path, qgis_app):
    from avalanche_iseg_plugin.layers import avalanche_layer as al

    path, n = tmp_path / "shared.gpkg", 25
    layer = al.create_avalanche_layer(path, "EPSG:2056")
    del layer
    gc.collect()
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(HERE.parent), path=str(path), n=n, square=SQUARE), encoding="utf-8")
    writers = [subprocess.Popen([sys.executable, str(script), name], env=cli_env(), stderr=subprocess.PIPE,
                                text=True) for name in ("a", "b")]
    errors = [w.communicate(timeout=180)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    ids = ids_on_disk(path)
    assert len(ids) == 2 * n and len(set(ids)) == 2 * n


def test_a_writer_waits_for_the_lock_and_gives_up_cleanly(tmp_path, qgis_app, monkeypatch):
    from qgis.PyQt.QtCore import QLockFile

    from avalanche_iseg_plugin.engine.errors import LayerError
    from avalanche_iseg_plugin.layers import avalanche_layer as al, write_lock

    path = tmp_path / "shared.gpkg"
    layer = al.create_avalanche_layer(path, "EPSG:2056")
    other = QLockFile(write_lock.lock_path(str(path)))                           # another program saving
    assert other.tryLock(0)
    monkeypatch.setattr(write_lock, "WAIT_S", 0.3)
    started = time.monotonic()
    with pytest.raises(LayerError, match="Another program has been saving to 'avalanches'"):
        al.add_object(layer, SQUARE, "EPSG:2056")
    assert time.monotonic() - started >= 0.3 and ids_on_disk(path) == [] and not layer.isEditable()
    other.unlock()
    al.add_object(layer, SQUARE, "EPSG:2056")                                    # free again: saved
    assert ids_on_disk(path) == [1]
    del layer
    gc.collect()
