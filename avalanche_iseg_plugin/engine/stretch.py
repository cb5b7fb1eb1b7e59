"""Scaling raster bands to 8-bit RGB for the predictor.

The rule follows QGIS's default rendering of a multiband raster:

* 8-bit (Byte) bands are used as they are.
* Any other data type (16-bit, 32-bit, float) gets a per-band *cumulative count cut 2-98 %*:
  the 2nd and 98th percentiles of the band's valid values map to 0 and 255, values outside are
  clipped.  The percentiles are computed once per raster from a sample, as QGIS also estimates them
  (not from every pixel): a decimated read of the whole band (longest side at most ``SAMPLE_SIDE``
  pixels, nearest neighbour; GDAL serves it from overviews) when the raster has overviews or at most
  ``MAX_DECIMATED_PIXELS`` pixels; otherwise ``SAMPLE_GRID``² windows of ``SAMPLE_WINDOW``² native
  pixels spread evenly over the raster, so a large raster without overviews is never read whole.
* Nodata values, non-finite values and pixels whose alpha band is 0 become 0 (black).
* 1 band -> grey RGB (a Byte band with a colour table is expanded through its palette);
  2 bands -> the first one as grey; 3 or more bands -> bands 1, 2, 3 as R, G, B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from osgeo import gdal

SAMPLE_SIDE = 1024
MAX_DECIMATED_PIXELS = 16_000_000
SAMPLE_GRID = 16
SAMPLE_WINDOW = 64
LOW_PERCENT = 2.0
HIGH_PERCENT = 98.0


@dataclass(frozen=True)
class BandPlan:
    """How the dataset's bands become R, G, B."""

    rgb_bands: tuple[int, int, int]  # 1-based GDAL band numbers for R, G, B
    alpha_band: int | None  # 1-based, or None
    palette: np.ndarray | None  # 256×3 uint8 lookup for a paletted Byte band, else None
    is_byte: bool
    nodata: tuple[float | None, ...]  # per band in rgb_bands


def band_plan(ds: gdal.Dataset) -> BandPlan:
    """Which bands to read for R, G, B (see the module doc)."""
    count = ds.RasterCount
    if count >= 3:
        rgb = (1, 2, 3)
    else:
        rgb = (1, 1, 1)
    alpha = None
    for b in range(1, count + 1):
        if b not in rgb and ds.GetRasterBand(b).GetColorInterpretation() == gdal.GCI_AlphaBand:
            alpha = b
            break
    first = ds.GetRasterBand(1)
    is_byte = all(ds.GetRasterBand(b).DataType == gdal.GDT_Byte for b in set(rgb))
    palette = None
    if count < 3 and is_byte and first.GetColorTable() is not None:
        table = first.GetColorTable()
        palette = np.zeros((256, 3), np.uint8)
        for i in range(min(256, table.GetCount())):
            palette[i] = table.GetColorEntry(i)[:3]
    nodata = tuple(ds.GetRasterBand(b).GetNoDataValue() for b in rgb)
    return BandPlan(rgb, alpha, palette, is_byte, nodata)


def _valid(values: np.ndarray, nodata: float | None) -> np.ndarray:
    valid = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    if nodata is not None:
        if np.isnan(nodata):
            valid &= ~np.isnan(values)
        else:
            valid &= values != nodata
    return valid


def _sample(ds: gdal.Dataset, band_no: int) -> np.ndarray:
    """Sample values of one band (see the module doc for how they are taken); 1-D array."""
    band = ds.GetRasterBand(band_no)
    width, height = ds.RasterXSize, ds.RasterYSize
    if width * height <= MAX_DECIMATED_PIXELS or band.GetOverviewCount() > 0:
        scale = max(1.0, max(width, height) / SAMPLE_SIDE)
        bw, bh = max(1, round(width / scale)), max(1, round(height / scale))
        values = band.ReadAsArray(0, 0, width, height, buf_xsize=bw, buf_ysize=bh)
        if values is None:
            raise OSError(gdal.GetLastErrorMsg() or "GDAL could not read the band")
        return values.ravel()
    size_x, size_y = min(SAMPLE_WINDOW, width), min(SAMPLE_WINDOW, height)
    parts = []
    for i in range(SAMPLE_GRID):
        row = min(max(0, int((i + 0.5) * height / SAMPLE_GRID) - size_y // 2), height - size_y)
        for j in range(SAMPLE_GRID):
            col = min(max(0, int((j + 0.5) * width / SAMPLE_GRID) - size_x // 2), width - size_x)
            values = band.ReadAsArray(col, row, size_x, size_y)
            if values is None:
                raise OSError(gdal.GetLastErrorMsg() or "GDAL could not read the band")
            parts.append(values.ravel())
    return np.concatenate(parts)


def compute_cuts(ds: gdal.Dataset, plan: BandPlan) -> tuple[tuple[float, float], ...] | None:
    """Per-band (low, high) cumulative 2-98 % cut values, or None for Byte data (used as is)."""
    if plan.is_byte:
        return None
    alpha = _sample(ds, plan.alpha_band) if plan.alpha_band is not None else None
    cuts = []
    done: dict[int, tuple[float, float]] = {}
    for band_no, nodata in zip(plan.rgb_bands, plan.nodata):
        if band_no not in done:
            values = _sample(ds, band_no).astype(np.float64)
            valid = _valid(values, nodata)
            if alpha is not None:
                valid &= alpha > 0
            if valid.any():
                low, high = np.percentile(values[valid], [LOW_PERCENT, HIGH_PERCENT])
            else:
                low, high = 0.0, 1.0
            if not high > low:
                high = low + 1.0
            done[band_no] = (float(low), float(high))
        cuts.append(done[band_no])
    return tuple(cuts)


def to_uint8(bands: list[np.ndarray], plan: BandPlan, cuts, alpha: np.ndarray | None = None) -> np.ndarray:
    """Stack the three read bands (each H×W, raw values) into H×W×3 uint8 RGB."""
    height, width = bands[0].shape
    rgb = np.zeros((height, width, 3), np.uint8)
    if plan.palette is not None:
        raw = bands[0]
        valid = _valid(raw, plan.nodata[0])
        rgb[:] = plan.palette[raw.astype(np.intp).clip(0, 255)]
        rgb[~valid] = 0
    else:
        for i, (raw, nodata) in enumerate(zip(bands, plan.nodata)):
            valid = _valid(raw, nodata)
            if cuts is None:
                channel = raw.astype(np.uint8)
            else:
                low, high = cuts[i]
                scaled = (raw.astype(np.float64) - low) * (255.0 / (high - low))
                scaled = np.where(valid, scaled, 0.0)
                channel = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
            channel[~valid] = 0
            rgb[..., i] = channel
    if alpha is not None:
        rgb[alpha == 0] = 0
    return rgb
