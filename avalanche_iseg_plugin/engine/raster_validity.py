"""Whether a raster can be right, and where it holds data: checks made before anything is predicted.

* ``check_georeference(source)``: a raster whose extent is impossible in its own CRS is refused at open —
  a geographic CRS (degrees) with coordinates beyond ±360° / ±90° (a projected raster labelled EPSG:4326),
  or an extent that overflows to infinity.  Its polygons would be written with impossible coordinates
  and no area.
* ``has_valid_pixels(source, row0, col0, height, width)`` and ``valid_at(source, x, y)``: whether pixels
  hold data.  A pixel is valid when GDAL's mask band of each RGB band says so (nodata value, alpha band,
  internal or .msk masks) and, for floating-point bands, its value is finite (NaN without a nodata value
  is not data either).  An avalanche is never segmented from no data.
"""
from __future__ import annotations

import math

import numpy as np
from osgeo import osr

from .errors import RasterError

#: degrees of slack beyond ±360 (longitude) / ±90 (latitude) before a geographic extent is impossible
DEGREE_SLACK = 1e-6
#: largest number of pixels read to decide whether a window holds data (larger ones are decimated)
MAX_CHECK_PIXELS = 4_000_000


def _crs_label(srs: osr.SpatialReference) -> str:
    code = srs.GetAuthorityCode(None)
    name = srs.GetAuthorityName(None)
    return f"{name}:{code}" if name and code else (srs.GetName() or "a geographic CRS")


def check_georeference(source) -> None:
    """RasterError (one sentence) when the raster's extent is impossible in its CRS (see the module doc)."""
    xmin, ymin, xmax, ymax = source.grid.extent
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise RasterError(f"The raster '{source.name}' has an extent that is not finite (its pixel size or origin "
                          "is absurd); fix its georeference first.")
    if not source.crs_wkt:
        return
    srs = osr.SpatialReference()
    if srs.ImportFromWkt(source.crs_wkt) != 0 or not srs.IsGeographic():
        return
    # GeoTIFF and GDAL geotransforms put longitude on x, latitude on y (traditional GIS order)
    slack_x = DEGREE_SLACK + source.grid.pixel_size[0] / 2
    slack_y = DEGREE_SLACK + source.grid.pixel_size[1] / 2
    if xmin < -360 - slack_x or xmax > 360 + slack_x or ymin < -90 - slack_y or ymax > 90 + slack_y:
        raise RasterError(f"The raster '{source.name}' declares the geographic CRS {_crs_label(srs)} (degrees), but "
                          f"its extent (x {xmin:.6g} to {xmax:.6g}, y {ymin:.6g} to {ymax:.6g}) is impossible in "
                          "degrees: its CRS is wrong; assign the right one first (Raster > Projections > "
                          "Assign Projection).")


def _valid_block(ds, plan, row0: int, col0: int, height: int, width: int) -> np.ndarray:
    """Bool array (possibly decimated) of the block: True where every RGB band holds data."""
    scale = max(1.0, math.sqrt(height * width / MAX_CHECK_PIXELS))
    out_h, out_w = max(1, round(height / scale)), max(1, round(width / scale))
    valid = np.ones((out_h, out_w), bool)
    for band_no in sorted(set(plan.rgb_bands)):
        band = ds.GetRasterBand(band_no)
        mask = band.GetMaskBand().ReadAsArray(col0, row0, width, height, buf_xsize=out_w, buf_ysize=out_h)
        if mask is None:
            raise OSError("GDAL could not read the band's mask")
        valid &= mask > 0
        values = band.ReadAsArray(col0, row0, width, height, buf_xsize=out_w, buf_ysize=out_h)
        if values is None:
            raise OSError("GDAL could not read the band")
        if values.dtype.kind in "fc":
            valid &= np.isfinite(values)
    if plan.alpha_band is not None:
        alpha = ds.GetRasterBand(plan.alpha_band).ReadAsArray(col0, row0, width, height,
                                                             buf_xsize=out_w, buf_ysize=out_h)
        if alpha is not None:
            valid &= alpha > 0
    return valid


def has_valid_pixels(source, row0: int, col0: int, height: int, width: int) -> bool:
    """True when the block of native pixels (on the raster) holds at least one valid pixel."""
    ds = source._dataset()
    try:
        return bool(_valid_block(ds, source._plan, row0, col0, height, width).any())
    except (OSError, RuntimeError) as exc:
        raise RasterError(f"GDAL failed to read a window of '{source.name}' ({exc}).") from None
    finally:
        ds = None


def valid_at(source, x: float, y: float) -> bool:
    """True when the native pixel under the raster-CRS point (on the raster) holds data."""
    row, col = source.grid.pixel_of(x, y)
    return has_valid_pixels(source, int(math.floor(row)), int(math.floor(col)), 1, 1)
