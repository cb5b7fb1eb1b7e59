"""Scaling raster bands to 8-bit RGB for the predictor: core_model.raster_rgb, the path training shares
(see its module doc for the rule: Byte bands as they are, a per-raster 2-98 % cut for other types, nodata
and alpha 0 -> black, 1 band -> grey).

The sampling constants live here too so that they can be changed for this plugin's reads (tests do);
``compute_cuts`` passes them to the shared code.
"""

from __future__ import annotations

from core_model.raster_rgb import (HIGH_PERCENT, LOW_PERCENT, MAX_DECIMATED_PIXELS, SAMPLE_GRID,  # noqa: F401
                                   SAMPLE_SIDE, SAMPLE_WINDOW, BandPlan, CutSampling, band_plan, read_rgb,
                                   to_uint8)
from core_model.raster_rgb import compute_cuts as _shared_compute_cuts


def compute_cuts(ds, plan: BandPlan) -> tuple[tuple[float, float], ...] | None:
    """Per-band (low, high) cumulative 2-98 % cut values, or None for Byte data (used as is)."""
    sampling = CutSampling(SAMPLE_SIDE, MAX_DECIMATED_PIXELS, SAMPLE_GRID, SAMPLE_WINDOW)
    return _shared_compute_cuts(ds, plan, sampling)
