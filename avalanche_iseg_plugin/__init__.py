"""Avalanche Interactive Segmentation — QGIS plugin entry point.

QGIS calls classFactory(iface). Nothing heavy is imported here: PyTorch and the model (core_model)
are imported only when the first prediction is needed, so the plugin loads without them and says so
in the message bar at that moment.

core_model is bundled inside the installed plugin folder (see pb_tool.cfg / scripts/build_zip.py);
in a repository checkout it sits beside this package. Both work: when the bundled copy exists, this
folder goes on sys.path so that `import core_model` finds it.
"""
import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


def _use_bundled_core_model() -> None:
    if os.path.isfile(os.path.join(PLUGIN_DIR, "core_model", "__init__.py")) and PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)


_use_bundled_core_model()


def _passive_openmp() -> None:
    """The dock's device list may load torch in QGIS before the model does (core_model.openmp)."""
    from core_model.openmp import passive_openmp

    passive_openmp()


_passive_openmp()


def _use_private_dependencies() -> None:
    """PyTorch/OpenCV installed by the plugin's dependency step (a folder in the QGIS profile) become
    importable, after QGIS's own folders (see dependencies/folder.py)."""
    from .dependencies.folder import add_private_dir_to_path

    add_private_dir_to_path()


_use_private_dependencies()


def classFactory(iface):  # noqa: N802 - name required by QGIS
    from .gui.plugin import AvalancheIsegPlugin

    return AvalancheIsegPlugin(iface)
