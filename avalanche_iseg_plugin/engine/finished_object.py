"""What finishing one avalanche gives: its polygons in the raster CRS and the facts its attributes need."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .raster_window import RasterWindow
from .vectorize import as_multipolygon_wkt


@dataclass
class FinishedObject:
    """The result of ``DigitisingSession.finish``; polygons are in the raster CRS."""

    polygons_wkt: list[str]
    n_pos: int
    n_neg: int
    source_name: str
    raster_crs_wkt: str
    model: str
    threshold: float | None
    is_correction: bool
    window: RasterWindow = field(repr=False)

    @property
    def multipolygon_wkt(self) -> str:
        return as_multipolygon_wkt(self.polygons_wkt)


def model_name(predictor) -> str:
    """A short name for the attribute table: the checkpoint's file name, else the architecture."""
    model = getattr(predictor, "model", None)
    path = getattr(model, "checkpoint_path", None)
    if path:
        return os.path.splitext(os.path.basename(str(path)))[0]
    return str(getattr(model, "arch_name", "") or type(predictor).__name__)
