"""A finished avalanche on a webcam photo -> its outline on the terrain, with the webcam attributes.

The digitiser finishes an avalanche on a photo as polygons in photo pixels (QGIS's convention for a
photo without georeference: x = col, y = -row).  ``finish_on_terrain`` rasterises them back into a
photo mask (pixel-centre rule, so a pixel-exact outline gives back exactly its mask), projects the
mask onto the DEM through the camera (terrain_projection.py: depth buffer, only visible ground is
claimed) and returns the map polygons in the DEM's CRS with the attributes the avalanche layer gets
on top of the usual ones (see ``WEBCAM_FIELDS``).  ``TerrainFinisher`` keeps one TerrainProjector per
camera and DEM, so every avalanche of a photo after the first is projected at once; ``build_projector``
is the expensive step on its own (the plugin runs it in the background, gui/webcam/terrain_preparation.py).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from osgeo import ogr

from ..errors import CameraError
from ..grid import PHOTO_GEOTRANSFORM
from ..vectorize import rasterize_polygons
from .camera import Camera
from .dem import Dem
from .terrain_projection import TerrainProjector


#: (name, type, width) of the attributes a projected avalanche gets; names fit a Shapefile (<= 10 chars)
WEBCAM_FIELDS = (
    ("photo", "string", 254),        # the photo's file name
    ("camera", "string", 254),       # the camera file
    ("visible_fr", "real", 0),       # mask pixels that show terrain / mask pixels
    ("mean_dist", "real", 0),        # mean distance of the claimed ground from the camera (map units)
    ("z_min", "real", 0),            # lowest claimed ground (DEM units)
    ("z_max", "real", 0),            # highest claimed ground
    ("sky_px", "integer", 0),        # mask pixels that hit no terrain (sky, beyond the DEM)
)
PIXEL_FIELD = ("pixel_wkt", "string", 0)   # optional: the outline in photo pixels (WKT)


@dataclass
class TerrainOutline:
    polygons_wkt: list[str]          # POLYGONs in the DEM's CRS
    crs_wkt: str                     # the DEM's CRS ('' when it has none)
    attributes: dict = field(default_factory=dict)


def mask_from_pixel_polygons(polygons_wkt, image_size) -> np.ndarray:
    """Bool (height, width) mask of the pixels whose centre lies in the photo-pixel polygons."""
    for wkt in polygons_wkt:
        if ogr.CreateGeometryFromWkt(wkt) is None:
            raise CameraError("The avalanche outline on the photo is not a valid polygon.")
    return rasterize_polygons(polygons_wkt, PHOTO_GEOTRANSFORM, (int(image_size[1]), int(image_size[0])))


def _number(value: float):
    return None if value is None or not math.isfinite(value) else float(value)


def finish_on_terrain(polygons_wkt, projector: TerrainProjector, photo_name: str = "", camera_path: str = "",
                      keep_pixel_outline: bool = False, min_area: float | None = None,
                      simplify: float = 0.0) -> TerrainOutline:
    """Photo-pixel polygons -> the visible terrain they show (see the module doc); CameraError (one
    sentence) when none of the outline's pixels shows terrain of the DEM."""
    camera = projector.camera
    mask = mask_from_pixel_polygons(polygons_wkt, camera.image_size)
    if not mask.any():
        raise CameraError("The avalanche outline covers no whole photo pixel, so there is nothing to project.")
    projected = projector.project(mask, min_area=min_area, simplify=simplify)
    if not projected.polygons_wkt:
        raise CameraError(f"None of the avalanche's {projected.n_mask_px} photo pixels shows visible terrain of "
                          f"the DEM '{projector.dem.name}' (sky, beyond the DEM or hidden ground), so it has no "
                          "outline on the map.")
    attributes = {"photo": photo_name, "camera": camera_path or "",
                  "visible_fr": _number(projected.visible_fraction), "mean_dist": _number(projected.mean_distance),
                  "z_min": _number(projected.z_min), "z_max": _number(projected.z_max),
                  "sky_px": int(projected.n_sky_px)}
    if keep_pixel_outline:
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for wkt in polygons_wkt:
            multi.AddGeometry(ogr.CreateGeometryFromWkt(wkt))
        attributes["pixel_wkt"] = multi.ExportToWkt()
    return TerrainOutline(list(projected.polygons_wkt), projector.dem.crs_wkt, attributes)


def projector_key(camera: Camera, dem_path: str, resolution: float | None = None) -> tuple:
    """What a TerrainProjector depends on: the camera, the DEM file (and its modification time), the ground
    resolution."""
    stamp = os.path.getmtime(dem_path) if os.path.isfile(dem_path) else None
    return (camera, os.path.abspath(dem_path), stamp, resolution)


def build_projector(camera: Camera, dem_path: str, resolution: float | None = None,
                    progress=None) -> TerrainProjector:
    """The expensive part (seconds for a large DEM): reads the DEM and makes the camera's depth buffer on it.
    Pure, so a front end may run it on a worker thread; ``progress(fraction)`` as in TerrainProjector."""
    return TerrainProjector(camera, Dem.open(dem_path), resolution, progress=progress)


class TerrainFinisher:
    """One TerrainProjector per (camera, DEM file, ground resolution), made on first use (``projector``) or
    made elsewhere, e.g. in the background, and handed in (``keep``)."""

    def __init__(self):
        self._key = None
        self._projector: TerrainProjector | None = None

    def cached(self, key) -> TerrainProjector | None:
        return self._projector if key == self._key else None

    def keep(self, key, projector: TerrainProjector) -> None:
        self._key, self._projector = key, projector

    def projector(self, camera: Camera, dem_path: str, resolution: float | None = None) -> TerrainProjector:
        key = projector_key(camera, dem_path, resolution)
        if key != self._key:
            self._key, self._projector = None, None
            self.keep(key, build_projector(camera, dem_path, resolution))
        return self._projector
