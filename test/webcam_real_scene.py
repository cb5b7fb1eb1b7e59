"""A synthetic webcam photo of real terrain: the Alplehner DEM (../shared/gis/avaframe_alr, Tirol) seen
from a camera down the avalanche path, with the documented release area of the 1999 avalanche as snow.

The photo is ray-cast on the DEM (every pixel's ray marched at once in 2 m steps, then bisected; the
engine's bilinear ``Dem.sample``), so hidden ground is hidden; ground is shaded by a hillshade, the
release area is bright snow, rays that leave the DEM are sky.  GCPs are the ground points of a spread
of photo pixels.  Used by the shared-data test variant and the screenshot script.
"""
from __future__ import annotations

import math

import numpy as np
from osgeo import gdal, ogr

PHOTO_SIZE = (480, 360)
FOCAL_PX = 1200.0
CAMERA_XY = (255300.0, 380150.0)
CAMERA_ABOVE_GROUND = 25.0
STEP_M = 2.0
GCP_PIXELS = ((20, 250), (100, 185), (200, 235), (300, 205), (420, 235), (460, 300), (60, 330), (240, 330),
              (350, 280), (150, 280))


def release_polygon(shared_dir) -> ogr.Geometry:
    ds = ogr.Open(str(shared_dir / "relAlr.shp"))
    feature = ds.GetLayer(0).GetNextFeature()   # keep the feature alive while its geometry is cloned
    geom = feature.GetGeometryRef().Clone()
    feature, ds = None, None
    return geom


def camera(dem, target_xy):
    """A camera above CAMERA_XY looking at ``target_xy`` on the terrain."""
    from avalanche_iseg_plugin.engine.webcam.camera import Camera

    x, y = CAMERA_XY
    z = float(dem.sample(x, y)) + CAMERA_ABOVE_GROUND
    tz = float(dem.sample(*target_xy))
    dx, dy, dz = target_xy[0] - x, target_xy[1] - y, tz - z
    heading = math.degrees(math.atan2(dx, dy)) % 360.0
    pitch = math.degrees(math.atan2(dz, math.hypot(dx, dy)))
    return Camera(position=(x, y, z), heading_deg=heading, pitch_deg=pitch, roll_deg=0.0, focal_px=FOCAL_PX,
                  principal_point=(PHOTO_SIZE[0] / 2.0, PHOTO_SIZE[1] / 2.0), image_size=PHOTO_SIZE)


def ray_cast(cam, dem, cols, rows, max_distance: float = 6000.0):
    """First terrain point (N×3, NaN rows where the ray leaves the DEM) of each pixel's ray."""
    origin, dirs = cam.ray(np.asarray(cols, float), np.asarray(rows, float))
    n = len(dirs)
    lo = np.zeros(n)
    hit = np.full(n, np.nan)
    t = STEP_M
    alive = np.ones(n, bool)
    while t <= max_distance and alive.any():
        idx = np.flatnonzero(alive)
        p = origin + t * dirs[idx]
        ground = dem.sample(p[:, 0], p[:, 1])
        below = np.isfinite(ground) & (p[:, 2] <= ground)
        hit[idx[below]] = t
        alive[idx[below]] = False
        outside = ~dem.contains(p[:, 0], p[:, 1])
        alive[idx[outside & ~below]] = False
        lo[idx[~below]] = t
        t += STEP_M
    found = np.isfinite(hit)
    a, b = lo[found], hit[found]
    d = dirs[found]
    for _ in range(20):
        mid = 0.5 * (a + b)
        p = origin + mid[:, None] * d
        under = p[:, 2] <= dem.sample(p[:, 0], p[:, 1])
        b = np.where(under, mid, b)
        a = np.where(under, a, mid)
    pts = np.full((n, 3), np.nan)
    pts[found] = origin + b[:, None] * d
    return pts


