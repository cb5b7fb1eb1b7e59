"""The plugin's models through its real widgets: the dock's Model row lists the models folder, the Models…
dialog downloads from a loopback catalogue through QGIS's network stack (progress, cut connection and
resume, Cancel, a tampered file refused), and choosing a model applies its preset all the way to the
predictor (zoom-in off really off)."""
from __future__ import annotations

import pytest
from qgis.core import QgsSettings
from qgis.PyQt.QtCore import QElapsedTimer, Qt
from qgis.PyQt.QtTest import QTest

from canvas_driver import Digitiser
from loopback_http import LoopbackServer
from model_catalogue_fixture import serve_catalogue


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def models_setup(server, tmp_path):
    """An empty models folder and the loopback institution catalogue, in the plugin's settings."""
    folder = tmp_path / "models"
    catalogue = serve_catalogue(server, tmp_path)
    QgsSettings().remove("avalanche_iseg")
    QgsSettings().setValue("avalanche_iseg/models_dir", str(folder))
    QgsSettings().setValue("avalanche_iseg/catalogue", str(catalogue))
    return folder


@pytest.fixture
def digitiser(qgis_iface, qgis_new_project, tmp_path, models_setup):
    d = Digitiser(qgis_iface, tmp_path)
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def _open_dialog(d):
    QTest.mouseClick(d.plugin.dock.checkpoint_widget.models_button, Qt.LeftButton)
    dialog = d.plugin.dock.models.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def _download(dialog, name, progress=None):
    dialog.select(name)
    assert dialog.selected_name() == name and dialog.download_button.isEnabled()
    QTest.mouseClick(dialog.download_button, Qt.LeftButton)
    if progress is not None:
        dialog.task.progressed.connect(lambda done, total, speed: progress.append((done, total, speed)))
    dialog.wait(60000)
    assert dialog.task is None


def _items(combo):
    return [combo.itemText(i) for i in range(combo.count())]


def test_dock_lists_the_installed_models_of_its_folder(qgis_iface, qgis_new_project, tmp_path, server, models_setup):
    from core_model.models import ModelStore, load_catalogue

    from avalanche_iseg_plugin.layers.settings import load_settings
    catalogue = load_catalogue([QgsSettings().value("avalanche_iseg/catalogue")])
    ModelStore(models_setup, catalogue).download("snow_test")     # urllib: installed before QGIS looks
    d = Digitiser(qgis_iface, tmp_path)
    try:
        combo = d.plugin.dock.checkpoint_widget.combo
        items = _items(combo)
        assert items[0].startswith("default — DAVIS and COCO-MVal") and items[-1] == "Other file…"
        assert items[1] == "❄ snow_test — test slopes, 9 MB"            # avalanche mark, trained on, size
        assert len(items) == 3 and load_settings().model == ""
        assert combo.currentIndex() == 0                                # the bundled model is today's choice
    finally:
        d.close()


