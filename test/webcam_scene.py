"""A synthetic webcam scene with a known answer, made in a tmp folder (no ../shared needed).

Terrain: an east-west valley, its two flanks rising 0.6 m per metre away from the valley axis and a
bowl term ``BOWL * (x - xc)²`` so that no two GCPs share a plane; written as a 5 m GeoTIFF DEM in
EPSG:2056.  A camera on the south flank looks north across the valley at the north flank, where an
elliptic avalanche lies.  The photo is rendered exactly: every pixel centre's ray is intersected
analytically with the terrain (a quadratic per flank); pixels whose ground point lies in the ellipse
are bright snow, other ground is darker and noisy, rays that miss the DEM are a dark sky.  GCPs are
terrain points projected through the same camera.
"""
from __future__ import annotations

import math

import numpy as np
from osgeo import gdal, ogr, osr

ORIGIN = (2_600_000.0, 1_202_000.0)   # upper-left corner of the DEM (x0, y_top)
CELL = 5.0
SIZE = 2000.0                          # the DEM is SIZE × SIZE metres
SLOPE = 0.6
BOWL = 0.0002
BASE_Z = 1000.0
PHOTO_SIZE = (640, 480)                # width, height
FOCAL_PX = 800.0


def x0() -> float:
    return ORIGIN[0]


def y0() -> float:
    return ORIGIN[1] - SIZE            # southern edge


def valley_y() -> float:
    return y0() + SIZE / 2.0


def centre_x() -> float:
    return x0() + SIZE / 2.0


def terrain_z(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return BASE_Z + SLOPE * np.abs(y - valley_y()) + BOWL * (x - centre_x()) ** 2


def write_dem(path) -> dict:
    n = int(SIZE / CELL)
    xs = x0() + (np.arange(n) + 0.5) * CELL
    ys = ORIGIN[1] - (np.arange(n) + 0.5) * CELL
    gx, gy = np.meshgrid(xs, ys)
    z = terrain_z(gx, gy).astype(np.float32)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), n, n, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((ORIGIN[0], CELL, 0.0, ORIGIN[1], 0.0, -CELL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(z)
    ds.GetRasterBand(1).SetNoDataValue(-9999.0)
    ds = None
    return {"path": str(path), "crs": "EPSG:2056"}


def camera():
    """The true camera (engine Camera): on the south flank, looking north, 10° down."""
    from avalanche_iseg_plugin.engine.webcam.camera import Camera

    x, y = centre_x(), y0() + 300.0
    z = float(terrain_z(x, y)) + 30.0
    return Camera(position=(x, y, z), heading_deg=0.0, pitch_deg=-10.0, roll_deg=0.0, focal_px=FOCAL_PX,
                  principal_point=(PHOTO_SIZE[0] / 2.0, PHOTO_SIZE[1] / 2.0), image_size=PHOTO_SIZE)


AVALANCHE = {"cx": 2_601_000.0, "cy": 1_201_500.0 - 0.0, "ax": 120.0, "ay": 200.0}


def in_avalanche(x, y):
    a = AVALANCHE
    return ((x - a["cx"]) / a["ax"]) ** 2 + ((y - a["cy"]) / a["ay"]) ** 2 <= 1.0


def avalanche_polygon(n: int = 256) -> ogr.Geometry:
    a = AVALANCHE
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for t in np.linspace(0, 2 * math.pi, n, endpoint=False):
        ring.AddPoint_2D(a["cx"] + a["ax"] * math.cos(t), a["cy"] + a["ay"] * math.sin(t))
    ring.CloseRings()
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def ground_hits(cam, cols, rows):
    """Analytic first terrain point of each pixel ray: (x, y, z) arrays, NaN where the ray misses the DEM."""
    origin, dirs = cam.ray(cols, rows)
    o = origin
    best_t = np.full(len(dirs), np.inf)
    for side in (1.0, -1.0):   # north flank z = B + S (y - yv) + bowl, south flank z = B - S (y - yv) + bowl
        a = BOWL * dirs[:, 0] ** 2
        b = 2 * BOWL * (o[0] - centre_x()) * dirs[:, 0] + side * SLOPE * dirs[:, 1] - dirs[:, 2]
        c = BASE_Z + side * SLOPE * (o[1] - valley_y()) + BOWL * (o[0] - centre_x()) ** 2 - o[2]
        with np.errstate(invalid="ignore", divide="ignore"):
            disc = b * b - 4 * a * c
            sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
            roots = np.stack([(-b - sq) / (2 * a), (-b + sq) / (2 * a)])
            linear = np.abs(a) < 1e-15
            roots[:, linear] = (-c / b[linear])[None, :]
        for t in roots:
            y = o[1] + t * dirs[:, 1]
            ok = (t > 0) & np.isfinite(t) & ((y - valley_y()) * side >= 0) & (t < best_t)
            best_t = np.where(ok, t, best_t)
    pts = o + np.where(np.isfinite(best_t), best_t, np.nan)[:, None] * dirs
    inside = ((pts[:, 0] >= x0()) & (pts[:, 0] <= x0() + SIZE) & (pts[:, 1] >= y0()) & (pts[:, 1] <= ORIGIN[1]))
    pts[~inside] = np.nan
    return pts[:, 0], pts[:, 1], pts[:, 2]


def write_photo(path, seed: int = 3) -> dict:
    """Render the photo PNG; returns its avalanche mask and the visible ground truth."""
    cam = camera()
    w, h = PHOTO_SIZE
    rows, cols = np.mgrid[0:h, 0:w]
    x, y, _ = ground_hits(cam, cols.ravel() + 0.5, rows.ravel() + 0.5)
    ground = np.isfinite(x).reshape(h, w)
    snow = (in_avalanche(np.nan_to_num(x), np.nan_to_num(y)) & np.isfinite(x)).reshape(h, w)
    rng = np.random.default_rng(seed)
    grey = rng.integers(60, 100, (h, w))
    rgb = np.stack([grey, grey + 5, grey - 5], axis=2)
    rgb[snow] = rng.integers(200, 235, (int(snow.sum()), 1))
    rgb[~ground] = (60, 80, 120)      # sky: dark enough not to join the snow in the fake predictor
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    mem = gdal.GetDriverByName("MEM").Create("", w, h, 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(rgb[..., i])
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    mem = None
    r, c = np.nonzero(snow)
    centre = (float(np.median(c)) + 0.5, float(np.median(r)) + 0.5)
    return {"path": str(path), "mask": snow, "ground": ground, "snow_pixel": centre}


GCP_PIXELS = ((80, 110), (560, 120), (110, 300), (530, 310), (60, 440), (590, 450), (330, 430), (330, 60))


def gcps(cam=None) -> list[tuple[float, float, float, float, float]]:
    """(col, row, x, y, z) of 8 terrain points spread over the photo, off the avalanche: the ground point of
    each of GCP_PIXELS' rays (so photo and ground agree exactly)."""
    cam = cam or camera()
    cols = np.array([p[0] for p in GCP_PIXELS], float)
    rows = np.array([p[1] for p in GCP_PIXELS], float)
    x, y, z = ground_hits(cam, cols, rows)
    assert np.isfinite(x).all() and not in_avalanche(x, y).any()
    return [(float(c), float(r), float(a), float(b), float(d)) for c, r, a, b, d in zip(cols, rows, x, y, z)]
