"""An institution catalogue given as a URL is read through the network only when the user opens *Models…*
(or changes it): QGIS's start (Processing's model list) and the dock read the copy kept from the last
reading, so a server that does not answer never stalls QGIS; and one click of the toolbar button while an
earlier one is being handled opens one dock, not two."""
from __future__ import annotations

import json
import socket
import time

from core_model.models import load_catalogue
from loopback_http import LoopbackServer

from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
from avalanche_iseg_plugin.layers.model_store import CATALOGUE_COPY, plugin_store


def _catalogue_text() -> str:
    entry = {"name": "snow_url", "urls": ["http://127.0.0.1:9/none.pth"], "git_blob": "0" * 40,
             "trained_on": "an institution's slopes"}
    return json.dumps({"models": [entry]})


def test_a_catalogue_url_is_read_only_when_asked_and_kept(qgis_app, tmp_path):
    with LoopbackServer({"/catalogue.json": _catalogue_text().encode()}) as server:
        settings = PluginSettings(models_dir=str(tmp_path / "models"), catalogue=server.url("/catalogue.json"))
        store, problem = plugin_store(settings)                   # the dock, Processing: no network
        assert server.requests == [] and problem == "" and "snow_url" not in store.catalogue.names()
        store, problem = plugin_store(settings, remote=True)      # Models…: read now, and kept
        assert [r[0] for r in server.requests] == ["/catalogue.json"] and problem == ""
        assert "snow_url" in store.catalogue.names()
        assert (tmp_path / "models" / CATALOGUE_COPY).read_text(encoding="utf-8") == _catalogue_text()
    store, problem = plugin_store(settings)                       # the server is gone: the kept copy
    assert "snow_url" in store.catalogue.names() and problem == ""
    assert len(store.catalogue.names()) == len(load_catalogue().names()) + 1


def test_a_catalogue_url_that_never_answers_does_not_stall_the_dock(qgis_app, tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)                                              # accepts, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/catalogue.json"
        settings = PluginSettings(models_dir=str(tmp_path / "models"), catalogue=url)
        started = time.monotonic()
        store, problem = plugin_store(settings)
        assert time.monotonic() - started < 2.0 and problem == ""
        assert store.catalogue.names() == load_catalogue().names()
    finally:
        silent.close()


def test_a_second_click_while_the_first_is_handled_opens_one_dock(qgis_iface, qgis_new_project, monkeypatch):
    from qgis.PyQt.QtWidgets import QDockWidget

    from avalanche_iseg_plugin.gui import plugin as plugin_module
    plugin = plugin_module.AvalancheIsegPlugin(qgis_iface)
    plugin.initGui()
    reentered = []
    original = plugin_module.AvalancheIsegPlugin._ensure_ui

    def ensure_ui_with_a_nested_click(self):      # as a nested event loop would: the button clicked again
        if not reentered:
            reentered.append(True)
            self.run()
        original(self)

    monkeypatch.setattr(plugin_module.AvalancheIsegPlugin, "_ensure_ui", ensure_ui_with_a_nested_click)
    try:
        plugin.run()
        docks = [d for d in qgis_iface.mainWindow().findChildren(QDockWidget) if d.objectName() == "AvalancheIsegDock"]
        assert reentered and len(docks) == 1 and plugin.dock is docks[0]
    finally:
        plugin.unload()
