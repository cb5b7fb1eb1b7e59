"""The webcam photo's terrain projector is built in the background (gui/webcam/terrain_preparation.py): a real QGIS
(pytest-qgis, offscreen), the synthetic valley scene of test_webcam_panel.py, real key and mouse events.

The build is made slow with a gate: ``TerrainProjector`` (what the engine's build_projector constructs)
waits for an Event, so the tests decide when it ends.  With the build on the GUI thread (the old code),
Space would block there until the gate's timeout and no timer could fire meanwhile.
"""
from __future__ import annotations

import threading
import time

import pytest
from qgis.core import Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsProject
from qgis.PyQt.QtCore import QTimer, Qt
from qgis.PyQt.QtTest import QTest

import webcam_scene as scene
from canvas_driver import read_gpkg
from test_webcam_panel import MAP_CRS, driver  # noqa: F401 - the fixture

from avalanche_iseg_plugin.engine.errors import CameraError
from avalanche_iseg_plugin.engine.webcam import camera_file, finish_on_terrain
from avalanche_iseg_plugin.layers import avalanche_layer

GATE_TIMEOUT_S = 8.0


class SlowBuilds:
    """Replaces the TerrainProjector the engine builds: each construction waits for ``release`` (at most
    GATE_TIMEOUT_S), then builds the real one, or raises ``fail`` when set."""

    def __init__(self, monkeypatch):
        self.real = finish_on_terrain.TerrainProjector
        self.release = threading.Event()
        self.started = 0
        self.built = 0
        self.completed = 0           # builds that ran to their end (a cancelled one stops at a progress step)
        self.threads = []
        self.fail: Exception | None = None
        monkeypatch.setattr(finish_on_terrain, "TerrainProjector", self)

    def __call__(self, *args, **kwargs):
        self.started += 1
        self.threads.append(threading.current_thread() is threading.main_thread())
        self.release.wait(GATE_TIMEOUT_S)
        if self.fail is not None:
            raise self.fail
        self.built += 1
        projector = self.real(*args, **kwargs)
        self.completed += 1
        return projector


class Heartbeat:
    """A 10 ms QTimer: how often it fired, and the longest gap between two ticks (the longest stall)."""

    def __init__(self):
        self.ticks, self.longest, self._last = 0, 0.0, time.perf_counter()
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(10)

    def _tick(self):
        now = time.perf_counter()
        self.ticks += 1
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self):
        self.timer.stop()


def _photo_with_camera(d, tmp_path):
    """The scene's photo with its true camera saved beside it; DEM chosen first, so opening the photo loads
    the camera and registers it (the terrain build starts there)."""
    camera_path = tmp_path / "cam" / "frame_0800.camera.json"
    camera_file.save_camera_file(camera_path, camera_file.CameraRecord(scene.camera(), ""))
    d.panel.dem_combo.setLayer(d.dem)
    d.open_photo(d.photo["path"])
    assert d.webcam.camera is not None and d.webcam.camera_path == str(camera_path)


def _target(d, tmp_path, name):
    layer = avalanche_layer.create_avalanche_layer(str(tmp_path / f"{name}.gpkg"),
                                                   QgsCoordinateReferenceSystem(MAP_CRS))
    QgsProject.instance().addMapLayer(layer)
    assert d.controller.target.choose(layer)
    return layer


def _digitise_and_space(d):
    """One click on the avalanche, then Space, waiting only for the prediction worker (not for the terrain)."""
    canvas = d.panel.photo_canvas
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, d.photo_screen(*d.photo["snow_pixel"]))
    d.controller.rasters.snapshots.wait(30)
    d.controller.worker.wait_idle(30)
    assert d.controller.state.mask is not None and d.controller.state.mask.sum() > 20000
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_Space)
    d.controller.worker.wait_idle(30)


def _infos(d):
    return list(d.messages.get_messages(Qgis.Info))


def _terrain_tasks():
    return [t.description() for t in QgsApplication.taskManager().activeTasks()
            if t.description().startswith("Preparing the terrain")]


def test_space_during_the_build_keeps_the_avalanche_and_writes_it_once_when_ready(driver, tmp_path, monkeypatch):
    d = driver
    builds = SlowBuilds(monkeypatch)
    target = _target(d, tmp_path, "avalanches")
    _photo_with_camera(d, tmp_path)
    # the build started as soon as camera + DEM were known: a QGIS task, one short message
    QTest.qWait(50)
    assert builds.started == 1 and builds.threads == [False]          # not on the GUI thread
    assert _terrain_tasks() == ["Preparing the terrain for frame_0800.png"]
    assert sum("Preparing the terrain for frame_0800.png" in m for m in _infos(d)) == 1
    d.press(d.panel.digitise_button)

    beat = Heartbeat()
    started = time.perf_counter()
    _digitise_and_space(d)
    QTest.qWait(300)                       # the event loop runs on while the terrain is prepared
    beat.stop()
    assert time.perf_counter() - started < GATE_TIMEOUT_S / 2
    assert beat.ticks >= 15 and beat.longest < 1.0, (beat.ticks, beat.longest)
    # nothing written yet, nothing lost: the avalanche is kept (counted in the dock) and the user is told
    assert builds.built == 0 and target.featureCount() == 0
    assert len(d.controller.rules.unsaved) == 1 and d.controller.dock.unsaved_row.count == 1
    assert any("still being prepared" in m and "'avalanches'" in m for m in _infos(d))
    assert d.warnings() == []

    builds.release.set()
    d.controller.wait_idle(30)
    features, srs = read_gpkg(tmp_path / "avalanches.gpkg")
    assert len(features) == 1 and d.controller.rules.unsaved == [] and d.controller.dock.unsaved_row.count == 0
    assert srs.GetAuthorityCode(None) == "3857"
    _, attrs, geometry = features[0]
    assert attrs["photo"] == "frame_0800.png" and attrs["visible_fr"] == pytest.approx(1.0, abs=0.01)
    assert geometry.GetArea() > 1000.0        # m², the avalanche on the ground (not photo pixels)
    assert d.warnings() == [] and _terrain_tasks() == []

    # the next avalanche of the photo uses the cached projector: no second build, written at Space
    d.click_photo(*d.photo["snow_pixel"])
    d.key_on_photo(Qt.Key_Space)
    assert len(read_gpkg(tmp_path / "avalanches.gpkg")[0]) == 2
    assert builds.started == 1 and builds.built == 1 and d.warnings() == []


