"""The dock's "Attributes of the next avalanche": the avalanche record that each finished avalanche gets,
terrain from a DEM, and the feature form on finish.

``NextAttributesBox`` is the dock section (a collapsible group): type, size, moisture, trigger, release
date ± days, outline certainty, observer, comment and source, a DEM layer and "open the form after
Finish".  Its values stay as they are from one avalanche to the next (one image often shows one cycle)
and are kept in QgsSettings.  ``NextAttributes.wrap(write, layer_for)`` wraps the controller's writer: a new
avalanche gets the record and, with a DEM, its terrain (engine.terrain_attributes); a corrected one keeps
its record and gets its terrain again; then, if asked, the feature form opens on the new feature.
"""
from __future__ import annotations

from dataclasses import replace

from qgis.core import Qgis, QgsMapLayerProxyModel, QgsRasterLayer, QgsSettings
from qgis.gui import QgsAttributeDialog, QgsAttributeEditorContext, QgsCollapsibleGroupBox, QgsDateEdit, \
    QgsMapLayerComboBox
from qgis.PyQt.QtCore import QDate, Qt
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox

from ..engine.errors import USER_ERRORS
from ..engine.avalanche_schema import INVENTORY_NAMES, TERRAIN_NAMES
from ..engine.inventory_form import ALIASES, CHOICES, NOT_ASSESSED, SIZE_LABELS, source_type_for

SETTINGS_PREFIX = "avalanche_iseg/next_avalanche/"
EMPTY = "(empty)"


