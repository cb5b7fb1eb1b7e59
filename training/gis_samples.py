"""Training samples from GIS layers: a raster (GeoTIFF or anything GDAL reads, any CRS) and a polygon
layer of avalanche outlines (GeoPackage, Shapefile, … any CRS).

- The outlines are read with OGR and reprojected to the raster's CRS (a layer without a CRS is taken to
  be in the raster's CRS).
- Each outline gives a square window around it: side = the outline's larger pixel extent × a random
  context factor (default 1.5–3.0), shifted at random so the outline stays inside. The window is read
  from the raster by itself (never the whole raster), resampled to `window_size`² pixels, and all
  outlines that touch it are rasterised on that grid: the window's outline is object 1, its neighbours
  objects 2, 3, … (negatives for the click sampler).
- Negative windows (a share `negatives` of the number of outlines) are random windows that touch no
  outline: images without any avalanche.
- Non-8-bit rasters are stretched per window (2–98 % percentiles per band); 1-band rasters become grey
  RGB; nodata becomes 0.
- Split: outlines whose attribute `split_field` equals `val_value` (case-insensitive) are validation,
  the rest training; without a split field a fixed random share (`val`, by `seed`) is validation.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
import shapely.affinity
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.windows import Window
from affine import Affine

from .datasets import DataError, Sample, split_indices


def read_outlines(path: str | Path, raster_crs_wkt: str, layer: str | None = None,
                  field: str | None = None) -> tuple[list, list]:
    """(polygons in the raster's CRS as shapely geometries, values of `field` or None per polygon)."""
    from osgeo import ogr, osr  # GDAL's Python bindings (present wherever QGIS is)

    ogr.UseExceptions()
    try:
        ds = ogr.Open(str(path))
    except Exception:
        ds = None
    if ds is None:
        raise DataError(f"{path} is not a polygon layer GDAL/OGR can read.")
    lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
    if lyr is None:
        raise DataError(f"{path} has no layer named {layer!r}.")
    if field and lyr.GetLayerDefn().GetFieldIndex(field) < 0:
        raise DataError(f"the layer {path} has no attribute {field!r} to split by.")
    transform = None
    src_srs = lyr.GetSpatialRef()
    if src_srs is not None and raster_crs_wkt:
        dst_srs = osr.SpatialReference()
        dst_srs.ImportFromWkt(raster_crs_wkt)
        src_srs = src_srs.Clone()
        for srs in (src_srs, dst_srs):
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if not src_srs.IsSame(dst_srs):
            transform = osr.CoordinateTransformation(src_srs, dst_srs)
    geoms, values = [], []
    for feature in lyr:
        geom = feature.GetGeometryRef()
        if geom is None or geom.IsEmpty():
            continue
        geom = geom.Clone()
        if transform is not None:
            geom.Transform(transform)
        shp = shapely.force_2d(shapely.from_wkb(bytes(geom.ExportToWkb())))
        if not shp.is_valid:
            shp = shapely.make_valid(shp)
        shp = shapely.intersection(shp, shp.envelope) if shp.geom_type == "GeometryCollection" else shp
        if shp.is_empty or shp.area <= 0:
            continue
        geoms.append(shp)
        values.append(feature.GetField(field) if field else None)
    return geoms, values


def stretch_to_uint8(bands: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """bands: C×H×W any dtype → C×H×W uint8 (uint8 kept; others 2–98 % percentile stretch per band);
    valid: H×W (or 1×H×W) mask of pixels with data."""
    valid = np.asarray(valid, dtype=bool).reshape(bands.shape[1:])
    if bands.dtype == np.uint8:
        return np.where(valid, bands, 0).astype(np.uint8)
    out = np.zeros(bands.shape, dtype=np.uint8)
    for i, band in enumerate(bands.astype(np.float64)):
        values = band[valid & np.isfinite(band)]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [2, 98])
        scaled = (band - lo) / max(hi - lo, 1e-9) * 255.0
        out[i] = np.where(valid & np.isfinite(band), np.clip(scaled, 0, 255), 0).astype(np.uint8)
    return out


class GisWindowDataset:
    """Windows around avalanche outlines (plus negative windows) of one raster + polygon layer."""

    def __init__(self, raster: str | Path, polygons: str | Path, split: str = "train",
                 split_field: str | None = None, val_value: str = "val", val: float = 0.15,
                 seed: int = 0, negatives: float = 0.25, context: tuple[float, float] = (1.5, 3.0),
                 window_size: int = 256, layer: str | None = None):
        self.raster_path = Path(raster)
        self.polygons_path = Path(polygons)
        self.name = f"{self.raster_path.stem}+{self.polygons_path.stem}:{split}"
        self.seed, self.context, self.window_size = seed, context, int(window_size)
        try:
            with rasterio.open(self.raster_path) as src:
                self.width, self.height, self.count = src.width, src.height, src.count
                self.transform = src.transform
                self.crs_wkt = src.crs.to_wkt() if src.crs else ""
        except rasterio.errors.RasterioIOError:
            raise DataError(f"{self.raster_path} is not a raster GDAL can read.") from None
        if self.transform.b != 0 or self.transform.d != 0:
            raise DataError(f"{self.raster_path} is rotated; warp it to a north-up grid first.")
        geoms, values = read_outlines(self.polygons_path, self.crs_wkt, layer, split_field)
        self._to_pixel = ~self.transform
        footprint = shapely.box(0, 0, self.width, self.height)
        pixel_geoms = [shapely.affinity.affine_transform(g, self._coeffs(self._to_pixel)) for g in geoms]
        keep = [i for i, g in enumerate(pixel_geoms) if g.intersects(footprint)]
        if not keep:
            raise DataError(f"no outline of {self.polygons_path} lies on the raster {self.raster_path}.")
        self.all_pixel_geoms = [pixel_geoms[i] for i in keep]  # every outline, in raster pixel coords
        self.all_geoms = [geoms[i] for i in keep]
        self._tree = shapely.STRtree(self.all_pixel_geoms)
        values = [values[i] for i in keep]
        n = len(keep)
        if split_field:
            is_val = [v is not None and str(v).strip().lower() == str(val_value).strip().lower() for v in values]
            val_idx = [i for i in range(n) if is_val[i]]
            train_idx = [i for i in range(n) if not is_val[i]]
        else:
            train_idx, val_idx = split_indices(n, val, seed)
        chosen = {"train": train_idx, "val": val_idx, "all": list(range(n))}.get(split)
        if chosen is None:
            raise DataError(f"unknown split {split!r}; use train, val or all.")
        self.objects = chosen
        self.num_negatives = int(round(negatives * len(chosen)))
        self.split = split

    @staticmethod
    def _coeffs(a: Affine) -> list[float]:
        return [a.a, a.b, a.d, a.e, a.c, a.f]

    def __len__(self) -> int:
        return len(self.objects) + self.num_negatives

    # --- windows ------------------------------------------------------------------------------------
    def _object_window(self, obj: int, rng: np.random.Generator) -> tuple[float, float, float]:
        c0, r0, c1, r1 = self.all_pixel_geoms[obj].bounds
        ow, oh = c1 - c0, r1 - r0
        side = max(max(ow, oh) * float(rng.uniform(*self.context)), 16.0)
        cx = (c0 + c1) / 2 + float(rng.uniform(-0.5, 0.5)) * max(side - ow, 0.0)
        cy = (r0 + r1) / 2 + float(rng.uniform(-0.5, 0.5)) * max(side - oh, 0.0)
        return cy - side / 2, cx - side / 2, side

    def _negative_window(self, rng: np.random.Generator) -> tuple[float, float, float]:
        window = None
        for _ in range(30):
            ref = int(rng.integers(0, len(self.all_pixel_geoms)))
            _, _, side = self._object_window(ref, rng)
            side = min(side, self.width, self.height)
            row0 = float(rng.uniform(0, self.height - side))
            col0 = float(rng.uniform(0, self.width - side))
            window = (row0, col0, side)
            if not self._tree.query(shapely.box(col0, row0, col0 + side, row0 + side), predicate="intersects").size:
                break
        return window

    def window_of(self, index: int, rng: np.random.Generator | None = None) -> tuple[tuple[float, float, float], int | None]:
        """((row0, col0, side) in raster pixels, outline index or None for a negative window)."""
        rng = rng if rng is not None else np.random.default_rng([self.seed, index])
        if index < len(self.objects):
            obj = self.objects[index]
            return self._object_window(obj, rng), obj
        return self._negative_window(rng), None

    def window_transform(self, row0: float, col0: float, side: float) -> Affine:
        return self.transform * Affine.translation(col0, row0) * Affine.scale(side / self.window_size)

    def read_window(self, row0: float, col0: float, side: float) -> np.ndarray:
        """window_size² × 3 uint8 RGB of the square raster window (outside the raster: 0)."""
        out = self.window_size
        scale = out / side
        # Output pixels that lie on the raster; their exact (fractional) source window is read and
        # resampled, so output pixel i covers raster columns col0 + i/scale … col0 + (i+1)/scale.
        dr_a = max(0, int(math.ceil(-row0 * scale - 1e-9)))
        dc_a = max(0, int(math.ceil(-col0 * scale - 1e-9)))
        dr_b = min(out, int(math.floor((self.height - row0) * scale + 1e-9)))
        dc_b = min(out, int(math.floor((self.width - col0) * scale + 1e-9)))
        rgb = np.zeros((out, out, 3), dtype=np.uint8)
        if dr_b <= dr_a or dc_b <= dc_a:
            return rgb
        bands = [1, 2, 3] if self.count >= 3 else [1]
        win = Window(col0 + dc_a / scale, row0 + dr_a / scale, (dc_b - dc_a) / scale, (dr_b - dr_a) / scale)
        shape = (dr_b - dr_a, dc_b - dc_a)
        with rasterio.open(self.raster_path) as src:
            data = src.read(bands, window=win, out_shape=(len(bands),) + shape, resampling=Resampling.bilinear)
            valid = src.read_masks(1, window=win, out_shape=shape, resampling=Resampling.nearest) > 0
        data = stretch_to_uint8(data, valid[None])
        if data.shape[0] == 1:
            data = np.repeat(data, 3, axis=0)
        rgb[dr_a:dr_b, dc_a:dc_b] = np.transpose(data, (1, 2, 0))
        return rgb

    def labels_of(self, row0: float, col0: float, side: float, target: int | None) -> np.ndarray:
        box = shapely.box(col0, row0, col0 + side, row0 + side)
        hits = sorted(int(i) for i in self._tree.query(box, predicate="intersects"))
        if target is not None and target in hits:
            hits.remove(target)
            hits.insert(0, target)
        if not hits:
            return np.zeros((self.window_size, self.window_size), dtype=np.int32)
        shapes = [(self.all_geoms[i], k + 1) for k, i in enumerate(hits)]
        # Later shapes overwrite earlier ones: draw the target last so it wins where outlines overlap.
        shapes = shapes[1:] + shapes[:1] if target is not None else shapes
        return rasterize(shapes, out_shape=(self.window_size, self.window_size),
                         transform=self.window_transform(row0, col0, side), fill=0, dtype="int32")

    def get(self, index: int, rng: np.random.Generator | None = None) -> Sample:
        (row0, col0, side), obj = self.window_of(index, rng)
        labels = self.labels_of(row0, col0, side, obj)
        image = self.read_window(row0, col0, side)
        name = f"{self.raster_path.stem}_{'outline' if obj is not None else 'negative'}{index:04d}"
        return Sample(image, labels, target=1 if obj is not None else None, name=name)
