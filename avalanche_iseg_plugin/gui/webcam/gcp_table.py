"""The table of ground control points: photo col/row, ground x/y/z, and the fit's residuals.

Read-only cells; rows are selected to delete them.  ``set_fit`` fills the residual (photo pixels) and
the leave-one-out ground error (metres) of each GCP after a fit; ``clear_fit`` empties them when the
points change, so a residual shown always belongs to the points shown.
"""
from __future__ import annotations

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("col", "row", "x", "y", "z", "residual px", "LOO m")
HEADER_TIPS = ("photo column (px, from the left edge)", "photo row (px, from the top edge)",
               "ground x in the DEM's CRS", "ground y in the DEM's CRS", "ground height from the DEM",
               "reprojection residual of the fitted camera (photo pixels)",
               "leave-one-out ground error: the camera fitted without this GCP misses it on the ground by "
               "this many metres")
COL_RESIDUAL = 5
COL_LOO = 6
BAD_RESIDUAL_PX = 5.0   # residuals above this are drawn in red: probably a wrong pair


class GcpTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(HEADER_TIPS):
            self.horizontalHeaderItem(i).setToolTip(tip)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.setToolTip("Ground control points: photo pixel (col, row) and ground point (x, y, z in the DEM's "
                        "CRS). After Fit: reprojection residual in photo pixels and the leave-one-out ground "
                        "error in metres (the point left out of the fit, intersected with the DEM).")

    def set_gcps(self, gcps) -> None:
        self.setRowCount(len(gcps))
        for i, g in enumerate(gcps):
            values = (f"{g.col:.1f}", f"{g.row:.1f}", f"{g.x:.1f}", f"{g.y:.1f}", f"{g.z:.1f}", "", "")
            for j, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
                self.setItem(i, j, item)
            self.setVerticalHeaderItem(i, QTableWidgetItem(str(i + 1)))

    def set_fit(self, residuals_px, loo_m=None) -> None:
        """Per-GCP residuals (px) and leave-one-out errors (m; None/NaN where not computed)."""
        for i in range(self.rowCount()):
            residual = residuals_px[i] if i < len(residuals_px) else None
            loo = loo_m[i] if loo_m is not None and i < len(loo_m) else None
            self._set_number(i, COL_RESIDUAL, residual, 2)
            self._set_number(i, COL_LOO, loo, 1)
            bad = residual is not None and residual > BAD_RESIDUAL_PX
            self.item(i, COL_RESIDUAL).setForeground(QColor(200, 0, 0) if bad else QColor(0, 0, 0))

    def clear_fit(self) -> None:
        for i in range(self.rowCount()):
            for j in (COL_RESIDUAL, COL_LOO):
                self.item(i, j).setText("")

    def _set_number(self, row: int, col: int, value, decimals: int) -> None:
        text = "" if value is None or value != value else f"{float(value):.{decimals}f}"
        self.item(row, col).setText(text)

    def selected_indices(self) -> list[int]:
        return sorted({index.row() for index in self.selectionModel().selectedRows()})

    def cell_text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return item.text() if item is not None else ""