class NextAttributesBox(QgsCollapsibleGroupBox):
    def __init__(self, parent=None):
        super().__init__("Attributes of the next avalanche", parent)
        self.setObjectName("AvalancheIsegNextAttributes")
        form = QFormLayout(self)
        self.combos: dict[str, QComboBox] = {}
        for name in ("aval_type", "size", "moisture", "trigger"):
            form.addRow(ALIASES[name], self._combo(name))
        date_row = QHBoxLayout()
        self.date_edit = QgsDateEdit(self)
        self.date_edit.setAllowNull(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setToolTip("Release date of the avalanche; empty when unknown")
        self.date_edit.clear()
        date_row.addWidget(self.date_edit, 1)
        self.uncertainty_spin = QSpinBox(self)
        self.uncertainty_spin.setRange(0, 365)
        self.uncertainty_spin.setPrefix("± ")
        self.uncertainty_spin.setSuffix(" d")
        self.uncertainty_spin.setToolTip(ALIASES["date_uncert_d"])
        date_row.addWidget(self.uncertainty_spin)
        form.addRow(ALIASES["release_date"], date_row)
        form.addRow(ALIASES["outline_certainty"], self._combo("outline_certainty"))
        self.observer_edit = QLineEdit(self)
        form.addRow(ALIASES["observer"], self.observer_edit)
        self.comment_edit = QLineEdit(self)
        form.addRow(ALIASES["comment"], self.comment_edit)
        form.addRow(ALIASES["source_type"], self._combo("source_type"))
        self.dem_combo = QgsMapLayerComboBox(self)
        self.dem_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.dem_combo.setAllowEmptyLayer(True)
        self.dem_combo.setLayer(None)
        self.dem_combo.setToolTip("Elevation model (any CRS) for lowest/highest point, slope, aspect and surface "
                                  "area; empty: no terrain attributes")
        form.addRow("DEM", self.dem_combo)
        self.open_form_check = QCheckBox("Open the attribute form after Finish", self)
        form.addRow(self.open_form_check)
        self.add_fields_button = QPushButton("Add these fields to the target layer", self)
        self.add_fields_button.setToolTip("For an existing inventory layer: adds the avalanche record and terrain "
                                          "fields it lacks, with their form (fields it has are kept as they are)")
        self.add_fields_button.setFocusPolicy(Qt.NoFocus)
        form.addRow(self.add_fields_button)
        self.restore()
        for widget in list(self.combos.values()):
            widget.currentIndexChanged.connect(self.store)
        for signal in (self.date_edit.dateValueChanged, self.uncertainty_spin.valueChanged,
                       self.observer_edit.editingFinished, self.comment_edit.editingFinished,
                       self.open_form_check.toggled):
            signal.connect(self.store)

    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox(self)
        if name == "size":
            combo.addItem(NOT_ASSESSED, None)
            for size, label in SIZE_LABELS.items():
                combo.addItem(label, size)
        else:
            combo.addItem(EMPTY, None)
            for value in CHOICES[name]:
                combo.addItem(value, value)
        combo.setFocusPolicy(Qt.ClickFocus)
        self.combos[name] = combo
        return combo

    # ---------------------------------------------------------------- values
    def values(self) -> dict:
        """The avalanche record the next avalanche gets (field -> value; None = empty)."""
        out = {name: combo.currentData() for name, combo in self.combos.items()}
        out["release_date"] = None if self.date_edit.isNull() else self.date_edit.date()
        out["date_uncert_d"] = self.uncertainty_spin.value() if out["release_date"] is not None else None
        out["observer"] = self.observer_edit.text().strip() or None
        out["comment"] = self.comment_edit.text().strip() or None
        return {name: out[name] for name in INVENTORY_NAMES}

    def set_values(self, values: dict) -> None:
        for name, combo in self.combos.items():
            if name in values:
                combo.setCurrentIndex(max(0, combo.findData(values[name])))
        if "release_date" in values:
            date = values["release_date"]
            if date is None:
                self.date_edit.clear()
            else:
                self.date_edit.setDate(date if isinstance(date, QDate) else QDate.fromString(str(date), Qt.ISODate))
        if values.get("date_uncert_d") is not None:
            self.uncertainty_spin.setValue(int(values["date_uncert_d"]))
        for name, edit in (("observer", self.observer_edit), ("comment", self.comment_edit)):
            if name in values:
                edit.setText(values[name] or "")

    def dem_layer(self) -> QgsRasterLayer | None:
        layer = self.dem_combo.currentLayer()
        return layer if isinstance(layer, QgsRasterLayer) and layer.isValid() else None

    # ---------------------------------------------------------------- QgsSettings
    def store(self, *_args) -> None:
        settings = QgsSettings()
        for name, value in self.values().items():
            settings.setValue(SETTINGS_PREFIX + name, "" if value is None else
                              value.toString(Qt.ISODate) if isinstance(value, QDate) else value)
        settings.setValue(SETTINGS_PREFIX + "open_form", self.open_form_check.isChecked())

    def restore(self) -> None:
        settings = QgsSettings()
        values = {}
        for name in INVENTORY_NAMES:
            raw = settings.value(SETTINGS_PREFIX + name, None)
            if raw is None:
                continue
            try:
                values[name] = None if raw == "" else int(raw) if name in ("size", "date_uncert_d") else str(raw)
            except (TypeError, ValueError):   # a hand-edited setting: left at its default
                continue
        values.setdefault("source_type", "orthoimage")
        self.set_values(values)
        self.open_form_check.setChecked(settings.value(SETTINGS_PREFIX + "open_form", False, type=bool))


class NextAttributes:
    """Adds the box to the dock and completes each avalanche the controller writes."""

    def __init__(self, iface, dock, say):
        self.iface, self.say = iface, say
        self.box = NextAttributesBox(dock.body)
        layout = dock.body.layout()
        layout.insertWidget(layout.indexOf(dock.layer_combo.parentWidget()) + 1, self.box)
        self.form = None          # the attribute dialog opened after the last Finish
        self.dock = dock
        self.box.add_fields_button.clicked.connect(self.add_fields)

    def add_fields(self) -> list[str]:
        """The button: the record's fields (and their form) for the target layer chosen in the dock."""
        from ..layers.attribute_form import apply_form
        from ..layers.avalanche_fields import add_avalanche_fields

        layer = self.dock.target_layer()
        if layer is None:
            self.say("Choose the target layer in the dock first.")
            return []
        try:
            added = add_avalanche_fields(layer)
        except USER_ERRORS as exc:
            self.say(str(exc))
            return []
        apply_form(layer)
        self.say(f"Added {len(added)} field(s) to '{layer.name()}': {', '.join(added)}." if added else
                 f"'{layer.name()}' has every avalanche field already.", Qgis.Success if added else Qgis.Info, 5)
        return added

    def wrap(self, write, layer_for):
        """``write(UnsavedObject)`` completing each object first (see the module); ``layer_for(layer_id)``:
        the layer an object goes to (a correction's own layer, else the target; None when it is gone)."""
        def complete_and_write(item):
            attributes = dict(item.result.attributes)
            if item.correction_fid is None:
                attributes.update(self.box.values())
                attributes["source_type"] = source_type_for(attributes.get("source_type"), attributes,
                                                            item.result.raster_crs_wkt)
            attributes.update(self.terrain(item.result))
            item = replace(item, result=replace(item.result, attributes=attributes))
            layer = layer_for(item.layer_id)
            if layer is None:
                write(item)  # says which layer is gone
                return
            added = []

            def on_added(_layer_id, features):
                added.extend(f.id() for f in features)

            layer.committedFeaturesAdded.connect(on_added)
            try:
                write(item)
            finally:
                layer.committedFeaturesAdded.disconnect(on_added)
            if self.box.open_form_check.isChecked():
                fid = item.correction_fid if item.correction_fid is not None else (added[-1] if added else None)
                if fid is not None:
                    self.open_form(layer, fid)
        return complete_and_write

    def terrain(self, result) -> dict:
        """The terrain fields of ``result`` from the chosen DEM (all None without one, or with a message)."""
        from ..engine.terrain_attributes import terrain_attributes

        dem = self.box.dem_layer()
        if dem is None:
            return dict.fromkeys(TERRAIN_NAMES)
        try:
            terrain = terrain_attributes(dem.source(), result.polygons_wkt, result.raster_crs_wkt, dem.name(),
                                         dem.crs().toWkt())
        except Exception as exc:  # noqa: BLE001 - terrain never stops an avalanche from being saved
            self.say(f"The terrain attributes could not be computed ({exc}); the avalanche is saved without them.")
            return dict.fromkeys(TERRAIN_NAMES)
        if terrain.problem:
            self.say(terrain.problem, Qgis.Warning)
        return terrain.values

    def open_form(self, layer, fid: int) -> None:
        """The layer's attribute form for feature ``fid``; OK saves the changes at once, Cancel drops them."""
        feature = layer.getFeature(int(fid))
        if not feature.isValid():
            return
        started = not layer.isEditable() and layer.startEditing()
        dialog = QgsAttributeDialog(layer, feature, False, self.iface.mainWindow(), True)
        dialog.setMode(QgsAttributeEditorContext.SingleEditMode)
        dialog.setAttribute(Qt.WA_DeleteOnClose)

        def done(accepted: bool) -> None:
            if started and layer.isEditable():
                if accepted and not layer.commitChanges():
                    self.say(f"The form's changes could not be saved to '{layer.name()}': "
                             f"{' '.join(layer.commitErrors())}")
                elif not accepted:
                    layer.rollBack()
            layer.triggerRepaint()

        dialog.accepted.connect(lambda: done(True))
        dialog.rejected.connect(lambda: done(False))
        self.form = dialog
        dialog.show()