def _hillshade(dem, x, y):
    e = 2.5
    dzdx = (dem.sample(x + e, y) - dem.sample(x - e, y)) / (2 * e)
    dzdy = (dem.sample(x, y + e) - dem.sample(x, y - e)) / (2 * e)
    normal = np.stack([-dzdx, -dzdy, np.ones_like(dzdx)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    sun = np.array([-0.5, 0.5, 0.7])
    sun /= np.linalg.norm(sun)
    return np.clip(np.nan_to_num(normal @ sun), 0, 1)


def _inside(geom: ogr.Geometry, x, y) -> np.ndarray:
    """Point-in-polygon by rasterising ``geom`` on a fine grid around it (GDAL) and looking the points up."""
    xmin, xmax, ymin, ymax = geom.GetEnvelope()
    res = 0.5
    w, h = int((xmax - xmin) / res) + 2, int((ymax - ymin) / res) + 2
    ras = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Byte)
    ras.SetGeoTransform((xmin - res, res, 0, ymax + res, 0, -res))
    mem = ogr.GetDriverByName("Memory").CreateDataSource("p")
    lyr = mem.CreateLayer("p", geom_type=ogr.wkbPolygon)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(geom)
    lyr.CreateFeature(f)
    gdal.RasterizeLayer(ras, [1], lyr, burn_values=[1])
    grid = ras.GetRasterBand(1).ReadAsArray().astype(bool)
    c = np.floor((np.nan_to_num(x) - (xmin - res)) / res).astype(int)
    r = np.floor(((ymax + res) - np.nan_to_num(y)) / res).astype(int)
    ok = np.isfinite(x) & (c >= 0) & (c < w) & (r >= 0) & (r < h)
    out = np.zeros(len(x), bool)
    out[ok] = grid[r[ok], c[ok]]
    return out


def write_photo(path, dem, release: ogr.Geometry, seed: int = 5) -> dict:
    centroid = release.Centroid()
    cam = camera(dem, (centroid.GetX(), centroid.GetY()))
    w, h = PHOTO_SIZE
    rows, cols = np.mgrid[0:h, 0:w]
    pts = ray_cast(cam, dem, cols.ravel() + 0.5, rows.ravel() + 0.5)
    ground = np.isfinite(pts[:, 0])
    snow = _inside(release, pts[:, 0], pts[:, 1]) & ground
    shade = _hillshade(dem, np.nan_to_num(pts[:, 0]), np.nan_to_num(pts[:, 1]))
    rng = np.random.default_rng(seed)
    grey = 45 + 70 * shade + rng.normal(0, 6, len(shade))
    rgb = np.stack([grey * 0.95, grey, grey * 0.85], axis=1)
    rgb[snow] = (215 + rng.normal(0, 8, (int(snow.sum()), 1))) * np.array([1.0, 1.0, 1.03])
    sky_rows = rows.ravel()[~ground]
    rgb[~ground] = np.stack([80 + 0.1 * sky_rows, 105 + 0.1 * sky_rows, 150 + 0.05 * sky_rows], axis=1)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8).reshape(h, w, 3)
    mem = gdal.GetDriverByName("MEM").Create("", w, h, 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(rgb[..., i])
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    mem = None
    mask = snow.reshape(h, w)
    r, c = np.nonzero(mask)
    k = np.argmin((r - np.median(r)) ** 2 + (c - np.median(c)) ** 2)
    return {"path": str(path), "camera": cam, "mask": mask, "points": pts.reshape(h, w, 3),
            "snow_pixel": (float(c[k]) + 0.5, float(r[k]) + 0.5)}


def gcps(photo: dict) -> list[tuple[float, float, float, float, float]]:
    out = []
    for col, row in GCP_PIXELS:
        x, y, z = photo["points"][row, col]
        assert np.isfinite(x) and not photo["mask"][row, col], (col, row)
        out.append((col + 0.5, row + 0.5, float(x), float(y), float(z)))
    return out
