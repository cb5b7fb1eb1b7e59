"""Ground control points: the CSV file ``col,row,x,y,z`` and the checks shared by every front end.

``col``/``row`` are photo pixels in the package's convention ((0, 0) the photo's top-left corner, row
down; a pixel's centre is at +0.5, as QGIS measures a photo without georeference); ``x``/``y`` map
coordinates in the DEM's CRS; ``z`` the height, or empty to take it from the DEM.  Other columns
(e.g. ``name``) are allowed and ignored; comma, semicolon or tab separated; a UTF-8 BOM is fine.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CameraError

COLUMNS = ("col", "row", "x", "y", "z")


@dataclass
class GroundControlPoints:
    """N GCPs: ``pixels`` N×2 (col, row), ``world`` N×3 (x, y, z; z NaN until taken from the DEM)."""

    pixels: np.ndarray
    world: np.ndarray
    z_from_dem: np.ndarray  # bool N: the height came from the DEM

    def __len__(self) -> int:
        return len(self.pixels)

    @classmethod
    def from_arrays(cls, pixels, world) -> "GroundControlPoints":
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        world = np.asarray(world, dtype=np.float64)
        if world.ndim == 2 and world.shape[1] == 2:
            world = np.column_stack([world, np.full(len(world), np.nan)])
        world = world.reshape(-1, 3).copy()
        if len(world) != len(pixels):
            raise CameraError(f"There are {len(pixels)} photo points but {len(world)} map points; give one of each per GCP.")
        return cls(pixels, world, np.isnan(world[:, 2]))

    def subset(self, keep) -> "GroundControlPoints":
        return GroundControlPoints(self.pixels[keep], self.world[keep], self.z_from_dem[keep])

    def with_dem_heights(self, dem) -> "GroundControlPoints":
        """Check every GCP is on the DEM; fill the missing heights from it (bilinear)."""
        x, y = self.world[:, 0], self.world[:, 1]
        zdem = dem.sample(x, y)
        for i in range(len(self)):
            if not np.isfinite(zdem[i]):
                xmin, ymin, xmax, ymax = dem.extent
                where = "on a nodata cell of" if dem.contains(x[i], y[i]) else "outside"
                raise CameraError(f"GCP {i + 1} at ({x[i]:.2f}, {y[i]:.2f}) lies {where} the DEM '{dem.name}' "
                                  f"(x {xmin:.2f} to {xmax:.2f}, y {ymin:.2f} to {ymax:.2f}); move it onto the DEM "
                                  "or give a DEM that covers it.")
        world = self.world.copy()
        world[self.z_from_dem, 2] = zdem[self.z_from_dem]
        return GroundControlPoints(self.pixels.copy(), world, self.z_from_dem.copy())


def _number(text: str, line: int, column: str, allow_empty: bool = False) -> float:
    text = (text or "").strip()
    if not text:
        if allow_empty:
            return math.nan
        raise CameraError(f"Line {line} of the GCP file has no value in column '{column}'.")
    try:
        value = float(text)
    except ValueError:
        raise CameraError(f"Line {line} of the GCP file has '{text}' in column '{column}', which is not a number.") from None
    if not math.isfinite(value):
        raise CameraError(f"Line {line} of the GCP file has '{text}' in column '{column}'; give a finite number.")
    return value


def read_gcp_file(path) -> GroundControlPoints:
    """Read a GCP CSV (see the module doc); CameraError with one sentence when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise CameraError(f"The GCP file '{path}' {what}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CameraError(f"The GCP file '{path}' cannot be read as UTF-8 text ({exc}).") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise CameraError(f"The GCP file '{path}' is empty; it needs the header col,row,x,y,z and one line per GCP.")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(lines, dialect=dialect)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CameraError(f"The GCP file '{path.name}' lacks the column(s) {', '.join(missing)}; its header must be "
                          f"col,row,x,y,z (found {','.join(header) or 'nothing'}).")
    reader.fieldnames = header
    pixels, world = [], []
    for line_no, record in enumerate(reader, 2):
        if None in record:
            raise CameraError(f"Line {line_no} of the GCP file has more values than the header has columns.")
        pixels.append([_number(record["col"], line_no, "col"), _number(record["row"], line_no, "row")])
        world.append([_number(record["x"], line_no, "x"), _number(record["y"], line_no, "y"),
                      _number(record["z"], line_no, "z", allow_empty=True)])
    if not pixels:
        raise CameraError(f"The GCP file '{path.name}' has a header but no GCP; add one line col,row,x,y,z per point.")
    return GroundControlPoints.from_arrays(pixels, world)


def write_gcp_file(path, gcps: GroundControlPoints) -> None:
    """Write GCPs as CSV (z empty where it was taken from the DEM)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for (c, r), (x, y, z), from_dem in zip(gcps.pixels, gcps.world, gcps.z_from_dem):
            writer.writerow([repr(float(c)), repr(float(r)), repr(float(x)), repr(float(y)),
                             "" if from_dem or not np.isfinite(z) else repr(float(z))])
