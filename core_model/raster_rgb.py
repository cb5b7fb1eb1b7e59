"""Raster bands → the model's 8-bit RGB: the one path shared by the QGIS plugin (engine/raster_window.py,
engine/stretch.py) and training on GIS data (training/gis_samples.py), so that a model fine-tuned on an
orthoimage sees at training the pixels the plugin gives it.

Needs GDAL's Python bindings (``osgeo``), imported inside the functions that read: importing this module
needs numpy only (core_model stays usable without GDAL, and free of Qt/QGIS).

The rule follows QGIS's default rendering of a multiband raster:

* 8-bit (Byte) bands are used as they are.
* Any other data type (16-bit, 32-bit, float) gets a per-band *cumulative count cut 2-98 %* computed once
  per raster (not per window): the 2nd and 98th percentiles of the band's valid values map to 0 and 255,
  values outside are clipped.  The percentiles come from a sample, as QGIS also estimates them: a
  decimated read of the whole band (longest side at most ``SAMPLE_SIDE`` pixels, nearest neighbour; GDAL
  serves it from overviews) when the raster has overviews or at most ``MAX_DECIMATED_PIXELS`` pixels;
  otherwise ``SAMPLE_GRID``² windows of ``SAMPLE_WINDOW``² native pixels spread evenly over the raster,
  so a large raster without overviews is never read whole.
* Nodata values, non-finite values and pixels whose alpha band is 0 become 0 (black).
* 1 band -> grey RGB (a Byte band with a colour table is expanded through its palette);
  2 bands -> the first one as grey; 3 or more bands -> bands 1, 2, 3 as R, G, B.
* A window of native pixels is read at its own resolution, or — when its longest side exceeds the
  model image's ``max_side`` — downsampled by GDAL's pixel averaging (nearest neighbour for a palette)
  to ``model_image_shape``; it is never upsampled.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_SIDE = 1024
MAX_DECIMATED_PIXELS = 16_000_000
SAMPLE_GRID = 16
SAMPLE_WINDOW = 64
LOW_PERCENT = 2.0
HIGH_PERCENT = 98.0


@dataclass(frozen=True)
class CutSampling:
    """How the pixels for the 2-98 % cut are sampled (see the module doc)."""
    side: int = SAMPLE_SIDE
    max_decimated_pixels: int = MAX_DECIMATED_PIXELS
    grid: int = SAMPLE_GRID
    window: int = SAMPLE_WINDOW


@dataclass(frozen=True)
class BandPlan:
    """How the dataset's bands become R, G, B."""

    rgb_bands: tuple[int, int, int]  # 1-based GDAL band numbers for R, G, B
    alpha_band: int | None  # 1-based, or None
    palette: np.ndarray | None  # 256×3 uint8 lookup for a paletted Byte band, else None
    is_byte: bool
    nodata: tuple[float | None, ...]  # per band in rgb_bands


def band_plan(ds) -> BandPlan:
    """Which bands of the GDAL dataset `ds` to read for R, G, B (see the module doc)."""
    from osgeo import gdal

    count = ds.RasterCount
    rgb = (1, 2, 3) if count >= 3 else (1, 1, 1)
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


def _read_or_fail(band, *args, **kwargs) -> np.ndarray:
    from osgeo import gdal

    values = band.ReadAsArray(*args, **kwargs)
    if values is None:
        raise OSError(gdal.GetLastErrorMsg().strip() or "GDAL could not read the band")
    return values


def _sample(ds, band_no: int, sampling: CutSampling) -> np.ndarray:
    """Sample values of one band (see the module doc for how they are taken); 1-D array."""
    band = ds.GetRasterBand(band_no)
    width, height = ds.RasterXSize, ds.RasterYSize
    if width * height <= sampling.max_decimated_pixels or band.GetOverviewCount() > 0:
        scale = max(1.0, max(width, height) / sampling.side)
        bw, bh = max(1, round(width / scale)), max(1, round(height / scale))
        return _read_or_fail(band, 0, 0, width, height, buf_xsize=bw, buf_ysize=bh).ravel()
    size_x, size_y = min(sampling.window, width), min(sampling.window, height)
    parts = []
    for i in range(sampling.grid):
        row = min(max(0, int((i + 0.5) * height / sampling.grid) - size_y // 2), height - size_y)
        for j in range(sampling.grid):
            col = min(max(0, int((j + 0.5) * width / sampling.grid) - size_x // 2), width - size_x)
            parts.append(_read_or_fail(band, col, row, size_x, size_y).ravel())
    return np.concatenate(parts)


def compute_cuts(ds, plan: BandPlan, sampling: CutSampling = CutSampling()) -> tuple[tuple[float, float], ...] | None:
    """Per-band (low, high) cumulative 2-98 % cut values of the whole raster, or None for Byte data (used
    as is).  OSError when GDAL cannot read the sample."""
    if plan.is_byte:
        return None
    alpha = _sample(ds, plan.alpha_band, sampling) if plan.alpha_band is not None else None
    cuts = []
    done: dict[int, tuple[float, float]] = {}
    for band_no, nodata in zip(plan.rgb_bands, plan.nodata):
        if band_no not in done:
            values = _sample(ds, band_no, sampling).astype(np.float64)
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


def model_image_shape(height: int, width: int, max_side: int) -> tuple[int, int]:
    """The model image of a window of height × width native pixels: the same size, or — when its longest
    side exceeds `max_side` — scaled down so that the longest side is `max_side` (each side rounded)."""
    scale = max(1.0, max(height, width) / max_side)
    return max(1, round(height / scale)), max(1, round(width / scale))


def read_rgb(ds, plan: BandPlan, cuts, row0: int, col0: int, height: int, width: int,
             out_height: int | None = None, out_width: int | None = None) -> np.ndarray:
    """The native block (row0, col0, height, width) of GDAL dataset `ds` — which must lie on the raster —
    as out_height × out_width × 3 uint8 RGB (default: the block's size): bands per `plan`, stretched by
    `cuts` (from compute_cuts, on the whole raster), downsampled by averaging when the output is smaller.
    OSError with GDAL's message when a band cannot be read."""
    from osgeo import gdal

    out_height = out_height or height
    out_width = out_width or width
    downsampled = (out_height, out_width) != (height, width)
    resample = gdal.GRIORA_Average if downsampled and plan.palette is None else gdal.GRIORA_NearestNeighbour

    def read(band_no: int, alg=resample) -> np.ndarray:
        return _read_or_fail(ds.GetRasterBand(band_no), col0, row0, width, height, buf_xsize=out_width,
                             buf_ysize=out_height, resample_alg=alg)

    cache: dict[int, np.ndarray] = {}
    bands = []
    for band_no in plan.rgb_bands:
        if band_no not in cache:
            cache[band_no] = read(band_no)
        bands.append(cache[band_no])
    alpha = read(plan.alpha_band, gdal.GRIORA_NearestNeighbour) if plan.alpha_band else None
    return to_uint8(bands, plan, cuts, alpha)
