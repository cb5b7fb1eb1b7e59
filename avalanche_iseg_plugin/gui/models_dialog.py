"""The Models… dialog: the catalogue (name, trained on, licence, size, installed or not; the unpinned
entry flagged), the selected model's card, and Download (in the background, with progress, speed and
Cancel; a partial file resumes), Import file…, Remove and Verify.  Failures are one sentence in the
dialog's message bar; it fits a 1366×768 screen."""
from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                                 QMessageBox, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                                 QVBoxLayout)

from ..engine.errors import USER_ERRORS
from .model_chooser import AVALANCHE_MARK, CHECKPOINT_FILTER
from .model_download_task import ModelDownloadTask
from .model_rows import card_text, progress_text, row_texts

COLUMNS = ("Model", "Trained on", "Licence", "Size", "Installed")
LOG_TITLE = "Avalanche digitiser"


class ModelsDialog(QDialog):
    modelsChanged = pyqtSignal()     # a model was installed or removed

    def __init__(self, store, parent=None, problem: str = "", fetch=None, locations=None):
        """`store`: core_model ModelStore; `problem`: a sentence about the institution catalogue;
        `fetch`: the download transport (default: QGIS's network stack); `locations`: the rows that set
        the models folder and catalogue (gui.model_locations.ModelLocations; the dock passes them)."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.store, self.fetch, self.task = store, fetch, None
        layout = QVBoxLayout(self)
        self.bar = QgsMessageBar(self)
        layout.addWidget(self.bar)
        self.locations = locations
        if locations is not None:
            locations.setParent(self)
            layout.addWidget(locations)
        self.folder_label = QLabel(self)
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        layout.addWidget(self.folder_label)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)      # trained on: the room that is left
        header.setSectionResizeMode(2, QHeaderView.Interactive)  # licence: a short column, whole on hover
        self.table.setColumnWidth(2, 150)
        self.table.itemSelectionChanged.connect(self._on_selection)
        layout.addWidget(self.table, 3)
        self.card = QLabel(self)
        self.card.setWordWrap(True)
        self.card.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.card.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.card.setMinimumHeight(90)
        layout.addWidget(self.card, 1)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress_label = QLabel(self)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        layout.addLayout(progress_row)
        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download", self)
        self.cancel_button = QPushButton("Cancel download", self)
        self.import_button = QPushButton("Import file…", self)
        self.remove_button = QPushButton("Remove", self)
        self.verify_button = QPushButton("Verify", self)
        self.close_button = QPushButton("Close", self)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.import_button.clicked.connect(self.import_file)
        self.remove_button.clicked.connect(self.remove)
        self.verify_button.clicked.connect(self.verify)
        self.close_button.clicked.connect(self.close)
        for button in (self.download_button, self.cancel_button, self.import_button, self.remove_button,
                       self.verify_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.resize(920, 560)
        self.setMaximumHeight(700)
        self.refresh()
        if problem:
            self.say(problem, Qgis.Warning)
        self._show_progress(None)

    # ---------------------------------------------------------------- list
    def set_store(self, store, problem: str = "") -> None:
        """Another models folder or catalogue (the locations changed)."""
        self.store = store
        self.bar.clearWidgets()
        self.refresh()
        if problem:
            self.say(problem, Qgis.Warning)

    def refresh(self) -> None:
        selected = self.selected_name()
        self.infos = self.store.models()
        legend = f"{AVALANCHE_MARK.strip()}: trained on avalanches; an interrupted download resumes where it stopped"
        self.folder_label.setText(legend if self.locations is not None else
                                  f"Models folder: {self.store.folder}   ({legend})")
        self.table.setRowCount(len(self.infos))
        for row, info in enumerate(self.infos):
            for col, text in enumerate(row_texts(info)):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, info.name)
                item.setToolTip(text)
                if info.unpinned and col == 0:
                    item.setToolTip("Unpinned: no published id; accepted after the safe load and the "
                                    "architecture check.")
                self.table.setItem(row, col, item)
        names = [info.name for info in self.infos]
        self.table.selectRow(names.index(selected) if selected in names else 0)
        self._on_selection()

    def selected_name(self) -> str:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return ""
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.UserRole) if item is not None else ""

    def select(self, name: str) -> None:
        for row, info in enumerate(self.infos):
            if info.name == name:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0), QAbstractItemView.PositionAtCenter)

    def _info(self, name: str):
        return next((i for i in self.infos if i.name == name), None)

    def _on_selection(self) -> None:
        info = self._info(self.selected_name())
        self.card.setText(card_text(info) if info is not None else "")
        busy = self.task is not None
        downloadable = info is not None and not info.bundled and bool(info.entry.urls) and info.installed is None
        self.download_button.setEnabled(downloadable and not busy)
        if info is not None and info.partial_bytes and downloadable:
            self.download_button.setText("Resume download")
        else:
            self.download_button.setText("Download")
        self.remove_button.setEnabled(info is not None and not info.bundled and
                                      (info.installed is not None or info.partial_bytes > 0) and not busy)
        self.verify_button.setEnabled(info is not None and info.installed is not None and not busy)
        self.cancel_button.setEnabled(busy)
        self.import_button.setEnabled(not busy)

    # ---------------------------------------------------------------- messages
    def say(self, text: str, level=Qgis.Info) -> None:
        self.bar.clearWidgets()
        self.bar.pushMessage(text, level, 0 if level in (Qgis.Warning, Qgis.Critical) else 8)

    def messages(self) -> list[str]:
        return [item.text() for item in self.bar.items()]

    def _failed(self, exc: BaseException, what: str) -> None:
        if isinstance(exc, USER_ERRORS):
            self.say(str(exc), Qgis.Warning)
        else:
            import traceback
            QgsMessageLog.logMessage("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                                     LOG_TITLE, Qgis.Critical)
            self.say(f"{what} failed unexpectedly ({type(exc).__name__}); see the log.", Qgis.Critical)

    # ---------------------------------------------------------------- download
    def download(self) -> None:
        name = self.selected_name()
        if not name or self.task is not None:
            return
        kwargs = {} if self.fetch is None else {"fetch": self.fetch}
        self.task = ModelDownloadTask(self.store, name, **kwargs)
        self.task.progressed.connect(self._on_progress)
        self.task.done.connect(self._on_done)
        self.bar.clearWidgets()
        row = [i.name for i in self.infos].index(name)
        self.table.item(row, len(COLUMNS) - 1).setText("downloading…")
        self._show_progress(0, self._info(name).entry.size, 0.0)
        QgsApplication.taskManager().addTask(self.task)
        self._on_selection()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_progress(self, done, total, speed) -> None:
        self._show_progress(done, total, speed)

    def _show_progress(self, done, total=None, speed: float = 0.0) -> None:
        self.progress.setVisible(done is not None)
        self.progress_label.setVisible(done is not None)
        if done is None:
            return
        self.progress.setValue(int(100 * done / total) if total else 0)
        self.progress_label.setText(progress_text(done, total, speed))

    def _on_done(self, name: str, ok: bool) -> None:
        task, self.task = self.task, None
        if ok:
            self.say(f"Model {name} is installed: {task.path}.", Qgis.Success)
        elif task.bug:
            QgsMessageLog.logMessage(task.bug, LOG_TITLE, Qgis.Critical)
            self.say(task.error, Qgis.Critical)
        else:
            self.say(task.error, Qgis.Info if task.cancelled else Qgis.Warning)
        self._show_progress(None)
        self.refresh()
        if ok:
            self.modelsChanged.emit()

    def wait(self, timeout_ms: int = 30000) -> None:
        """Until the background download is answered (tests, scripts)."""
        from qgis.PyQt.QtCore import QElapsedTimer
        from qgis.PyQt.QtTest import QTest
        clock = QElapsedTimer()
        clock.start()
        while self.task is not None and clock.elapsed() < timeout_ms:
            QTest.qWait(20)

    # ---------------------------------------------------------------- import, remove, verify
    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", "", CHECKPOINT_FILTER)
        if not path:
            return
        try:
            info, kind = self.store.import_file(path)
        except Exception as exc:  # noqa: BLE001 - one sentence, or a bug to the log
            self._failed(exc, "The import")
            return
        self.refresh()
        self.select(info.name)
        self.say(f"{path} is installed as {info.name} ({kind}).", Qgis.Success)
        self.modelsChanged.emit()

    def remove(self) -> None:
        name = self.selected_name()
        if not name:
            return
        answer = QMessageBox.question(self, "Remove model", f"Delete model {name} from {self.store.folder}?")
        if answer != QMessageBox.Yes:
            return
        try:
            self.store.remove(name)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc, "Removing the model")
            return
        self.refresh()
        self.say(f"Model {name} was removed.", Qgis.Info)
        self.modelsChanged.emit()

    def verify(self) -> None:
        name = self.selected_name()
        try:
            result = self.store.verify(name)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc, "The verification")
            return
        self.say(result.message, Qgis.Success if result.ok else Qgis.Warning)
