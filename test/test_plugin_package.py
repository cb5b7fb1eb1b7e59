"""The installable zip: built with pb_tool.cfg, unpacked into a QGIS plugins folder, loaded, started and
unloaded through qgis.utils in a real QgsApplication (pytest-qgis)."""
import ast
import configparser
import importlib
import sys
import zipfile
from pathlib import Path

import pytest
import qgis.utils
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication, QEvent
from qgis.PyQt.QtWidgets import QAction, QDockWidget, QToolBar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import build_zip  # noqa: E402

PACKAGE = "avalanche_iseg_plugin"
REQUIRED_METADATA = ["name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                     "repository", "tracker", "license", "tags", "icon", "experimental", "changelog",
                     "hasProcessingProvider"]


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    return build_zip.build(tmp_path_factory.mktemp("zip_build"))


def test_zip_layout_and_metadata(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"{PACKAGE}/metadata.txt").decode("utf-8")
    # every plugin module and every core_model module is in the zip, in one plugin folder
    for path in (REPO / PACKAGE).rglob("*.py"):        # sub-packages too (gui/webcam, dependencies, ...)
        if "__pycache__" not in path.parts:
            assert f"{PACKAGE}/{path.relative_to(REPO / PACKAGE).as_posix()}" in names
    for path in (REPO / "core_model").rglob("*.py"):
        if "__pycache__" not in path.parts:
            assert f"{PACKAGE}/core_model/{path.relative_to(REPO / 'core_model').as_posix()}" in names
    assert f"{PACKAGE}/icon.png" in names
    assert all(name.startswith(f"{PACKAGE}/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert not any(name.startswith(f"{PACKAGE}/training/") or "/test/" in name for name in names)
    parser = configparser.ConfigParser()
    parser.read_string(metadata)
    general = parser["general"]
    for key in REQUIRED_METADATA:
        assert general.get(key, "").strip(), f"metadata.txt lacks {key}"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["hasProcessingProvider"] == "yes"
    assert f"{PACKAGE}/{general['icon']}" in names


def _flush_deletes():
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QCoreApplication.processEvents()


@pytest.fixture
def isolated_imports():
    """The repository's own plugin and core_model modules are set aside while the unpacked copy runs."""
    saved_modules = {name: mod for name, mod in sys.modules.items()
                     if name.split(".")[0] in (PACKAGE, "core_model")}
    for name in saved_modules:
        del sys.modules[name]
    saved_path = list(sys.path)
    saved = (list(qgis.utils.plugin_paths), list(qgis.utils.available_plugins), qgis.utils.iface)
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in (PACKAGE, "core_model")]:
        del sys.modules[name]
    sys.modules.update(saved_modules)
    sys.path[:] = saved_path
    qgis.utils.plugin_paths[:] = saved[0]
    qgis.utils.available_plugins[:] = saved[1]
    qgis.utils.iface = saved[2]
    qgis.utils.plugins.pop(PACKAGE, None)
    if PACKAGE in qgis.utils.active_plugins:
        qgis.utils.active_plugins.remove(PACKAGE)
    importlib.invalidate_caches()


def test_zip_installs_loads_starts_and_unloads(built_zip, tmp_path, qgis_iface, isolated_imports):
    plugins_dir = tmp_path / "python" / "plugins"
    plugins_dir.mkdir(parents=True)
    with zipfile.ZipFile(built_zip) as zf:
        zf.extractall(plugins_dir)
    installed = plugins_dir / PACKAGE
    sys.path.insert(0, str(plugins_dir))
    qgis.utils.iface = qgis_iface
    qgis.utils.plugin_paths[:] = [str(plugins_dir)]
    qgis.utils.updateAvailablePlugins()
    assert PACKAGE in qgis.utils.available_plugins
    main_window = qgis_iface.mainWindow()
    canvas = qgis_iface.mapCanvas()
    raster_menu = qgis_iface.addPluginToRasterMenu
    raster_menu.reset_mock()
    qgis_iface.removePluginRasterMenu.reset_mock()

    assert qgis.utils.loadPlugin(PACKAGE)
    module = sys.modules[PACKAGE]
    assert Path(module.__file__).resolve().parent == installed.resolve()
    assert qgis.utils.startPlugin(PACKAGE)
    plugin = qgis.utils.plugins[PACKAGE]

    # the bundled core_model is the one that imports
    core_model = importlib.import_module("core_model")
    assert Path(core_model.__file__).resolve().parent == (installed / "core_model").resolve()

    actions = [a for a in main_window.findChildren(QAction) if a.objectName() == "AvalancheIsegDigitiseAction"]
    assert len(actions) == 1
    action = actions[0]
    assert not action.icon().isNull()
    toolbar = qgis_iface._toolbars["Avalanche digitiser"]
    assert action in toolbar.actions()
    webcam_actions = [a for a in main_window.findChildren(QAction) if a.objectName() == "AvalancheIsegWebcamAction"]
    assert len(webcam_actions) == 1 and webcam_actions[0] in toolbar.actions()
    assert raster_menu.call_args_list == [(("&Avalanche digitiser", action),),
                                          (("&Avalanche digitiser", webcam_actions[0]),)]
    assert QgsApplication.processingRegistry().providerById("avalanche_iseg") is not None

    # the toolbar button opens the dock and activates the click tool
    action.trigger()
    docks = [d for d in main_window.findChildren(QDockWidget) if d.objectName() == "AvalancheIsegDock"]
    assert len(docks) == 1
    assert canvas.mapTool() is plugin.map_tool
    assert action.isChecked()
    # 'Webcam camera…' opens the webcam panel, its photo canvas inside
    webcam_actions[0].trigger()
    panels = [d for d in main_window.findChildren(QDockWidget) if d.objectName() == "AvalancheIsegWebcamPanel"]
    assert len(panels) == 1 and not panels[0].isHidden() and panels[0].photo_canvas is not None

    assert qgis.utils.unloadPlugin(PACKAGE)
    _flush_deletes()
    assert [a for a in main_window.findChildren(QAction) if a.objectName() == "AvalancheIsegDigitiseAction"] == []
    assert [d for d in main_window.findChildren(QDockWidget) if d.objectName() == "AvalancheIsegDock"] == []
    assert [d for d in main_window.findChildren(QDockWidget) if d.objectName() == "AvalancheIsegWebcamPanel"] == []
    assert [a for a in main_window.findChildren(QAction) if a.objectName() == "AvalancheIsegWebcamAction"] == []
    assert [t for t in main_window.findChildren(QToolBar) if t.objectName() == "AvalancheIsegToolbar"] == []
    assert QgsApplication.processingRegistry().providerById("avalanche_iseg") is None
    assert canvas.mapTool() is None
    assert qgis_iface.removePluginRasterMenu.call_count == 2
    assert {c[0][0] for c in qgis_iface.removePluginRasterMenu.call_args_list} == {"&Avalanche digitiser"}
    assert PACKAGE not in sys.modules


def test_plugin_modules_do_not_import_torch():
    """QGIS starts the plugin without PyTorch: no plugin module imports torch or OpenCV (or core_model's
    model code) until the first prediction; of core_model only its torch-free parts load (the error root,
    the refinement modes' names, the OpenMP policy, and what ``import core_model`` itself loads)."""
    import subprocess

    modules = sorted(p.stem for p in (REPO / PACKAGE).glob("*.py") if p.stem != "__init__")
    code = ("import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            f"import {PACKAGE}\n"
            + "".join(f"import {PACKAGE}.{m}\n" for m in modules)
            + f"{PACKAGE}.classFactory\n"
            "heavy = sorted(m for m in sys.modules if m in ('torch', 'cv2') or m.startswith(('torch.', 'cv2.')))\n"
            "print(heavy)\n"
            "print(sorted(m for m in sys.modules if m.startswith('core_model.')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    heavy, core = result.stdout.strip().splitlines()[-2:]
    assert heavy == "[]"
    assert set(ast.literal_eval(core)) <= {"core_model.errors", "core_model.brs_modes", "core_model.openmp",
                                           "core_model.load_predictor", "core_model.noc", "core_model.clicks"}


def test_only_the_default_weights_are_bundled():
    names = ["avalanche_iseg_default.pth", "epoch_12.pth", "optimizer_state.pt", "README.md", "__pycache__"]
    assert sorted(build_zip._ignore("/repo/core_model/weights", names)) == \
        ["__pycache__", "epoch_12.pth", "optimizer_state.pt"]
    assert build_zip._ignore("/repo/core_model", ["model.py", "x.pyc"]) == ["x.pyc"]
