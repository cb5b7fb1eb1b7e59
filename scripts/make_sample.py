"""Write a small synthetic sample for the headless segmenter: an orthoimage and a clicks file.

    .venv/bin/python scripts/make_sample.py OUT_DIR [--seed N]

OUT_DIR/ortho.tif   800×600 px RGB GeoTIFF, EPSG:2056 (Swiss LV95), 0.5 m pixels, upper-left corner at
                    E 2 600 000 / N 1 200 000: a bright avalanche (a track widening into a deposit lobe,
                    blocky debris) and a smaller slab avalanche on darker, shaded, textured snow with a
                    patch of forest.
OUT_DIR/clicks.json two objects: the big avalanche with map-coordinate clicks (two positive, one
                    negative beside it) and the small one with a pixel (row/col) click.
Then:
    .venv/bin/python -m avalanche_iseg_plugin.segment --raster OUT_DIR/ortho.tif \\
        --clicks OUT_DIR/clicks.json --out OUT_DIR/avalanches.gpkg
Needs only numpy, OpenCV and GDAL; takes well under two seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from osgeo import gdal, osr

HEIGHT, WIDTH = 600, 800
PIXEL = 0.5
ORIGIN = (2_600_000.0, 1_200_000.0)  # x, y of the upper-left corner (EPSG:2056)
GEOTRANSFORM = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL)


def smooth_noise(rng, shape, sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to about -1..1."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return noise / (np.abs(noise).max() + 1e-6)


def blocky_noise(rng, shape, block: int) -> np.ndarray:
    """Piecewise-constant noise in -1..1 with blocks of about ``block`` pixels (avalanche debris)."""
    h, w = shape
    coarse = rng.uniform(-1, 1, (h // block + 2, w // block + 2)).astype(np.float32)
    return cv2.resize(coarse, (w + 2 * block, h + 2 * block), interpolation=cv2.INTER_NEAREST)[
        block // 2: block // 2 + h, block // 3: block // 3 + w]


def rough_edges(rng, mask: np.ndarray, blur: float, amount: float) -> np.ndarray:
    """The mask with an irregular, natural-looking outline."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), blur)
    return soft + amount * smooth_noise(rng, mask.shape, 5.0) > 0.5


def big_avalanche(rng) -> np.ndarray:
    """A release zone high up, a track that bends and widens, and a deposit lobe at the bottom."""
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    t = np.linspace(0.0, 1.0, 120)
    rows = 40 + 380 * t
    cols = 300 + 70 * np.sin(t * np.pi * 0.9) + 20 * t
    radii = 14 + 40 * t ** 1.5
    for r, c, rad in zip(rows, cols, radii):
        cv2.circle(canvas, (int(c), int(r)), int(rad), 1, -1)
    cv2.ellipse(canvas, (378, 470), (135, 75), 8, 0, 360, 1, -1)          # deposit lobe
    cv2.ellipse(canvas, (300, 45), (60, 22), -5, 0, 360, 1, -1)           # release zone
    return rough_edges(rng, canvas.astype(bool), 4.0, 0.35)


def small_avalanche(rng) -> np.ndarray:
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(canvas, (668, 170), (32, 95), -12, 0, 360, 1, -1)
    return rough_edges(rng, canvas.astype(bool), 3.0, 0.3)


