"""The plugin with the session server in its own process (the default): real canvas clicks, a worker
killed with SIGKILL in the middle of the second avalanche is reported in one message-bar line, the next
click continues that avalanche with its earlier clicks replayed, and the first avalanche stays in the
layer; a process that cannot start falls back to the thread with a message."""
import os
import signal

import pytest
from qgis.core import QgsSettings
from qgis.PyQt.QtCore import Qt

from avalanche_iseg_plugin.gui.transport.process_transport import ProcessTransport
from avalanche_iseg_plugin.gui.transport.worker_transport import WorkerTransport
from canvas_driver import Digitiser, read_gpkg
from process_fakes import fake_factory



@pytest.fixture
def digitiser(qgis_iface, qgis_new_project, tmp_path):
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path, fake=False)
    d.controller.predictor_factory = fake_factory          # importable by name: stays in the child process
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def test_sigkill_mid_avalanche_replays_its_clicks_and_keeps_the_first(digitiser, tmp_path):
    d, c = digitiser, digitiser.controller
    assert isinstance(c.worker, ProcessTransport)
    target = tmp_path / "avalanches.gpkg"
    assert c.target.create(str(target)) is not None
    x, y = d.info["lobe_xy"]
    d.click(x, y)
    d.key(Qt.Key_Space)
    c.wait_idle(60)
    assert len(read_gpkg(target)[0]) == 1
    d.click(x + 3, y)
    d.click(x, y + 3)
    assert d.warnings() == [] and c.state.n_pos == 2
    os.kill(c.worker.pid, signal.SIGKILL)
    d.click(x - 3, y)
    c.wait_idle(60)
    warnings = d.warnings()
    assert len(warnings) == 1 and "The inference process stopped (killed by SIGKILL)" in str(warnings[0])
    assert "2 click(s) were replayed" in str(warnings[0])
    assert c.state.n_pos == 3 and c.state.mask.any()
    assert "Clicks: 3 positive" in d.plugin.dock.status_label.text()
    d.key(Qt.Key_Space)
    c.wait_idle(60)
    features, _ = read_gpkg(target)
    assert [f[1]["n_pos"] for f in features] == [1, 3]


def test_a_process_that_cannot_start_falls_back_to_the_thread(digitiser, tmp_path):
    d, c = digitiser, digitiser.controller
    c.worker.python = str(tmp_path / "no_python_here")
    d.click(*d.info["lobe_xy"])
    c.wait_idle(60)
    assert isinstance(c.worker, WorkerTransport)
    warnings = d.warnings()
    assert len(warnings) == 1 and "The inference process cannot be started" in str(warnings[0])
    assert c.state.n_pos == 1 and c.state.mask.any()
