"""Where the models live and which catalogue joins the shipped one, as two rows of the Models… dialog:
the models folder (default: avalanche_iseg/models in the QGIS profile) and an institution's catalogue
file (a path or an http(s) URL).  A widget only: `locationsChanged(folder, catalogue)` says what the user
set ('' = the default folder / no catalogue)."""
from __future__ import annotations

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QWidget


class ModelLocations(QWidget):
    locationsChanged = pyqtSignal(str, str)

    def __init__(self, folder: str, catalogue: str, default_folder: str, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.folder_edit = QLineEdit(folder, self)
        self.folder_edit.setPlaceholderText(default_folder)
        self.folder_edit.setToolTip("Where downloaded and imported models are kept (empty: the QGIS profile's "
                                    f"{default_folder})")
        self.catalogue_edit = QLineEdit(catalogue, self)
        self.catalogue_edit.setPlaceholderText("none: the shipped catalogue only (a JSON file path or https:// URL)")
        self.catalogue_edit.setToolTip("An institution's catalogue: its entries (an internal mirror, its own "
                                       "models) join the shipped ones; read through QGIS's network settings")
        form.addRow("Models folder", self._with_button(self.folder_edit, self._browse_folder))
        form.addRow("Institution catalogue", self._with_button(self.catalogue_edit, self._browse_catalogue))
        for edit in (self.folder_edit, self.catalogue_edit):
            edit.editingFinished.connect(self._changed)
        self._last = (folder, catalogue)

    def _with_button(self, edit, browse) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("…", self)
        button.setFocusPolicy(Qt.NoFocus)
        button.clicked.connect(browse)
        row.addWidget(button)
        return row

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self._changed()

    def _browse_catalogue(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Institution catalogue", "", "Catalogue (*.json);;All files (*)")
        if path:
            self.catalogue_edit.setText(path)
            self._changed()

    def values(self) -> tuple[str, str]:
        return self.folder_edit.text().strip(), self.catalogue_edit.text().strip()

    def _changed(self) -> None:
        values = self.values()
        if values != self._last:
            self._last = values
            self.locationsChanged.emit(*values)
