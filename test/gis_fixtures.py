"""Synthetic GIS data and a deterministic stand-in predictor for the plugin's tests.

Everything is made in a temporary folder, no network and no ../shared data needed:

* ``make_lobe_geotiff(path, ...)`` — a GeoTIFF with a bright avalanche lobe (an ellipse with a dark
  rock "hole" in it) on darker, noisy terrain, in any CRS / pixel size / data type / band count,
  optionally with a nodata strip on the left or a rotated geotransform.
* ``make_photo_png(path)`` — the same scene as a PNG without georeference (a webcam photo).
* ``FakePredictor`` — has exactly the ``core_model.predictor.InteractivePredictor`` interface
  (set_image, set_initial_mask, add_click, undo, reset, probabilities, mask, clicks, image_shape,
  settings.threshold) and returns the bright region connected to the positive clicks (4-connected,
  grey >= ``level``), plus the initial mask, minus disks around negative clicks.

The dictionaries returned describe the truth in raster-CRS coordinates so tests can compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from osgeo import gdal, osr

PHOTO_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
ORIGIN_2056 = (2_600_000.0, 1_200_000.0)  # upper-left corner of the synthetic orthoimage (Swiss LV95)

# 8-bit levels of the scene (before conversion to the requested data type)
TERRAIN = (60, 100)
LOBE = (190, 230)
ROCK = (40, 75)


def lobe_masks(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(lobe, rock) boolean masks; the avalanche is ``lobe & ~rock`` (a polygon with one hole)."""
    rows, cols = np.mgrid[0:height, 0:width]
    cr, cc = height * 0.5, width * 0.5
    ar, ac = height * 0.3, width * 0.14
    lobe = ((rows + 0.5 - cr) / ar) ** 2 + ((cols + 0.5 - cc) / ac) ** 2 <= 1.0
    rr, rc, rad = height * 0.4, width * 0.5, min(height, width) * 0.035
    rock = (rows + 0.5 - rr) ** 2 + (cols + 0.5 - rc) ** 2 <= rad ** 2
    return lobe, rock


