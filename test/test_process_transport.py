"""The session server in its own process: the same commands and replies as the thread transport, and a
worker killed with SIGKILL in the middle of an avalanche is restarted with the avalanche's clicks replayed
(one message), the next click continuing the same avalanche; the avalanche finished before is intact."""
from __future__ import annotations

import os
import signal

import pytest

from avalanche_iseg_plugin.engine.protocol import (AddClick, Box, Finish, FinishedResult, PredictorKey,
                                                   SessionView, SetRaster)
from avalanche_iseg_plugin.engine.session_server import SessionServer
from avalanche_iseg_plugin.gui.transport.process_transport import ProcessTransport
from avalanche_iseg_plugin.gui.transport.worker_transport import WorkerTransport
from gis_fixtures import make_lobe_geotiff
from process_fakes import fake_factory

KEY = PredictorKey("fake.pth", "cpu")


class Recorder:
    def __init__(self, transport):
        self.replies, self.crashes, self.failed = [], [], []
        transport.replied.connect(lambda c, r: self.replies.append((c, r)))
        if hasattr(transport, "crashed"):
            transport.crashed.connect(self.crashes.append)
            transport.startFailed.connect(lambda text, commands: self.failed.append((text, commands)))


def _scenario(transport, lobe, recorder):
    x, y = lobe["lobe_xy"]
    for command in (SetRaster(lobe["path"], 1600, KEY, 0.49), Box(x - 20, y - 20, x + 20, y + 20),
                    AddClick(x, y, True), Finish(None, None), AddClick(x + 5, y, True), AddClick(x, y - 5, True)):
        transport.send(command)
    transport.wait_idle(60)
    return [r for _, r in recorder.replies]


@pytest.fixture
def lobe(tmp_path):
    return make_lobe_geotiff(tmp_path / "lobe.tif", size=(240, 320))


@pytest.fixture
def process(qgis_app):
    transport = ProcessTransport("process_fakes:fake_factory")
    yield transport
    transport.stop()


def test_the_child_starts_beside_the_plugin_package():
    """The child process runs in (and imports from) the folder that holds avalanche_iseg_plugin/."""
    from pathlib import Path

    from avalanche_iseg_plugin.gui.transport import process_transport

    assert (Path(process_transport.PLUGIN_PARENT) / "avalanche_iseg_plugin" / "__init__.py").is_file()


def test_process_gives_the_same_replies_as_the_thread(lobe, process):
    thread = WorkerTransport(SessionServer(fake_factory))
    by_thread = _scenario(thread, lobe, Recorder(thread))
    thread.stop()
    recorder = Recorder(process)
    by_process = _scenario(process, lobe, recorder)
    assert recorder.crashes == [] and process.pid != os.getpid()
    assert [type(r) for r in by_process] == [SessionView, SessionView, SessionView, FinishedResult,
                                              SessionView, SessionView]
    assert by_process == by_thread
    assert by_process[-1].n_pos == 2 and by_process[-1].mask.any()


def test_sigkill_mid_object_restarts_and_replays_the_clicks(lobe, process):
    recorder = Recorder(process)
    replies = _scenario(process, lobe, recorder)
    finished = replies[3]
    assert isinstance(finished, FinishedResult) and finished.polygons_wkt
    before = replies[-1]
    first_pid = process.pid
    os.kill(first_pid, signal.SIGKILL)
    x, y = lobe["lobe_xy"]
    process.send(AddClick(x - 5, y, True))
    process.wait_idle(60)
    assert recorder.crashes == ["The inference process stopped (killed by SIGKILL); it was restarted and the "
                                "avalanche's 2 click(s) were replayed."]
    assert process.pid not in (None, first_pid)
    command, after = recorder.replies[-1]
    assert isinstance(after, SessionView), after
    assert after.n_pos == 3 and after.clicks[:2] == before.clicks      # the object's clicks, replayed
    assert (after.mask | before.mask).sum() >= before.mask.sum()
    assert recorder.replies[3][1] is finished and len(recorder.replies) == 7   # nothing re-delivered
    process.send(Finish(None, None))
    process.wait_idle(60)
    assert isinstance(recorder.replies[-1][1], FinishedResult) and recorder.replies[-1][1].attributes["n_pos"] == 3


def test_sigkill_while_a_click_is_computed_still_answers_it(lobe, process):
    recorder = Recorder(process)
    _scenario(process, lobe, recorder)
    x, y = lobe["lobe_xy"]
    process.send(AddClick(x + 3, y + 3, False))
    os.kill(process.pid, signal.SIGKILL)           # before (or while) it answers
    process.wait_idle(60)
    reply = recorder.replies[-1][1]
    assert isinstance(reply, SessionView) and (reply.n_pos, reply.n_neg) == (2, 1)
    assert len(recorder.crashes) <= 1


def test_a_child_that_cannot_start_hands_its_commands_back(qgis_app, lobe, tmp_path):
    transport = ProcessTransport(python=str(tmp_path / "no_such_python"))
    recorder = Recorder(transport)
    command = SetRaster(lobe["path"], 1600, KEY, 0.49)
    transport.send(command)
    assert len(recorder.failed) == 1
    text, commands = recorder.failed[0]
    assert text.startswith("The inference process cannot be started") and commands == [command]
    assert transport.is_idle()
