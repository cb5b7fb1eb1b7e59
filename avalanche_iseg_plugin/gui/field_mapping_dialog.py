"""The confirmation asked before finished avalanches go into a layer that lacks avalanche fields.

It names the fields that will stay empty and lets the user write each of them into a field the layer
already has (once per layer; the target layer keeps the answer with the layer). The rules are in
engine/target_rules.py.
"""
from __future__ import annotations

from qgis.PyQt.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout)

from ..engine.target_rules import FieldMapping, confirmation_text, missing_fields

EMPTY = "(stays empty)"
DIALOG_OBJECT_NAME = "AvalancheIsegFieldMapping"


class FieldMappingDialog(QDialog):
    def __init__(self, layer_name: str, layer_fields: list, candidates: dict, mapping: FieldMapping, parent=None):
        """``candidates``: avalanche field -> layer fields it may go to; ``mapping``: the layer's current one."""
        super().__init__(parent)
        self.setObjectName(DIALOG_OBJECT_NAME)
        self.setWindowTitle(f"Use '{layer_name}' for avalanches?")
        self.layer_name, self.layer_fields = layer_name, list(layer_fields)
        layout = QVBoxLayout(self)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setObjectName("confirmationText")
        layout.addWidget(self.text)
        form = QFormLayout()
        self.combos: dict[str, QComboBox] = {}
        for name in missing_fields(layer_fields):
            combo = QComboBox(self)
            combo.setObjectName(f"map_{name}")
            combo.addItem(EMPTY, "")
            for target in candidates.get(name, []):
                combo.addItem(target, target)
            combo.setCurrentIndex(max(0, combo.findData(mapping.renamed.get(name, ""))))
            combo.currentIndexChanged.connect(self._update_text)
            self.combos[name] = combo
            form.addRow(name, combo)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(self)
        self.use_button = self.buttons.addButton("Use this layer", QDialogButtonBox.AcceptRole)
        self.use_button.setObjectName("useLayer")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.Cancel)
        self.use_button.setAutoDefault(False)     # Enter must not write into someone's inventory
        self.use_button.setDefault(False)
        self.cancel_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update_text()

    def mapping(self) -> FieldMapping:
        renamed = {name: combo.currentData() for name, combo in self.combos.items() if combo.currentData()}
        return FieldMapping(renamed, confirmed=True)

    def _update_text(self, *_args) -> None:
        self.text.setText(confirmation_text(self.layer_name, missing_fields(self.layer_fields, self.mapping())))


def ask_field_mapping(parent, layer_name, layer_fields, candidates, mapping) -> FieldMapping | None:
    """The user's answer: the confirmed mapping, or None when they cancelled."""
    dialog = FieldMappingDialog(layer_name, layer_fields, candidates, mapping, parent)
    try:
        return dialog.mapping() if dialog.exec_() == QDialog.Accepted else None
    finally:
        dialog.deleteLater()
