"""A picture of the Models… dialog in the middle of a download from a loopback catalogue (127.0.0.1, a
slow server; nothing leaves the machine): the catalogue's rows, the chosen model's card, the progress bar
with bytes, total and speed.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/make_models_screenshot.py --out docs/models_dialog.png
    xvfb-run -a .venv/bin/python scripts/make_models_screenshot.py --out /tmp/models.png   # a real X server

The dialog is the plugin's own (avalanche_iseg_plugin/gui/models_dialog.py) on a temporary models folder;
the download runs through QGIS's network stack (layers/qgis_fetch.py) as in QGIS.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "test")]

from qgis.core import QgsApplication  # noqa: E402
from qgis.PyQt.QtCore import QElapsedTimer, Qt  # noqa: E402
from qgis.PyQt.QtTest import QTest  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models_dialog.png"), help="the PNG to write")
    parser.add_argument("--fraction", type=float, default=0.4, help="how far the download is when photographed")
    args = parser.parse_args(argv)
    app = QgsApplication([], True)
    app.initQgis()
    try:
        return _photograph(args.out, args.fraction)
    finally:
        app.exitQgis()


def _photograph(out: Path, fraction: float) -> int:
    from core_model.models import ModelStore, load_catalogue

    from avalanche_iseg_plugin.gui.model_locations import ModelLocations
    from avalanche_iseg_plugin.gui.models_dialog import ModelsDialog
    from loopback_http import LoopbackServer
    from model_catalogue_fixture import serve_catalogue

    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        server.pause_s = 0.02                      # about 3 MB/s: slow enough to be caught mid-way
        catalogue = serve_catalogue(server, Path(tmp))
        store = ModelStore(Path(tmp) / "models", load_catalogue([catalogue]))
        locations = ModelLocations(str(store.folder), str(catalogue), "<QGIS profile>/avalanche_iseg/models")
        dialog = ModelsDialog(store, locations=locations)
        dialog.show()
        QTest.qWait(100)                            # laid out: the chosen row scrolls into view
        dialog.select("snow_test")
        QTest.mouseClick(dialog.download_button, Qt.LeftButton)
        total = len(server.files["/m/snow_test.pth"])
        seen = [0]
        dialog.task.progressed.connect(lambda done, _total, _speed: seen.__setitem__(0, done))
        clock = QElapsedTimer()
        clock.start()
        while seen[0] < fraction * total and clock.elapsed() < 60000:
            QTest.qWait(20)
        QTest.qWait(200)                            # the speed settles, the bar repaints
        out.parent.mkdir(parents=True, exist_ok=True)
        ok = dialog.grab().save(str(out), "PNG")
        print(f"{out}: {dialog.width()}×{dialog.height()} px, {seen[0]} of {total} bytes; "
              f"progress line: {dialog.progress_label.text()}")
        dialog.cancel()
        dialog.wait(20000)
        dialog.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
