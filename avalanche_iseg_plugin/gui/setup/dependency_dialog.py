"""The dialog of the dependency step: what is installed (one line per dependency) and two steps to install
into the plugin-private folder — *Digitising* (ONNX Runtime and OpenCV from the default index, about 95 MB:
all that digitising needs; checked when something of it is missing) and the optional *PyTorch* (refinement
modes, training, the NVIDIA GPU: the CPU build, about 200 MB, or — when an NVIDIA driver is detected and the
user picks it — the CUDA build, about 3 GB; from the PyTorch index only). Install, Remove, Open log and
Cancel; the installation runs as a QgsTask (dependency_task.py) and shows packages and megabytes. After an
install the new folder is importable at once (the inference process restarts by itself with the next
command: gui/transport/process_transport.py)."""
from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QHBoxLayout, QLabel, QProgressBar,
                                 QPushButton, QRadioButton, QVBoxLayout)

from ...dependencies import check as deps
from ...dependencies import install as dependency_install
from .dependency_task import DependencyInstallTask

TITLE = "Avalanche digitiser — install Python dependencies"
DIGITISING_TEXT = "1. Digitising: ONNX Runtime and OpenCV (about 95 MB download)"
DIGITISING_NOTE = "All that clicking avalanches needs; from the default package index (PyPI)."
PYTORCH_TEXT = "2. PyTorch (optional)"
PYTORCH_NOTE = ("Adds the refinement modes, training and the NVIDIA GPU; from the PyTorch package index only "
                "(when it cannot be reached, nothing is installed from another index).")


def _note(text: str, parent) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    return label


def log_path(target: str) -> str:
    return os.path.join(os.path.dirname(target), f"install-{deps.python_tag()}.log")


