"""Runs the dependency installer (dependency_install.install) as a QgsTask: progress in QGIS's task bar,
each pip line as a signal and in the log file, cancel stops pip."""
from __future__ import annotations

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ...dependencies import install as dependency_install

# rough progress per pip stage (pip gives no overall percentage)
_STAGES = (("Collecting", 5.0, 40.0), ("Downloading", 10.0, 70.0), ("Installing collected packages", 80.0, 80.0),
           ("Successfully installed", 95.0, 95.0))


class DependencyInstallTask(QgsTask):
    lineLogged = pyqtSignal(str)
    finishedWith = pyqtSignal(bool, str)     # ok, one sentence (the reason when not ok)

    def __init__(self, target: str, cuda: bool, log_path: str, packages=None):
        build = "CUDA" if cuda else "CPU"
        super().__init__(f"Installing the avalanche digitiser's Python packages ({build})", QgsTask.CanCancel)
        self.target, self.cuda, self.log_path, self.packages = target, cuda, log_path, packages
        self.result = None
        self._seen = 0

    def _on_line(self, line: str) -> None:
        self.lineLogged.emit(line)
        for marker, start, cap in _STAGES:
            if line.startswith(marker):
                self._seen += 1
                self.setProgress(min(cap, max(self.progress(), start + self._seen * 2.0)))

    def run(self) -> bool:
        self.result = dependency_install.install(self.target, packages=self.packages, cuda=self.cuda,
                                                 on_line=self._on_line, is_canceled=self.isCanceled,
                                                 log_path=self.log_path)
        return self.result.ok

    def finished(self, ok: bool) -> None:  # GUI thread
        reason = self.result.reason if self.result is not None else "The installation was cancelled."
        self.finishedWith.emit(bool(ok), "" if ok else reason)
