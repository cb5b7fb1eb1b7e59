"""Runs the dependency installer's steps (dependency_install.install, one step after the other) as a
QgsTask: progress in QGIS's task bar and as one line in packages and megabytes (``progressText``), each pip
line as a signal and in the log file, cancel stops pip; the first failing step ends the task with its
sentence."""
from __future__ import annotations

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ...dependencies import install as dependency_install


class DependencyInstallTask(QgsTask):
    lineLogged = pyqtSignal(str)
    progressText = pyqtSignal(str)           # "Step 1 of 2 (Digitising: …): Downloading opencv-python-headless (…)"
    finishedWith = pyqtSignal(bool, str)     # ok, one sentence (the reason when not ok)

    def __init__(self, target: str, steps, log_path: str):
        self.steps = list(steps)
        super().__init__("Installing the avalanche digitiser's Python packages: " +
                         ", ".join(step.name for step in self.steps), QgsTask.CanCancel)
        self.target, self.log_path = target, log_path
        self.result = None
        self.done_steps = []

    def _on_progress(self, index: int, fraction: float, text: str) -> None:
        step = self.steps[index]
        self.setProgress(100.0 * (index + fraction) / len(self.steps))
        name = step.title.split(" (")[0]
        self.progressText.emit(f"Step {index + 1} of {len(self.steps)} ({name}): {text}")

    def run(self) -> bool:
        for index, step in enumerate(self.steps):
            self.result = dependency_install.install(
                self.target, step=step, on_line=self.lineLogged.emit, is_canceled=self.isCanceled,
                on_progress=lambda fraction, text, i=index: self._on_progress(i, fraction, text),
                log_path=self.log_path)
            if not self.result.ok:
                return False
            self.done_steps.append(step.name)
        return True

    def finished(self, ok: bool) -> None:  # GUI thread
        reason = self.result.reason if self.result is not None else "The installation was cancelled."
        self.finishedWith.emit(bool(ok), "" if ok else reason)
