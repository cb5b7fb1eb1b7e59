"""The dialog of the dependency step: what is installed (one line per dependency), the build to install
(CPU, or CUDA when an NVIDIA driver is detected — it says which), Install/Repair, Remove, Open log and
Cancel. The installation runs as a QgsTask (dependency_task.py) into the plugin-private folder."""
from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import (QButtonGroup, QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                                 QRadioButton, QVBoxLayout)

from ...dependencies import check as deps
from ...dependencies import install as dependency_install
from .dependency_task import DependencyInstallTask

TITLE = "Avalanche digitiser — install Python dependencies"


def log_path(target: str) -> str:
    return os.path.join(os.path.dirname(target), f"install-{deps.python_tag()}.log")


class DependencyDialog(QDialog):
    installed = pyqtSignal()

    def __init__(self, parent=None, target: str | None = None, driver: str | None = None, packages=None):
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setObjectName("AvalancheIsegDependencyDialog")
        self.target = target or deps.private_dir()
        self.packages = packages
        self.task = None
        self.driver = deps.nvidia_driver() if driver is None else driver
        layout = QVBoxLayout(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.status_label = QLabel(self)
        layout.addWidget(self.status_label)
        self.cpu_radio = QRadioButton("CPU build of PyTorch (works everywhere, about 200 MB)", self)
        cuda_text = (f"CUDA build of PyTorch for the NVIDIA GPU detected: {self.driver} (about 2.5 GB)"
                     if self.driver else "CUDA build (no NVIDIA driver detected on this computer)")
        self.cuda_radio = QRadioButton(cuda_text, self)
        self.cuda_radio.setEnabled(bool(self.driver))
        group = QButtonGroup(self)
        for radio in (self.cpu_radio, self.cuda_radio):
            group.addButton(radio)
            layout.addWidget(radio)
        (self.cuda_radio if self.driver else self.cpu_radio).setChecked(True)
        where = QLabel(f"Into the plugin's own folder (QGIS's numpy and GDAL are not changed):\n{self.target}", self)
        where.setWordWrap(True)
        layout.addWidget(where)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
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
        self.refresh()

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        statuses = deps.status(deep=False)
        lost = [s for s in statuses if not s.usable]
        self.status_label.setText("\n".join(s.line() for s in statuses))
        if lost:
            names = ", ".join(s.dependency.distribution for s in lost)
            self.summary.setText(f"<b>The avalanche digitiser needs Python packages that QGIS does not have: "
                                 f"{names}.</b> Install them now? (needs an internet connection or pip's "
                                 "configured index)")
            self.install_button.setText("Install")
        else:
            self.summary.setText("All Python packages the avalanche digitiser needs are installed. "
                                 "Repair reinstalls them into the plugin's folder.")
            self.install_button.setText("Repair")
        running = self.task is not None
        self.install_button.setEnabled(not running)
        self.remove_button.setEnabled(not running and os.path.isdir(self.target))
        self.cancel_button.setEnabled(running)
        self.log_button.setEnabled(os.path.isfile(log_path(self.target)))

    # ---------------------------------------------------------------- actions
    def start_install(self) -> None:
        if self.install_button.text() == "Repair":
            dependency_install.uninstall(self.target)
        os.makedirs(os.path.dirname(self.target), exist_ok=True)
        self.task = DependencyInstallTask(self.target, self.cuda_radio.isChecked(), log_path(self.target),
                                          self.packages)
        self.task.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        self.task.lineLogged.connect(lambda line: self.result_label.setText(line[:160]))
        self.task.finishedWith.connect(self._on_finished)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        QgsApplication.taskManager().addTask(self.task)
        self.refresh()

    def _on_finished(self, ok: bool, reason: str) -> None:
        self.task = None
        self.progress.setValue(100 if ok else self.progress.value())
        if ok:
            deps.add_private_dir_to_path(self.target)
            self.result_label.setText("Installed: the model loads on the next click (restart QGIS if PyTorch "
                                      "had already failed to load in this session).")
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