def make_scene(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H×W×3 uint8 RGB image, mask of avalanche 1, mask of avalanche 2)."""
    rng = np.random.default_rng(seed)
    first, second = big_avalanche(rng), small_avalanche(rng)
    second &= ~first
    debris = first | second
    # snow-covered terrain: broad shading of the relief, wind texture, fine grain
    shade = 0.6 * smooth_noise(rng, (HEIGHT, WIDTH), 60.0) + 0.4 * smooth_noise(rng, (HEIGHT, WIDTH), 18.0)
    grey = 118 + 30 * shade + 10 * smooth_noise(rng, (HEIGHT, WIDTH), 2.0) + rng.normal(0, 5, (HEIGHT, WIDTH))
    # forest in the lower left: dark tree crowns with shadows
    trees = np.zeros((HEIGHT, WIDTH), np.uint8)
    for _ in range(260):
        r, c = int(rng.uniform(330, HEIGHT)), int(rng.uniform(0, 230))
        cv2.circle(trees, (c, r), int(rng.uniform(3, 7)), 1, -1)
    trees = trees.astype(bool) & ~cv2.dilate(debris.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    grey = np.where(trees, 48 + 10 * rng.standard_normal((HEIGHT, WIDTH)), grey)
    # debris: much brighter, blocky with fine grain, a darker rim of pushed snow
    block = 0.7 * blocky_noise(rng, (HEIGHT, WIDTH), 6) + 0.3 * blocky_noise(rng, (HEIGHT, WIDTH), 3)
    bright = 214 + 16 * block + rng.normal(0, 4, (HEIGHT, WIDTH)) + 6 * shade
    grey = np.where(debris, bright, grey)
    rim = cv2.morphologyEx(debris.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
    grey = np.where(rim & ~debris, grey - 15, grey)
    # snow is slightly blue in the shade, debris nearly white
    tint = np.where(debris[..., None], np.array([-2.0, 0.0, 3.0]), np.array([-8.0, -2.0, 8.0]))
    rgb = np.clip(grey[..., None] + tint, 0, 255).astype(np.uint8)
    return rgb, first, second


def xy_of(row: float, col: float) -> tuple[float, float]:
    return ORIGIN[0] + col * PIXEL, ORIGIN[1] - row * PIXEL


def clicks_for(first: np.ndarray, second: np.ndarray) -> list:
    """Object 1 in map coordinates (EPSG:2056), object 2 in pixels (row/col)."""
    def centre_xy(row, col):
        assert first[row, col], (row, col)
        x, y = xy_of(row + 0.5, col + 0.5)
        return {"x": round(x, 2), "y": round(y, 2), "positive": True}

    negative_x, negative_y = xy_of(300.5, 520.5)  # snow beside the track
    assert not (first | second)[300, 520]
    assert second[170, 668]
    return [
        [centre_xy(475, 378), centre_xy(250, 362),
         {"x": round(negative_x, 2), "y": round(negative_y, 2), "positive": False}],
        [{"row": 170, "col": 668, "positive": True}],
    ]


def write_geotiff(path: Path, rgb: np.ndarray) -> None:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), WIDTH, HEIGHT, 3, gdal.GDT_Byte,
                                              ["COMPRESS=DEFLATE", "PHOTOMETRIC=RGB", "TILED=YES"])
    if ds is None:
        raise OSError(f"GDAL cannot create {path} ({gdal.GetLastErrorMsg().strip()}).")
    ds.SetGeoTransform(GEOTRANSFORM)
    ds.SetProjection(srs.ExportToWkt())
    for i in range(3):
        ds.GetRasterBand(i + 1).WriteArray(rgb[..., i])
    ds.FlushCache()
    ds = None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder to write ortho.tif and clicks.json into (created)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the texture (default 7)")
    args = parser.parse_args(argv)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"error: cannot create the folder {args.out_dir} ({exc.strerror}).\n")
        return 2
    rgb, first, second = make_scene(args.seed)
    try:
        write_geotiff(args.out_dir / "ortho.tif", rgb)
        (args.out_dir / "clicks.json").write_text(json.dumps(clicks_for(first, second), indent=1) + "\n",
                                                  encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
    areas = [m.sum() * PIXEL * PIXEL for m in (first, second)]
    print(f"Wrote {args.out_dir / 'ortho.tif'} ({WIDTH}×{HEIGHT} px, EPSG:2056, {PIXEL} m; avalanches of "
          f"{areas[0]:.0f} m² and {areas[1]:.0f} m²) and {args.out_dir / 'clicks.json'} (2 objects).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