class DependencyDialog(QDialog):
    installed = pyqtSignal()

    def __init__(self, parent=None, target: str | None = None, driver: str | None = None, packages=None):
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setObjectName("AvalancheIsegDependencyDialog")
        self.target = target or deps.private_dir()
        self.packages = packages          # tests: these pip requirements instead of the steps
        self.task = None
        self.driver = deps.nvidia_driver() if driver is None else driver
        layout = QVBoxLayout(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.digitising_check = QCheckBox(DIGITISING_TEXT, self)
        self.pytorch_check = QCheckBox(PYTORCH_TEXT, self)
        self.cpu_radio = QRadioButton("CPU build, about 200 MB (works everywhere)", self)
        cuda_text = (f"CUDA build for the NVIDIA GPU detected: {self.driver}, about 3 GB"
                     if self.driver else "CUDA build (no NVIDIA driver detected on this computer)")
        self.cuda_radio = QRadioButton(cuda_text, self)
        group = QButtonGroup(self)
        for widget in (self.digitising_check, _note(DIGITISING_NOTE, self), self.pytorch_check,
                       _note(PYTORCH_NOTE, self), self.cpu_radio, self.cuda_radio):
            if isinstance(widget, QRadioButton):
                group.addButton(widget)
            row = QHBoxLayout()
            row.addSpacing(0 if isinstance(widget, QCheckBox) else 24)
            row.addWidget(widget)
            layout.addLayout(row)
        self.cpu_radio.setChecked(True)      # the CUDA build only when the user asks for it
        self.pytorch_check.toggled.connect(lambda _: self.refresh())
        self.digitising_check.toggled.connect(lambda _: self.refresh())
        where = QLabel(f"Into the plugin's own folder (QGIS's numpy and GDAL are not changed):\n{self.target}", self)
        where.setWordWrap(True)
        layout.addWidget(where)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.progress_label = QLabel(self)
        self.progress_label.setWordWrap(True)
        layout.addWidget(self.progress_label)
        self.result_label = QLabel(self)
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        buttons = QHBoxLayout()
        self.install_button = QPushButton("Install", self)
        self.install_button.clicked.connect(self.start_install)
        self.remove_button = QPushButton("Remove installed packages", self)
        self.remove_button.clicked.connect(self.remove)
        self.log_button = QPushButton("Open log", self)
        self.log_button.clicked.connect(self.open_log)
        self.cancel_button = QPushButton("Cancel installation", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.close)
        for button in (self.install_button, self.remove_button, self.log_button, self.cancel_button,
                       self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.refresh(initial=True)

    # ---------------------------------------------------------------- state
    def refresh(self, initial: bool = False) -> None:
        statuses = deps.status(deep=False)
        lost = [s for s in statuses if not s.usable and not s.dependency.optional]
        torch_missing = any(not s.usable and s.dependency.optional for s in statuses)
        self.status_label.setText("\n".join(s.line() for s in statuses))
        if initial:
            self.digitising_check.setChecked(bool(lost))
        if lost:
            names = ", ".join(s.dependency.distribution for s in lost)
            self.summary.setText(f"<b>To digitise, the avalanche digitiser needs Python packages that QGIS does "
                                 f"not have: {names}.</b> Install them now? (needs an internet connection or "
                                 "pip's configured index)")
        elif torch_missing:
            self.summary.setText("Everything digitising needs is installed. PyTorch is optional: it adds the "
                                 "refinement modes, training and the NVIDIA GPU.")
        else:
            self.summary.setText("All Python packages of the avalanche digitiser are installed; installing a "
                                 "step again repairs it.")
        running = self.task is not None
        choosing = not running and self.packages is None
        self.digitising_check.setEnabled(choosing)
        self.pytorch_check.setEnabled(choosing)
        self.cpu_radio.setEnabled(choosing and self.pytorch_check.isChecked())
        self.cuda_radio.setEnabled(choosing and self.pytorch_check.isChecked() and bool(self.driver))
        self.install_button.setEnabled(not running and bool(self.steps()))
        self.remove_button.setEnabled(not running and os.path.isdir(self.target))
        self.cancel_button.setEnabled(running)
        self.log_button.setEnabled(os.path.isfile(log_path(self.target)))
        self.fit()

    def fit(self) -> None:
        """Grows to show every line (Qt's own guess for wrapped labels cuts lines off)."""
        self.resize(self.size().expandedTo(self.sizeHint()))

    def steps(self) -> list:
        """The steps to install, in order."""
        if self.packages is not None:
            return [dependency_install.packages_step(self.packages)]
        chosen = [dependency_install.digitising_step()] if self.digitising_check.isChecked() else []
        if self.pytorch_check.isChecked():
            chosen.append(dependency_install.pytorch_step(cuda=self.cuda_radio.isChecked() and bool(self.driver)))
        return chosen

    # ---------------------------------------------------------------- actions
    def start_install(self) -> None:
        os.makedirs(os.path.dirname(self.target), exist_ok=True)
        open(log_path(self.target), "w", encoding="utf-8").close()
        self.task = DependencyInstallTask(self.target, self.steps(), log_path(self.target))
        self.task.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        self.task.progressText.connect(self._show_progress)
        self.task.finishedWith.connect(self._on_finished)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.result_label.setText("")
        QgsApplication.taskManager().addTask(self.task)
        self.refresh()

    def _show_progress(self, text: str) -> None:
        self.progress_label.setText(text)
        self.fit()

    def _on_finished(self, ok: bool, reason: str) -> None:
        self.task = None
        self.progress.setValue(100 if ok else self.progress.value())
        if ok:
            deps.add_private_dir_to_path(self.target)
            self.result_label.setText("Installed: the next click uses them (the inference process restarts "
                                      "by itself; no QGIS restart needed).")
            self.digitising_check.setChecked(False)
            self.pytorch_check.setChecked(False)
            self.installed.emit()
        else:
            self.result_label.setText(reason)
        self.refresh()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def remove(self) -> None:
        dependency_install.uninstall(self.target)
        self.result_label.setText(f"Removed {self.target}; restart QGIS to unload what was already imported.")
        self.refresh()

    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(log_path(self.target)))
