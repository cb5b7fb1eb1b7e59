"""Training samples from GIS layers: a raster (GeoTIFF or anything GDAL reads, any CRS) and a polygon
layer of avalanche outlines (GeoPackage, Shapefile, … any CRS).

- The outlines are read with OGR and reprojected to the raster's CRS (a layer without a CRS is taken to
  be in the raster's CRS).
- Each outline gives a square window around it: side = the outline's larger pixel extent × a random
  context factor (default 1.5–3.0), shifted at random so the outline stays inside, then widened to whole
  native pixels and clipped to the raster — the plugin's window (engine/raster_window.RasterWindow).
- The window is read exactly as the plugin reads it, by core_model.raster_rgb: by itself (never the whole
  raster), at native resolution or, when its longest side exceeds `window_size`, averaged down to
  `window_size` (the plugin's max_side); Byte bands as they are, other types by the raster's own 2–98 %
  cut (computed once per raster, as the plugin does); 1-band rasters grey; nodata and alpha 0 black.
  All outlines that touch the window are rasterised on the same grid: the window's outline is object 1,
  its neighbours objects 2, 3, … (negatives for the click sampler).
- Negative windows (a share `negatives` of the number of outlines) are random windows that touch no
  outline: images without any avalanche.
- Split: outlines whose attribute `split_field` equals `val_value` (case-insensitive) are validation,
  the rest training; without a split field a fixed random share (`val`, by `seed`) is validation.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from affine import Affine
from osgeo import gdal
from rasterio.features import rasterize

from core_model.raster_rgb import band_plan, compute_cuts, model_image_shape, read_rgb

from .datasets import DataError, Sample, split_indices


@dataclass(frozen=True)
class NativeWindow:
    """A block of whole native pixels on the raster (as the plugin's RasterWindow.native_box)."""
    row0: int
    col0: int
    height: int
    width: int


def _open_raster(path: Path):
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return gdal.Open(str(path), gdal.GA_ReadOnly)
    except RuntimeError:  # gdal.UseExceptions() was called somewhere
        return None
    finally:
        gdal.PopErrorHandler()


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
    flat = ogr.GT_Flatten(lyr.GetGeomType())
    if flat in (ogr.wkbPoint, ogr.wkbMultiPoint, ogr.wkbLineString, ogr.wkbMultiLineString):
        kind = "point" if flat in (ogr.wkbPoint, ogr.wkbMultiPoint) else "line"
        raise DataError(f"{path} is a {kind} layer; the avalanche outlines must be a polygon layer.")
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
        ds = _open_raster(self.raster_path)
        if ds is None or ds.RasterCount == 0:
            raise DataError(f"{self.raster_path} is not a raster GDAL can read.")
        self.width, self.height, self.count = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
        self.transform = Affine.from_gdal(*ds.GetGeoTransform())
        self.crs_wkt = ds.GetProjection() or ""
        self._plan = band_plan(ds)
        ds = None
        self._cuts: tuple | None = None
        self._cuts_done = False
        self._lock = threading.Lock()
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

    def native_window(self, row0: float, col0: float, height: float, width: float) -> NativeWindow:
        """The block of whole native pixels covering the given one, clipped to the raster (as the plugin's
        RasterWindow clips)."""
        r0, c0 = max(0, math.floor(row0)), max(0, math.floor(col0))
        r1 = min(self.height, math.ceil(row0 + height))
        c1 = min(self.width, math.ceil(col0 + width))
        if r1 <= r0 or c1 <= c0:
            raise DataError(f"the window at row {row0:.0f}, column {col0:.0f} lies outside {self.raster_path}.")
        return NativeWindow(r0, c0, r1 - r0, c1 - c0)

    def window_of(self, index: int, rng: np.random.Generator | None = None) -> tuple[NativeWindow, int | None]:
        """(the window on the raster, outline index or None for a negative window)."""
        rng = rng if rng is not None else np.random.default_rng([self.seed, index])
        if index < len(self.objects):
            obj = self.objects[index]
            row0, col0, side = self._object_window(obj, rng)
        else:
            obj = None
            row0, col0, side = self._negative_window(rng)
        return self.native_window(row0, col0, side, side), obj

    def image_shape(self, window: NativeWindow) -> tuple[int, int]:
        """The model image of `window`: native, or averaged down to `window_size` on its longest side."""
        return model_image_shape(window.height, window.width, self.window_size)

    def window_transform(self, window: NativeWindow) -> Affine:
        """Raster-CRS transform of the window's model-image grid (the plugin's RasterWindow.geotransform)."""
        h, w = self.image_shape(window)
        return (self.transform * Affine.translation(window.col0, window.row0)
                * Affine.scale(window.width / w, window.height / h))

    @property
    def cuts(self):
        """Per-band 2–98 % cut of the whole raster (None for 8-bit data), computed once, as the plugin does."""
        with self._lock:
            if not self._cuts_done:
                ds = _open_raster(self.raster_path)
                if ds is None:
                    raise DataError(f"{self.raster_path} can no longer be read.")
                try:
                    self._cuts = compute_cuts(ds, self._plan)
                except (OSError, RuntimeError) as exc:
                    raise DataError(f"cannot read {self.raster_path} to compute its contrast stretch ({exc}).") \
                        from None
                self._cuts_done = True
        return self._cuts

    def read_window(self, window: NativeWindow) -> np.ndarray:
        """The window as H×W×3 uint8 RGB, H×W = image_shape(window): core_model.raster_rgb, as the plugin."""
        cuts = self.cuts
        ds = _open_raster(self.raster_path)
        if ds is None:
            raise DataError(f"{self.raster_path} can no longer be read.")
        h, w = self.image_shape(window)
        try:
            return read_rgb(ds, self._plan, cuts, window.row0, window.col0, window.height, window.width, h, w)
        except (OSError, RuntimeError) as exc:
            raise DataError(f"cannot read a window of {self.raster_path} ({exc}).") from None

    def labels_of(self, window: NativeWindow, target: int | None) -> np.ndarray:
        """H×W int32 on the window's model-image grid: 0 background, k > 0 the outlines touching it (the
        target first, as object 1)."""
        box = shapely.box(window.col0, window.row0, window.col0 + window.width, window.row0 + window.height)
        hits = sorted(int(i) for i in self._tree.query(box, predicate="intersects"))
        if target is not None and target in hits:
            hits.remove(target)
            hits.insert(0, target)
        shape = self.image_shape(window)
        if not hits:
            return np.zeros(shape, dtype=np.int32)
        shapes = [(self.all_geoms[i], k + 1) for k, i in enumerate(hits)]
        # Later shapes overwrite earlier ones: draw the target last so it wins where outlines overlap.
        shapes = shapes[1:] + shapes[:1] if target is not None else shapes
        return rasterize(shapes, out_shape=shape, transform=self.window_transform(window), fill=0, dtype="int32")

    def get(self, index: int, rng: np.random.Generator | None = None) -> Sample:
        window, obj = self.window_of(index, rng)
        labels = self.labels_of(window, obj)
        image = self.read_window(window)
        name = f"{self.raster_path.stem}_{'outline' if obj is not None else 'negative'}{index:04d}"
        return Sample(image, labels, target=1 if obj is not None else None, name=name)