def scene_uint8(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(H×W×3 uint8 RGB scene, H×W bool avalanche mask)."""
    rng = np.random.default_rng(seed)
    lobe, rock = lobe_masks(height, width)
    avalanche = lobe & ~rock
    grey = rng.integers(TERRAIN[0], TERRAIN[1] + 1, (height, width))
    grey = np.where(avalanche, rng.integers(LOBE[0], LOBE[1] + 1, (height, width)), grey)
    grey = np.where(rock, rng.integers(ROCK[0], ROCK[1] + 1, (height, width)), grey)
    tint = np.array([0, 4, 10])  # slightly bluish snow/terrain, bands differ
    rgb = np.clip(grey[..., None] + np.where(avalanche[..., None], tint, -tint), 0, 255).astype(np.uint8)
    return rgb, avalanche


def _outline_wkt(mask: np.ndarray, geotransform) -> str:
    """Pixel-exact outline of ``mask`` (holes kept) as WKT in the raster CRS (rasterio + shapely)."""
    from affine import Affine
    from rasterio import features
    from shapely.geometry import shape
    from shapely.ops import unary_union

    transform = Affine.from_gdal(*geotransform)
    parts = [shape(geom) for geom, value in
             features.shapes(mask.astype(np.uint8), mask=mask, transform=transform, connectivity=4) if value == 1]
    return unary_union(parts).wkt


def _srs_wkt(crs: str | None) -> str:
    if not crs:
        return ""
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    return srs.ExportToWkt()


def _describe(path, mask, geotransform, crs_wkt, extra=None) -> dict:
    height, width = mask.shape
    rows, cols = np.nonzero(mask)

    def xy(row, col):
        return (geotransform[0] + col * geotransform[1], geotransform[3] + row * geotransform[5])

    # a lobe pixel centre away from the hole: centre row of the lobe's lower half
    cr, cc = int(height * 0.6), int(width * 0.5)
    assert mask[cr, cc]
    rr, rc = int(height * 0.4), int(width * 0.5)  # centre of the rock (hole)
    xa, ya = xy(rows.min(), cols.min())
    xb, yb = xy(rows.max() + 1, cols.max() + 1)
    info = {
        "path": str(path),
        "geotransform": tuple(geotransform),
        "crs_wkt": crs_wkt,
        "shape": (height, width),
        "mask": mask,
        "lobe_pixel": (cr, cc),
        "lobe_xy": xy(cr + 0.5, cc + 0.5),
        "hole_pixel": (rr, rc),
        "hole_xy": xy(rr + 0.5, rc + 0.5),
        "outside_pixel": (int(height * 0.5), int(width * 0.9)),
        "outside_xy": xy(int(height * 0.5) + 0.5, int(width * 0.9) + 0.5),
        "lobe_bounds": (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)),
        "area": float(mask.sum()) * abs(geotransform[1] * geotransform[5]),
        "outline_wkt": _outline_wkt(mask, geotransform),
    }
    info.update(extra or {})
    return info


def make_lobe_geotiff(path, crs: str | None = "EPSG:2056", pixel: float = 0.5, size=(600, 800),
                      dtype: str = "uint8", bands: int = 3, nodata=None, nodata_cols: int = 0,
                      origin=ORIGIN_2056, rotation: float = 0.0, seed: int = 0, tiled: bool = False) -> dict:
    """Write the synthetic lobe as a GeoTIFF; returns a dict with its truth in raster-CRS coordinates.

    ``size`` is (height, width).  ``dtype`` 'uint8' keeps the 8-bit levels; 'uint16' stores
    ``1000 + 40 * level``; 'float32' stores reflectance ``level / 255 * 0.8``.  With ``nodata`` set,
    the left ``nodata_cols`` columns (default 40) hold the nodata value.  ``bands`` 1 (grey),
    3 (RGB) or 4 (RGB + a noisy NIR band).  ``rotation`` != 0 writes a rotated geotransform.
    """
    height, width = size
    rgb, avalanche = scene_uint8(height, width, seed)
    if bands == 1:
        planes = [rgb.mean(axis=2)]
    else:
        planes = [rgb[..., i].astype(np.float64) for i in range(3)]
        if bands == 4:
            planes.append(np.random.default_rng(seed + 1).integers(0, 256, (height, width)).astype(np.float64))
    if dtype == "uint8":
        gdt, data = gdal.GDT_Byte, [np.rint(p).astype(np.uint8) for p in planes]
    elif dtype == "uint16":
        gdt, data = gdal.GDT_UInt16, [np.rint(1000 + 40 * p).astype(np.uint16) for p in planes]
    elif dtype == "float32":
        gdt, data = gdal.GDT_Float32, [(p / 255.0 * 0.8).astype(np.float32) for p in planes]
    else:
        raise ValueError(f"unsupported dtype {dtype}")
    if nodata is not None:
        nodata_cols = nodata_cols or 40
        for d in data:
            d[:, :nodata_cols] = nodata
        avalanche = avalanche.copy()
        avalanche[:, :nodata_cols] = False
    options = ["TILED=YES", "COMPRESS=DEFLATE"] if tiled else []
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, len(data), gdt, options)
    geotransform = (origin[0], pixel, rotation, origin[1], rotation, -pixel)
    ds.SetGeoTransform(geotransform)
    crs_wkt = _srs_wkt(crs)
    if crs_wkt:
        ds.SetProjection(crs_wkt)
    for i, d in enumerate(data, start=1):
        band = ds.GetRasterBand(i)
        band.WriteArray(d)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
    if len(data) == 4:  # a NIR band, not alpha (GeoTIFF would otherwise call it alpha)
        ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_Undefined)
    ds.FlushCache()
    ds = None
    extra = {"dtype": dtype, "bands": bands, "nodata": nodata, "nodata_cols": nodata_cols if nodata is not None else 0,
             "data": data}
    if rotation:
        return {"path": str(path), "geotransform": geotransform, "crs_wkt": crs_wkt, **extra}
    return _describe(path, avalanche, geotransform, crs_wkt, extra)


def make_photo_png(path, size=(480, 640), seed: int = 1) -> dict:
    """Write the scene as an RGB PNG with no georeference; truth in QGIS's pixel map units."""
    height, width = size
    rgb, avalanche = scene_uint8(height, width, seed)
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(rgb[..., i])
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    mem = None
    return _describe(path, avalanche, PHOTO_GEOTRANSFORM, "", {"rgb": rgb})


def xy_transformer(src: str, dst: str):
    """(x, y) -> (x, y) from ``src`` to ``dst`` ('EPSG:xxxx') with GDAL/OSR, x = easting/longitude;
    an independent check of the plugin's QgsCoordinateTransform results."""
    a, b = osr.SpatialReference(), osr.SpatialReference()
    a.SetFromUserInput(src)
    b.SetFromUserInput(dst)
    for srs in (a, b):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(a, b)

    def apply(x, y, z=None):
        if np.ndim(x) == 0:
            return transform.TransformPoint(float(x), float(y))[:2]
        pts = transform.TransformPoints(list(zip(np.asarray(x, float), np.asarray(y, float))))
        return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])

    return apply


