"""QGIS without a display, for command-line tools: ``with headless_qgis(): ...``.

* Qt runs on the ``offscreen`` platform unless ``QT_QPA_PLATFORM`` names another one that can work
  here (QGIS 3.22's QgsApplication needs a platform plugin even with ``GUIenabled=False``, and xcb
  without a display aborts the process).
* The prefix path (where QGIS finds its data providers: ogr, gdal, ...) comes from ``QGIS_PREFIX_PATH``
  or is found from where the ``qgis`` Python package lives (``/usr`` on Debian/Ubuntu,
  ``.../apps/qgis`` on OSGeo4W).
* Qt's own warnings (e.g. "XDG_RUNTIME_DIR not set") are kept out of stderr, which belongs to the
  tool's one-line error messages; ``messages`` holds them.
* On leaving, Python-side QGIS objects should already be gone (the caller deletes its layers and we
  collect garbage) before ``exitQgis``: a QgsMapLayer freed after it crashes the interpreter.
If a QgsApplication exists already (inside QGIS or a test run), it is used and left running.
"""
from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from pathlib import Path

from ..engine.errors import AvalancheError


class QgisStartError(AvalancheError):
    """QGIS cannot be started headless; the message is one sentence."""


def _has_providers(prefix: Path) -> bool:
    return (prefix / "lib" / "qgis" / "plugins").is_dir() or (prefix / "plugins").is_dir()


def qgis_prefix_path() -> str:
    """QGIS's install prefix: $QGIS_PREFIX_PATH, else found above the ``qgis`` Python package."""
    env = os.environ.get("QGIS_PREFIX_PATH")
    if env:
        return env
    import qgis

    package = Path(qgis.__file__).resolve().parent
    for parent in package.parents:
        if _has_providers(parent):
            return str(parent)
    return "/usr"


@contextmanager
def headless_qgis():
    """Start QGIS (no GUI, offscreen) for the ``with`` block; yields the list of Qt messages seen."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform or (platform.startswith(("xcb", "wayland"))
                        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screen platform without a display aborts the process
    from qgis.PyQt.QtCore import qInstallMessageHandler

    messages: list[str] = []
    from qgis.core import QgsApplication, QgsProviderRegistry

    if QgsApplication.instance() is not None:  # inside QGIS or pytest-qgis: use it as it is
        yield messages
        return
    previous = qInstallMessageHandler(lambda _kind, _context, text: messages.append(text))
    QgsApplication.setPrefixPath(qgis_prefix_path(), True)
    app = QgsApplication([], False)
    app.initQgis()
    try:
        if "ogr" not in QgsProviderRegistry.instance().providerList():
            raise QgisStartError(f"QGIS started without its data providers (prefix path "
                                 f"'{QgsApplication.prefixPath()}'); set QGIS_PREFIX_PATH to QGIS's install "
                                 "folder (e.g. /usr or C:\\OSGeo4W\\apps\\qgis).")
        yield messages
    finally:
        gc.collect()
        app.exitQgis()
        qInstallMessageHandler(previous)
