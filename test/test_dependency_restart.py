"""After an install the inference process restarts with the new path: a child started before the private
dependency folder existed (or before the last install into it) gets, with the next command, a fresh child
that imports what was installed — no QGIS restart — the avalanche's state replayed, no 'crashed' message."""
from __future__ import annotations

import sys

import pytest

from avalanche_iseg_plugin.dependencies import folder as dependency_folder
from avalanche_iseg_plugin.engine.protocol import AddClick, ErrorReply, PredictorKey, SessionView, SetRaster
from avalanche_iseg_plugin.gui.transport.process_transport import ProcessTransport
from gis_fixtures import make_lobe_geotiff
from process_fakes import LATE_MODULE

KEY = PredictorKey("fake.pth", "cpu")


@pytest.fixture
def late(tmp_path, monkeypatch, qgis_app):
    monkeypatch.setenv(dependency_folder.TARGET_ENV, str(tmp_path / "deps"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    transport = ProcessTransport("process_fakes:late_factory")
    replies, crashes = [], []
    transport.replied.connect(lambda command, reply: replies.append(reply))
    transport.crashed.connect(crashes.append)
    yield transport, tmp_path, replies, crashes
    transport.stop()


def _ask(transport, replies, *commands):
    del replies[:]
    for command in commands:
        transport.send(command)
    transport.wait_idle(60)
    return list(replies)


def _install(folder) -> None:
    """What an install does: the package in the private folder, then the stamp (dependencies.install)."""
    folder.mkdir(exist_ok=True)
    (folder / f"{LATE_MODULE}.py").write_text("VALUE = 1\n")
    dependency_folder.mark_installed(str(folder))


def test_a_folder_installed_after_the_process_started_is_seen_by_the_next_command(late):
    transport, tmp_path, replies, crashes = late
    lobe = make_lobe_geotiff(tmp_path / "lobe.tif", size=(240, 320))
    x, y = lobe["lobe_xy"]
    first = _ask(transport, replies, SetRaster(lobe["path"], 1600, KEY, 0.49), AddClick(x, y, True))
    assert isinstance(first[1], ErrorReply) and LATE_MODULE in first[1].text     # not installed yet
    old_pid = transport.pid
    _install(tmp_path / "deps")
    dependency_folder.add_private_dir_to_path()          # what the dialog does in QGIS's own process
    second = _ask(transport, replies, AddClick(x, y, True))
    assert isinstance(second[0], SessionView) and second[0].n_pos == 1 and second[0].mask.any()
    assert transport.pid != old_pid and crashes == []
    third = _ask(transport, replies, AddClick(x + 5, y, True))               # no restart without an install
    assert third[0].n_pos == 2 and transport.pid is not None


def test_an_install_into_an_existing_folder_restarts_the_process_too(late):
    transport, tmp_path, replies, crashes = late
    (tmp_path / "deps").mkdir()                            # e.g. the digitising step was installed before
    lobe = make_lobe_geotiff(tmp_path / "lobe.tif", size=(240, 320))
    x, y = lobe["lobe_xy"]
    first = _ask(transport, replies, SetRaster(lobe["path"], 1600, KEY, 0.49), AddClick(x, y, True))
    assert isinstance(first[1], ErrorReply)
    old_pid = transport.pid
    _install(tmp_path / "deps")
    second = _ask(transport, replies, AddClick(x, y, True))
    assert isinstance(second[0], SessionView) and second[0].n_pos == 1 and transport.pid != old_pid
    assert crashes == []