def test_download_in_the_dialog_then_choose_it_in_the_dock(digitiser, server, models_setup):
    from avalanche_iseg_plugin.engine.predictor_loader import make_predictor
    from avalanche_iseg_plugin.layers.model_store import ModelMemory
    from avalanche_iseg_plugin.layers.settings import load_settings

    d = digitiser
    dock = d.plugin.dock
    made = []

    def recording(checkpoint, device, threshold, **kw):   # the real predictor, and what it was asked for
        predictor = make_predictor(checkpoint, device, threshold, **kw)
        made.append((checkpoint, kw, predictor))
        return predictor

    d.controller.predictor_factory = recording
    dialog = _open_dialog(d)
    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert "❄ snow_test" in names and "coco_lvis_h32_itermask (unpinned)" in names
    dialog.select("coco_lvis_h32_itermask")
    assert "Unpinned: no published id" in dialog.card.text()
    server.cut_after["/m/snow_test.pth"] = 3_000_000        # the connection breaks after 3 MB: resumed at once
    progress = []
    _download(dialog, "snow_test", progress)
    installed = models_setup / "snow_test.pth"
    assert installed.is_file() and not (models_setup / "snow_test.pth.part").exists()
    assert installed.read_bytes() == server.files["/m/snow_test.pth"]
    assert ("/m/snow_test.pth", "bytes=3000000-") in server.requests             # QGIS's transport sent a Range
    size = installed.stat().st_size
    assert progress and progress[-1][:2] == (size, size) and all(p[1] == size for p in progress)
    assert any(0 < p[0] < size for p in progress) and progress[-1][2] > 0           # bytes, total, speed
    assert any("snow_test is installed" in m for m in dialog.messages())
    assert dialog.table.item(names.index("❄ snow_test"), 4).text() == "yes"
    # the dock's Model row has it now; the keyboard chooses it
    combo = dock.checkpoint_widget.combo
    assert _items(combo)[1] == "❄ snow_test — test slopes, 9 MB"
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key_Down)
    s = dock.settings
    assert (s.model, s.checkpoint) == ("snow_test", str(installed))
    assert (s.zoom_in, s.max_longest_side, s.threshold) == (False, 800, 0.5)        # the preset, applied
    saved = load_settings()                                                         # and kept in QgsSettings
    assert (saved.model, saved.zoom_in, saved.max_longest_side, saved.threshold) == ("snow_test", False, 800, 0.5)
    box = dock.model_settings_box
    assert not box.zoom_check.isChecked() and box.longest_spin.value() == 800 and box.threshold_spin.value() == 0.5
    key = d.controller.rules.predictor_key
    assert key.checkpoint == str(installed)
    assert dict(key.settings) == {"zoom_in": False, "zoom_target_size": 400, "max_longest_side": 800}
    d.click(*d.info["lobe_xy"])
    d.click(*d.info["lobe_xy"])
    assert d.warnings() == []
    checkpoint, kw, predictor = made[-1]
    assert checkpoint == str(installed) and kw["settings"]["zoom_in"] is False
    assert predictor.settings.zoom_in is False and predictor._zoom is None        # no zoom-in, even at click 2
    assert predictor.settings.max_longest_side == 800 and predictor.settings.threshold == 0.5
    # edited settings are the model's from now on; another model brings its own
    box.zoom_check.click()
    assert dock.settings.zoom_in is True and ModelMemory().get("snow_test")["zoom_in"] is True
    QTest.keyClick(combo, Qt.Key_Up)
    assert (dock.settings.model, dock.settings.zoom_target_size, dock.settings.max_longest_side) == ("default", 256, 256)
    QTest.keyClick(combo, Qt.Key_Down)
    assert dock.settings.zoom_in is True and dock.settings.max_longest_side == 800


def test_a_tampered_download_is_one_sentence_and_leaves_nothing(digitiser, server, models_setup):
    dialog = _open_dialog(digitiser)
    _download(dialog, "snow_bad")
    messages = dialog.messages()
    assert len(messages) == 1 and "Traceback" not in messages[0]
    assert "snow_bad" in messages[0] and "git blob id" in messages[0] and "deleted" in messages[0]
    assert messages[0].count(". ") == 0 and messages[0].endswith(".")
    assert sorted(p.name for p in models_setup.iterdir()) == []
    assert digitiser.plugin.dock.checkpoint_widget.combo.count() == 2            # default and Other file… only


def test_cancel_keeps_the_partial_file_and_the_next_download_resumes(digitiser, server, models_setup):
    dialog = _open_dialog(digitiser)
    server.pause_s = 0.05
    dialog.select("snow_test")
    QTest.mouseClick(dialog.download_button, Qt.LeftButton)
    seen = []
    dialog.task.progressed.connect(lambda done, total, speed: seen.append(done))
    clock = QElapsedTimer()
    clock.start()
    while not any(done >= 300_000 for done in seen) and clock.elapsed() < 20000:
        QTest.qWait(20)
    assert dialog.cancel_button.isEnabled() and "MB/s" in dialog.progress_label.text()
    QTest.mouseClick(dialog.cancel_button, Qt.LeftButton)
    dialog.wait(20000)
    part = models_setup / "snow_test.pth.part"
    assert part.is_file() and 0 < part.stat().st_size < len(server.files["/m/snow_test.pth"])
    assert any("cancelled" in m for m in dialog.messages())
    assert not (models_setup / "snow_test.pth").exists()
    assert dialog.download_button.text() == "Resume download"
    kept = part.stat().st_size
    server.pause_s = 0.0
    _download(dialog, "snow_test")
    assert (models_setup / "snow_test.pth").read_bytes() == server.files["/m/snow_test.pth"]
    assert ("/m/snow_test.pth", f"bytes={kept}-") in server.requests


