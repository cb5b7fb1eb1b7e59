"""Photo masks: read a mask image, or rasterise photo-space polygons (from a DigitisingSession) back
onto the whole photo's pixel grid.

A mask image (PNG, TIFF, any GDAL raster) has the photo's size; a pixel is in the mask when any of its
colour bands is not 0 (nor the band's nodata value) and its alpha, if it has one, is not 0.  Photo-space polygons are in the coordinates QGIS
gives a photo without georeference (x = col, y = -row, see grid.PHOTO_GEOTRANSFORM); a pixel
is in when its centre is inside.
"""
from __future__ import annotations

import os

import numpy as np
from osgeo import gdal

from ..errors import CameraError
from ..gdal_open import open_quietly
from ..grid import PHOTO_GEOTRANSFORM
from ..vectorize import rasterize_polygons


def read_mask(path) -> np.ndarray:
    """H×W bool mask of an image file; CameraError with one sentence when it cannot be read."""
    path = str(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise CameraError(f"The mask '{path}' does not exist.")
    ds, _message = open_quietly(path)
    if ds is None or ds.RasterCount == 0:
        raise CameraError(f"GDAL cannot read the mask '{name}' as an image; give a PNG or TIFF of the photo's size.")
    mask = np.zeros((ds.RasterYSize, ds.RasterXSize), dtype=bool)
    alpha = None
    for k in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(k)
        values = band.ReadAsArray()
        if band.GetColorInterpretation() == gdal.GCI_AlphaBand:
            alpha = values > 0
            continue
        on = values != 0
        nodata = band.GetNoDataValue()
        if nodata is not None:
            on &= values != nodata
        mask |= on
    return mask if alpha is None else mask & alpha


def image_size_of(path) -> tuple[int, int]:
    """(width, height) of an image file; CameraError when GDAL cannot read it."""
    path = str(path)
    if not os.path.isfile(path):
        raise CameraError(f"The photo '{path}' does not exist.")
    ds, _message = open_quietly(path)
    if ds is None:
        raise CameraError(f"GDAL cannot read the photo '{os.path.basename(path)}' as an image; give a JPEG, PNG or TIFF.")
    return ds.RasterXSize, ds.RasterYSize


def polygons_to_photo_mask(polygons_wkt, image_size) -> np.ndarray:
    """H×W bool mask of the photo pixels whose centre lies in the photo-space polygons."""
    return rasterize_polygons(polygons_wkt, PHOTO_GEOTRANSFORM, (int(image_size[1]), int(image_size[0])))