@dataclass(frozen=True)
class FakeClick:
    row: int
    col: int
    is_positive: bool


class FakePredictor:
    """Deterministic stand-in for ``core_model.predictor.InteractivePredictor`` (see module doc)."""

    def __init__(self, level: int = 128, negative_radius: int = 10, threshold: float = 0.49):
        self.level = level
        self.negative_radius = negative_radius
        self.settings = SimpleNamespace(threshold=threshold)
        self.model = SimpleNamespace(arch_name="fake")
        self._image = None
        self._bright_labels = None
        self._initial = None
        self._clicks: list[FakeClick] = []
        self._probs = None
        self.n_set_image = 0  # how often an image was set (tests check window re-reads)
        self.images: list[np.ndarray] = []

    # -- interface ------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"set_image needs an H×W×3 uint8 RGB array, got {image.shape} {image.dtype}.")
        import cv2

        self._image = image
        bright = (image.astype(np.float32).mean(axis=2) >= self.level).astype(np.uint8)
        _, self._bright_labels = cv2.connectedComponents(bright, connectivity=4)
        self._initial = None
        self._clicks = []
        self._probs = None
        self.n_set_image += 1
        self.images.append(image)

    def set_initial_mask(self, mask: np.ndarray) -> None:
        self._need_image()
        mask = np.asarray(mask).astype(bool)
        if mask.shape != self.image_shape:
            raise ValueError(f"The initial mask is {mask.shape}, the image {self.image_shape}.")
        self._initial = mask
        self._clicks = []
        self._probs = None

    def add_click(self, row: int, col: int, is_positive: bool) -> np.ndarray:
        self._need_image()
        h, w = self.image_shape
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"The click ({row}, {col}) is outside the {h}×{w} image; click inside it.")
        self._clicks.append(FakeClick(int(row), int(col), bool(is_positive)))
        return self._compute()

    def undo(self):
        if self._clicks:
            self._clicks.pop()
        if not self._clicks:
            self._probs = None if self._initial is None else self._initial.astype(np.float32)
            return self._probs
        return self._compute()

    def reset(self) -> None:
        self._clicks = []
        self._probs = None

    @property
    def probabilities(self):
        return self._probs

    @property
    def mask(self):
        return None if self._probs is None else self._probs > self.settings.threshold

    @property
    def clicks(self):
        return list(self._clicks)

    @property
    def image_shape(self):
        return None if self._image is None else self._image.shape[:2]

    # -- internals -------------------------------------------------------------------------------
    def _need_image(self):
        if self._image is None:
            raise ValueError("No image is set: call set_image first.")

    def _compute(self) -> np.ndarray:
        h, w = self.image_shape
        mask = np.zeros((h, w), bool) if self._initial is None else self._initial.copy()
        rows, cols = np.mgrid[0:h, 0:w]
        for c in self._clicks:
            if c.is_positive:
                label = self._bright_labels[c.row, c.col]
                if label:
                    mask |= self._bright_labels == label
                else:
                    mask |= (rows - c.row) ** 2 + (cols - c.col) ** 2 <= 4
        for c in self._clicks:
            if not c.is_positive:
                mask &= (rows - c.row) ** 2 + (cols - c.col) ** 2 > self.negative_radius ** 2
        self._probs = np.where(mask, 0.9, 0.1).astype(np.float32)
        return self._probs