def test_import_file_recognises_an_entry_by_its_id_and_refuses_a_stranger(digitiser, models_setup, tmp_path,
                                                                          monkeypatch, server):
    from qgis.PyQt.QtWidgets import QFileDialog

    copy = tmp_path / "from_a_usb_stick.pth"
    copy.write_bytes(server.files["/m/snow_test.pth"])
    stranger = tmp_path / "holiday.pth"
    stranger.write_bytes(b"\xff\xd8\xff\xe0 a JPEG, not a checkpoint")
    chosen = [str(copy)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (chosen[0], "")))
    dialog = _open_dialog(digitiser)
    QTest.mouseClick(dialog.import_button, Qt.LeftButton)
    assert (models_setup / "snow_test.pth").read_bytes() == copy.read_bytes()
    assert dialog.selected_name() == "snow_test" and any("installed as snow_test (catalogue)" in m
                                                         for m in dialog.messages())
    assert _items(digitiser.plugin.dock.checkpoint_widget.combo)[1].startswith("❄ snow_test")
    chosen[0] = str(stranger)
    QTest.mouseClick(dialog.import_button, Qt.LeftButton)
    messages = dialog.messages()
    assert len(messages) == 1 and "holiday.pth" in messages[0] and "Traceback" not in messages[0]
    assert sorted(p.name for p in models_setup.iterdir()) == ["snow_test.json", "snow_test.pth"]


def test_verify_and_remove_in_the_dialog(digitiser, server, models_setup, monkeypatch):
    from qgis.PyQt.QtWidgets import QMessageBox

    dialog = _open_dialog(digitiser)
    _download(dialog, "snow_test")
    QTest.mouseClick(dialog.verify_button, Qt.LeftButton)
    assert any("matches the catalogue's git blob id" in m for m in dialog.messages())
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Yes))
    dock = digitiser.plugin.dock
    dock.checkpoint_widget.choose_model("snow_test")
    assert dock.settings.model == "snow_test"
    QTest.mouseClick(dialog.remove_button, Qt.LeftButton)
    assert sorted(p.name for p in models_setup.iterdir()) == []
    assert dock.settings.model == "default" and dock.checkpoint_widget.combo.currentIndex() == 0   # gave way


def test_the_dialog_sets_the_models_folder_and_the_catalogue(digitiser, server, models_setup, tmp_path):
    from core_model.models import ModelStore, load_catalogue

    other = tmp_path / "elsewhere"
    ModelStore(other, load_catalogue([QgsSettings().value("avalanche_iseg/catalogue")])).download("snow_test")
    dialog = _open_dialog(digitiser)
    combo = digitiser.plugin.dock.checkpoint_widget.combo
    assert combo.count() == 2
    edit = dialog.locations.folder_edit
    edit.selectAll()
    QTest.keyClicks(edit, str(other))
    QTest.keyClick(edit, Qt.Key_Return)
    assert QgsSettings().value("avalanche_iseg/models_dir") == str(other)
    assert dialog.store.folder == other and _items(combo)[1].startswith("❄ snow_test")
    edit = dialog.locations.catalogue_edit
    edit.selectAll()
    QTest.keyClicks(edit, str(tmp_path / "missing.json"))
    QTest.keyClick(edit, Qt.Key_Return)
    messages = dialog.messages()
    assert len(messages) == 1 and "missing.json" in messages[0] and "does not exist" in messages[0]
    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert "❄ aval_slf" in names and "❄ snow_test" in names       # shipped entries, and the folder's model


def test_dialog_and_dock_fit_a_small_screen(digitiser):
    dialog = _open_dialog(digitiser)
    assert dialog.width() <= 1366 and dialog.height() <= 700
    dock = digitiser.plugin.dock
    assert dock.widget().widget() is dock.body                    # the dock's content scrolls
    assert dock.minimumSizeHint().height() < 768 - 100


def test_a_plain_checkpoint_sends_no_settings(digitiser):
    """The bundled model as a plain file (model ''): its own recommended settings, no settings argument, so
    three-argument factories (the stand-in predictor's) keep working."""
    d = digitiser
    assert d.controller.rules.predictor_key.settings == ()
    d.click(*d.info["lobe_xy"])
    assert d.warnings() == [] and len(d.predictors) == 1 and d.controller.state.mask.any()