def test_a_failing_build_says_one_sentence_and_keeps_the_avalanche_until_space_retries(driver, tmp_path,
                                                                                       monkeypatch):
    d = driver
    builds = SlowBuilds(monkeypatch)
    builds.fail = CameraError("The DEM 'dem' cannot be read any more.")
    target = _target(d, tmp_path, "avalanches")
    _photo_with_camera(d, tmp_path)
    d.press(d.panel.digitise_button)
    _digitise_and_space(d)
    assert len(d.controller.rules.unsaved) == 1
    builds.release.set()
    d.controller.wait_idle(30)
    warnings = d.warnings()
    assert len(warnings) == 1, warnings
    assert "The DEM 'dem' cannot be read any more. (1 finished avalanche(s)" in warnings[0] and "are kept" in warnings[0]
    assert len(d.controller.rules.unsaved) == 1 and target.featureCount() == 0
    # the photo's camera is registered again (e.g. digitising switched off and on): no new build by itself
    d.plugin.photo_digitising.register_camera()
    QTest.qWait(50)
    assert builds.started == 1
    # Space tries again; this time the DEM reads: written once, into the chosen layer
    builds.fail = None
    d.messages.clear_messages()
    d.key_on_photo(Qt.Key_Space)
    assert builds.started == 2 and builds.built == 1
    assert len(read_gpkg(tmp_path / "avalanches.gpkg")[0]) == 1 and d.controller.rules.unsaved == []
    assert d.warnings() == []


def test_a_target_cleared_during_the_build_gets_nothing_the_avalanche_waits_for_a_chosen_one(driver, tmp_path,
                                                                                            monkeypatch):
    d = driver
    builds = SlowBuilds(monkeypatch)
    first = _target(d, tmp_path, "first")
    _photo_with_camera(d, tmp_path)
    d.press(d.panel.digitise_button)
    _digitise_and_space(d)
    assert d.controller.target.choose(None)            # the user clears the target while the build runs
    builds.release.set()
    d.controller.wait_idle(30)
    assert first.featureCount() == 0 and len(d.controller.rules.unsaved) == 1
    assert any("press Space to write them" in m for m in _infos(d)) and d.warnings() == []
    second = _target(d, tmp_path, "second")             # choosing a target writes the kept avalanche there
    d.controller.wait_idle(30)
    assert second.featureCount() == 1 and first.featureCount() == 0 and d.controller.rules.unsaved == []
    assert len(read_gpkg(tmp_path / "second.gpkg")[0]) == 1 and builds.started == 1


def test_a_new_resolution_supersedes_and_stops_the_running_build(driver, tmp_path, monkeypatch):
    d = driver
    builds = SlowBuilds(monkeypatch)
    _target(d, tmp_path, "avalanches")
    _photo_with_camera(d, tmp_path)
    QTest.qWait(50)
    assert builds.started == 1
    d.panel.resolution_spin.setValue(2.5)      # the resolution settles, then its build starts
    QTest.qWait(900)
    assert builds.started == 2
    projection = d.plugin.photo_digitising.projection
    assert projection.terrain.task.key[-1] == 2.5
    builds.release.set()
    d.controller.wait_idle(30)
    assert builds.built == 2 and builds.completed == 1        # the superseded build stopped early
    photo = projection.photos["frame_0800"]
    assert projection.finisher.cached(projection.terrain.key(photo, 2.5)).resolution == 2.5
    assert projection.finisher.cached(projection.terrain.key(photo, None)) is None   # the superseded one: dropped
    d.press(d.panel.digitise_button)
    d.click_photo(*d.photo["snow_pixel"])
    d.key_on_photo(Qt.Key_Space)
    assert len(read_gpkg(tmp_path / "avalanches.gpkg")[0]) == 1 and builds.started == 2 and d.warnings() == []


def test_unloading_the_plugin_during_the_build_cancels_it_and_writes_nothing(driver, tmp_path, monkeypatch):
    d = driver
    builds = SlowBuilds(monkeypatch)
    target = _target(d, tmp_path, "avalanches")
    _photo_with_camera(d, tmp_path)
    d.press(d.panel.digitise_button)
    _digitise_and_space(d)
    terrain = d.plugin.photo_digitising.projection.terrain
    assert terrain.task is not None and len(d.controller.rules.unsaved) == 1
    QTimer.singleShot(200, builds.release.set)     # the build's thread goes on a little after unload asks
    d.plugin.unload()
    assert not terrain.building and builds.started == 1 and builds.completed == 0   # stopped at a progress step
    QTest.qWait(100)
    assert _terrain_tasks() == [] and builds.completed == 0 and target.featureCount() == 0
