"""The digitising controller's result hook for webcam photos: a finished avalanche on a photo that has a
camera is written as its outline on the terrain.

The webcam controller registers each photo that has a camera (``register``: photo name -> camera,
camera file, DEM file and the DEM's CRS).  When the digitiser writes a finished avalanche, ``__call__``
looks at it: polygons in photo pixels (no raster CRS) from a registered photo, going to a target layer
that has a CRS, are projected onto the DEM (engine/webcam/finish_on_terrain.py) and get the webcam
attributes; the fields are added to that layer — the one the user chose as target — when missing.
Anything else is written as it is (a photo without a camera keeps its pixel outline; so does any
photo written into a layer without CRS).  A projection that fails raises its one sentence, and the
digitiser keeps the avalanche unsaved.  The terrain projector of each photo is built in the background
(terrain_preparation.py, started by ``prepare``): an avalanche finished before it is ready is kept
unsaved (WriteDeferred) and written when it is.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...layers.crs import crs_from


@dataclass(frozen=True)
class PhotoCamera:
    camera: object          # engine.webcam.camera.Camera
    camera_path: str
    dem_path: str
    crs_wkt: str            # the DEM layer's CRS (the map polygons' CRS)
    photo_name: str         # the photo's file name, for the attribute


class PhotoProjection:
    def __init__(self):
        from .terrain_preparation import TerrainPreparation

        self.photos: dict[str, PhotoCamera] = {}   # by the photo's layer/source name (file stem)
        self.keep_pixel_outline = False
        self.resolution: float | None = None        # ground resolution; None: the DEM's cells
        self.terrain = TerrainPreparation()
        self.finisher = self.terrain.finisher

    def register(self, source_name: str, photo: PhotoCamera | None) -> None:
        if photo is None:
            self.photos.pop(source_name, None)
        else:
            self.photos[source_name] = photo

    def prepare(self, source_name: str) -> None:
        """Start building the terrain projector of that photo (its camera, DEM, the ground resolution now)."""
        photo = self.photos.get(source_name)
        if photo is not None:
            self.terrain.prepare(photo, self.resolution)

    def wait_idle(self, timeout: float = 60.0) -> None:
        self.terrain.wait_idle(timeout)

    def applies_to(self, item, layer) -> PhotoCamera | None:
        result = item.result
        if result.raster_crs_wkt or layer is None or not crs_from(layer.crs()).isValid():
            return None
        return self.photos.get(str(result.attributes.get("source", "")))

    def __call__(self, item, layer):
        from ...engine.webcam.finish_on_terrain import PIXEL_FIELD, WEBCAM_FIELDS, finish_on_terrain
        from ...layers.webcam_fields import add_missing_fields

        photo = self.applies_to(item, layer)
        if photo is None:
            return item
        projector = self.terrain.projector(photo, self.resolution)
        if projector is None:                 # still being built: kept unsaved, written when ready
            self.terrain.defer(item, layer, photo)
        outline = finish_on_terrain(item.result.polygons_wkt, projector, photo.photo_name, photo.camera_path,
                                    keep_pixel_outline=self.keep_pixel_outline)
        add_missing_fields(layer, WEBCAM_FIELDS + ((PIXEL_FIELD,) if self.keep_pixel_outline else ()))
        attributes = {**item.result.attributes, **outline.attributes}
        result = replace(item.result, polygons_wkt=outline.polygons_wkt, attributes=attributes,
                         raster_crs_wkt=photo.crs_wkt or outline.crs_wkt)
        return replace(item, result=result)
