"""Benchmark: project a webcam photo mask onto a synthetic 1000×1000-cell DEM (terrain_projection.py).

    .venv/bin/python scripts/benchmark_webcam.py [--cells 1000] [--photo 1280x960] [--repeat 3]

The DEM (5 m cells, 5 km × 5 km) is a valley between ridges with smaller hills on its slopes; the
camera stands on one side of the valley looking across it, so the depth buffer has near terrain,
occlusion and sky to deal with.  Prints the time to build the projector (grid, projection, depth
buffer, visibility) and to project one mask (half the photo) into polygons.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avalanche_iseg_plugin.engine.webcam.camera import Camera  # noqa: E402
from avalanche_iseg_plugin.engine.webcam.dem import Dem  # noqa: E402
from avalanche_iseg_plugin.engine.webcam.terrain_projection import TerrainProjector  # noqa: E402


def synthetic_dem(cells: int, cell_size: float = 5.0) -> Dem:
    rng = np.random.default_rng(0)
    side = cells * cell_size
    y, x = np.mgrid[0:cells, 0:cells] * cell_size
    z = 1000.0 + 0.25 * np.abs(x - side / 2) + 150.0 * np.sin(y / side * 3 * np.pi)
    for _ in range(40):
        cx, cy, r, h = rng.uniform(0, side), rng.uniform(0, side), rng.uniform(80, 400), rng.uniform(20, 150)
        z += h * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    return Dem(z, (600000.0, cell_size, 0.0, 5200000.0 + side, 0.0, -cell_size), "", "synthetic")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=1000, help="DEM side in cells (default 1000)")
    p.add_argument("--photo", default="1280x960", help="photo size WxH (default 1280x960)")
    p.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (default 3)")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.photo.lower().split("x"))
    dem = synthetic_dem(args.cells)
    xmin, ymin, xmax, ymax = dem.extent
    position = (xmin + 0.2 * (xmax - xmin), ymin + 0.5 * (ymax - ymin), 0.0)
    position = (position[0], position[1], float(dem.sample(position[0], position[1])) + 15.0)
    target = (xmin + 0.8 * (xmax - xmin), ymin + 0.55 * (ymax - ymin))
    target = (*target, float(dem.sample(*target)))
    camera = Camera.looking_at(position, target, 0.8 * w, (w, h))
    mask = np.zeros((h, w), dtype=bool)
    mask[h // 4:, w // 4:3 * w // 4] = True
    build, project = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        projector = TerrainProjector(camera, dem)
        t1 = time.perf_counter()
        result = projector.project(mask)
        t2 = time.perf_counter()
        build.append(t1 - t0)
        project.append(t2 - t1)
    print(f"DEM {args.cells}×{args.cells} cells ({args.cells ** 2 / 1e6:.1f} M), photo {w}×{h} px: "
          f"projector {min(build):.2f} s (grid, projection, depth buffer, visibility), one mask "
          f"{min(project):.2f} s -> {len(result.polygons_wkt)} polygons, {result.n_cells} cells, "
          f"{result.n_sky_px} mask px on sky; {projector.cells.size} visible cells in all; best of {args.repeat}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
