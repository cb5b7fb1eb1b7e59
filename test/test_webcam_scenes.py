"""Synthetic webcam scenes on real terrain (../shared/gis), with a renderer independent of the engine's
depth buffer: every photo pixel's ray is marched over the DEM (heights by scipy's map_coordinates,
not Dem.sample), and visibility is a line-of-sight test.  Helpers for test_webcam_*.py, plus tests
of the helpers themselves."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr
from scipy.ndimage import map_coordinates

from conftest import shared_path

from avalanche_iseg_plugin.engine.webcam.camera import Camera
from avalanche_iseg_plugin.engine.webcam.dem import Dem

RYGGFONN_DEM = ("gis", "ngi_ryggfonn_2021", "dem_5m.asc")
RYGGFONN_RELEASE = ("gis", "ngi_ryggfonn_2021", "RA20210411_02.shp")
ALR_DEM = ("gis", "avaframe_alr", "avaAlr.tif")
ALR_RELEASE = ("gis", "avaframe_alr", "relAlr.shp")
MAL_DEM = ("gis", "avaframe_mal", "avaMal.tif")


def open_dem(parts) -> Dem:
    return Dem.open(shared_path(*parts))


def read_polygons(parts) -> list[ogr.Geometry]:
    ds = ogr.Open(str(shared_path(*parts)))
    return [f.GetGeometryRef().Clone() for f in ds.GetLayer()]


def heights(dem: Dem, x, y) -> np.ndarray:
    """Bilinear heights between cell centres, by scipy (NaN off the grid or at nodata)."""
    gt = dem.geotransform
    fc = (np.asarray(x) - gt[0]) / gt[1] - 0.5
    fr = (np.asarray(y) - gt[3]) / gt[5] - 0.5
    rows, cols = dem.z.shape
    out = map_coordinates(dem.z, [fr.ravel(), fc.ravel()], order=1, mode="nearest").reshape(fr.shape)
    off = (fc < -0.5) | (fc > cols - 0.5) | (fr < -0.5) | (fr > rows - 0.5)
    return np.where(off, np.nan, out)


def camera_on(dem: Dem, row: int, col: int, target_xy, focal_px: float, size, above: float = 10.0,
              roll_deg: float = 0.0, **lens) -> Camera:
    """A camera ``above`` m over DEM cell (row, col), looking at the ground at ``target_xy``."""
    gt = dem.geotransform
    x, y = gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]
    position = (x, y, float(heights(dem, x, y)) + above)
    target = (target_xy[0], target_xy[1], float(heights(dem, *target_xy)))
    cam = Camera.looking_at(position, target, focal_px, size, roll_deg)
    return cam.with_(**lens) if lens else cam


def march(camera: Camera, dem: Dem, cols, rows, step: float = 2.0, max_distance: float = 4000.0) -> np.ndarray:
    """First terrain point (N×3, NaN = sky) of each photo point's ray: marched at ``step`` m, then the
    step where it first goes below the terrain is bisected to a centimetre."""
    origin, dirs = camera.ray(cols, rows)
    ts = np.arange(step, max_distance, step)
    hits = np.full((len(dirs), 3), np.nan)
    for i in range(0, len(dirs), 1000):
        d = dirs[i:i + 1000]
        p = origin + ts[None, :, None] * d[:, None, :]
        below = p[..., 2] <= heights(dem, p[..., 0], p[..., 1])
        found = below.any(axis=1)
        hi = ts[below.argmax(axis=1)]
        lo = np.maximum(hi - step, 0.0)
        while (hi - lo).max() > 0.01:
            mid = 0.5 * (lo + hi)
            q = origin + mid[:, None] * d
            under = q[:, 2] <= heights(dem, q[:, 0], q[:, 1])
            hi, lo = np.where(under, mid, hi), np.where(under, lo, mid)
        hit = origin + hi[:, None] * d
        hit[~found] = np.nan
        hits[i:i + 1000] = hit
    return hits


def line_of_sight(camera: Camera, dem: Dem, points_xyz, step: float = 2.0, clearance: float = 0.5) -> np.ndarray:
    """True where the straight line from the camera to a ground point stays above the terrain (the last
    ``4 × step`` metres before the point are not tested)."""
    pts = np.asarray(points_xyz, dtype=np.float64)
    c = np.asarray(camera.position)
    out = np.zeros(len(pts), dtype=bool)
    for i in range(0, len(pts), 500):
        p = pts[i:i + 500]
        length = np.linalg.norm(p - c, axis=1)
        n = int(np.ceil(length.max() / step))
        f = np.linspace(0.0, 1.0, n + 1)[None, :]
        keep = f * length[:, None] < length[:, None] - 4 * step
        q = c + f[..., None] * (p - c)[:, None, :]
        ground = heights(dem, q[..., 0], q[..., 1])
        blocked = keep & (q[..., 2] < ground - clearance)
        out[i:i + 500] = ~blocked.any(axis=1)
    return out


def render_polygon_mask(camera: Camera, dem: Dem, polygon: ogr.Geometry, margin_px: int = 6) -> np.ndarray:
    """Photo mask of the pixels whose ray first meets the terrain inside ``polygon``."""
    ring = np.array(polygon.GetGeometryRef(0).GetPoints())[:, :2]
    col, row, _ = camera.project(np.column_stack([ring, heights(dem, ring[:, 0], ring[:, 1])]))
    w, h = camera.image_size
    c0, c1 = max(int(np.nanmin(col)) - margin_px, 0), min(int(np.nanmax(col)) + margin_px, w)
    r0, r1 = max(int(np.nanmin(row)) - margin_px, 0), min(int(np.nanmax(row)) + margin_px, h)
    cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
    hits = march(camera, dem, cc.ravel(), rr.ravel())
    inside = np.zeros(len(hits), dtype=bool)
    for i, (x, y, _) in enumerate(hits):
        if np.isfinite(x):
            inside[i] = polygon.Contains(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = inside.reshape(cc.shape)
    return mask


def synthetic_gcps(camera: Camera, dem: Dem, n: int, noise_px: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` GCPs spread over the terrain part of the photo: (photo points with noise N×2, ground x, y
    N×2).  Photo points on a grid are marched to the terrain; points whose neighbourhood shows sky or
    a jump in distance (silhouettes) are skipped."""
    w, h = camera.image_size
    cc, rr = np.meshgrid(np.linspace(0.05, 0.95, 12) * w, np.linspace(0.05, 0.95, 10) * h)
    cols, rows = cc.ravel(), rr.ravel()
    hits = march(camera, dem, cols, rows)
    around = [march(camera, dem, cols + dc, rows + dr) for dc, dr in ((6, 0), (-6, 0), (0, 6), (0, -6))]
    dist = np.linalg.norm(hits - np.asarray(camera.position), axis=1)
    ok = np.isfinite(dist)
    for a in around:
        da = np.linalg.norm(a - np.asarray(camera.position), axis=1)
        ok &= np.isfinite(da) & (np.abs(da - dist) < 0.1 * dist)
    good = np.flatnonzero(ok)
    if len(good) < n:
        raise AssertionError(f"only {len(good)} usable GCPs in this scene")
    pick = rng.choice(good, n, replace=False)
    pixels = np.column_stack([cols[pick], rows[pick]]) + rng.normal(0.0, noise_px, (n, 2))
    return pixels, hits[pick, :2]


