"""A model download in the background: a QgsTask around core_model's ModelStore.download with QGIS's
network transport (layers.qgis_fetch).  Progress (bytes, total, bytes per second) is a signal, which Qt
delivers to the dialog's thread; Cancel keeps the partial file for a later resume; a failure is kept as
one sentence (`error`), a bug with its traceback (`bug`)."""
from __future__ import annotations

import traceback

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from core_model.errors import DownloadCancelled

from ..engine.errors import USER_ERRORS
from ..layers.qgis_fetch import qgis_fetch


class ModelDownloadTask(QgsTask):
    progressed = pyqtSignal(object, object, float)    # bytes so far, total or None, bytes per second
    done = pyqtSignal(str, bool)                      # the model's name, installed

    def __init__(self, store, name: str, fetch=qgis_fetch):
        super().__init__(f"Downloading model {name}", QgsTask.CanCancel)
        self.store, self.name, self.fetch = store, name, fetch
        self.path = None
        self.error = ""
        self.cancelled = False
        self.bug = ""

    def _progress(self, done: int, total, speed: float) -> None:
        if total:
            self.setProgress(100.0 * done / total)
        self.progressed.emit(int(done), total, float(speed))

    def run(self) -> bool:
        try:
            self.path = self.store.download(self.name, fetch=self.fetch, progress=self._progress,
                                            cancel=self.isCanceled)
            return True
        except DownloadCancelled as exc:
            self.cancelled, self.error = True, str(exc)
        except USER_ERRORS as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback by the dialog
            self.error = f"The download of {self.name} failed unexpectedly ({type(exc).__name__}); see the log."
            self.bug = traceback.format_exc()
        return False

    def finished(self, result: bool) -> None:  # noqa: D401 - QgsTask API, runs on the main thread
        self.done.emit(self.name, bool(result))