def write_png(path, array) -> None:
    """An 8-bit PNG (H×W or H×W×3) through GDAL."""
    a = np.asarray(array).astype(np.uint8)
    bands = 1 if a.ndim == 2 else a.shape[2]
    mem = gdal.GetDriverByName("MEM").Create("", a.shape[1], a.shape[0], bands, gdal.GDT_Byte)
    for b in range(bands):
        mem.GetRasterBand(b + 1).WriteArray(a if a.ndim == 2 else a[..., b])
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)


def grid_iou(a: ogr.Geometry, b: ogr.Geometry) -> float:
    union = a.Union(b).GetArea()
    return a.Intersection(b).GetArea() / union if union else 0.0


# -- the helpers themselves ----------------------------------------------------------------------------
def test_heights_match_the_dem_at_cell_centres_and_between():
    dem = open_dem(RYGGFONN_DEM)
    x, y = dem.cell_centres()
    assert np.allclose(heights(dem, x[100:110, 50:60], y[100:110, 50:60]), dem.z[100:110, 50:60])
    xs, ys = x[200, 40:50] + 1.7, y[200, 40:50] - 3.1
    assert np.allclose(heights(dem, xs, ys), dem.sample(xs, ys))


def test_march_lands_on_the_terrain_where_the_camera_looks():
    dem = open_dem(RYGGFONN_DEM)
    target = (409969.3, 6870496.0)
    cam = camera_on(dem, 200, 150, target, 800.0, (320, 240))
    hit = march(cam, dem, [160.0], [120.0])[0]
    assert np.hypot(hit[0] - target[0], hit[1] - target[1]) < 5.0
    assert line_of_sight(cam, dem, hit[None])[0]


@pytest.mark.parametrize("parts", [RYGGFONN_DEM, ALR_DEM, MAL_DEM])
def test_the_shared_dems_open(parts):
    dem = open_dem(parts)
    assert dem.cell_size == 5.0 and np.isfinite(dem.z).mean() > 0.5
