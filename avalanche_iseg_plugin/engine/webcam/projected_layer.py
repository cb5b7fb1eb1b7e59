"""Writing projected webcam outlines to a GeoPackage with OGR (no QGIS needed).

One MultiPolygon feature per object, in the DEM's CRS, with the avalanche layer's usual fields
(``id``, ``area_m2``, ``perimeter_m``, ``source``, ``n_pos``, ``n_neg``, ``model``, ``threshold``,
``created_utc``, ``method`` = ``webcam``; see layers/avalanche_layer.py) plus ``photo``,
``camera_file``, ``visible_fraction``, ``mean_distance_m``, ``z_min``, ``z_max``, ``n_mask_px`` and
``n_sky_px`` (mask pixels that hit no terrain).  Areas and lengths are planar in the DEM's CRS.
A missing GeoPackage or layer is created; an existing layer is appended to (ids continue) when its
CRS is the DEM's.  Every feature is written in one transaction: a failure writes none of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from osgeo import ogr, osr

from ..errors import LayerError
from ..vectorize import as_multipolygon_wkt
from .camera_file import same_crs

METHOD_WEBCAM = "webcam"
FIELDS = (("id", ogr.OFTInteger), ("area_m2", ogr.OFTReal), ("perimeter_m", ogr.OFTReal),
          ("source", ogr.OFTString), ("n_pos", ogr.OFTInteger), ("n_neg", ogr.OFTInteger),
          ("model", ogr.OFTString), ("threshold", ogr.OFTReal), ("created_utc", ogr.OFTString),
          ("method", ogr.OFTString), ("photo", ogr.OFTString), ("camera_file", ogr.OFTString),
          ("visible_fraction", ogr.OFTReal), ("mean_distance_m", ogr.OFTReal), ("z_min", ogr.OFTReal),
          ("z_max", ogr.OFTReal), ("n_mask_px", ogr.OFTInteger), ("n_sky_px", ogr.OFTInteger))


@dataclass
class WebcamFeature:
    """What one feature holds: a ProjectedObject (terrain_projection.py) and where it came from."""

    projected: object
    photo: str
    camera_file: str
    n_pos: int | None = None
    n_neg: int | None = None
    model: str | None = None
    threshold: float | None = None


def _open_or_create(path: str, layer_name: str, crs_wkt: str):
    driver = ogr.GetDriverByName("GPKG")
    ds = ogr.Open(path, 1) if ogr.Open(path) is not None else driver.CreateDataSource(path)
    if ds is None:
        raise LayerError(f"OGR cannot open or create the GeoPackage '{path}'.")
    layer = ds.GetLayerByName(layer_name)
    if layer is None:
        srs = None
        if crs_wkt:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(crs_wkt)
        layer = ds.CreateLayer(layer_name, srs=srs, geom_type=ogr.wkbMultiPolygon, options=["FID=fid"])
        if layer is None:
            raise LayerError(f"OGR cannot create the layer '{layer_name}' in '{path}'.")
        for name, kind in FIELDS:
            layer.CreateField(ogr.FieldDefn(name, kind))
        return ds, layer
    srs = layer.GetSpatialRef()
    if not same_crs(srs.ExportToWkt() if srs is not None else "", crs_wkt):
        raise LayerError(f"The layer '{layer_name}' in '{path}' is in another CRS than the DEM; write to another "
                         "GeoPackage or layer name.")
    if ogr.GT_Flatten(layer.GetGeomType()) not in (ogr.wkbMultiPolygon, ogr.wkbPolygon, ogr.wkbUnknown):
        raise LayerError(f"The layer '{layer_name}' in '{path}' is not a polygon layer; write to another layer name.")
    defn = layer.GetLayerDefn()
    for name, kind in FIELDS:
        if defn.GetFieldIndex(name) < 0:
            layer.CreateField(ogr.FieldDefn(name, kind))
    return ds, layer


def _next_id(layer) -> int:
    ids = [f.GetField("id") for f in layer if f.GetField("id") is not None]
    layer.ResetReading()
    return max(ids, default=0) + 1


def write_webcam_features(path, features: list[WebcamFeature], crs_wkt: str,
                          layer_name: str = "avalanches") -> list[int]:
    """Write the features (one transaction); returns their ids."""
    path = str(path)
    ds, layer = _open_or_create(path, layer_name, crs_wkt)
    next_id = _next_id(layer)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = []
    layer.StartTransaction()
    try:
        for k, item in enumerate(features):
            p = item.projected
            geom = ogr.CreateGeometryFromWkt(as_multipolygon_wkt(p.polygons_wkt))
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetGeometry(geom)
            values = {"id": next_id + k, "area_m2": geom.GetArea(), "perimeter_m": geom.Boundary().Length(),
                      "source": item.photo, "n_pos": item.n_pos, "n_neg": item.n_neg, "model": item.model,
                      "threshold": item.threshold, "created_utc": created, "method": METHOD_WEBCAM,
                      "photo": item.photo, "camera_file": item.camera_file,
                      "visible_fraction": p.visible_fraction, "mean_distance_m": p.mean_distance,
                      "z_min": p.z_min, "z_max": p.z_max, "n_mask_px": p.n_mask_px, "n_sky_px": p.n_sky_px}
            for name, value in values.items():
                if value is not None and value == value:  # skips None and NaN
                    feature.SetField(name, value)
            if layer.CreateFeature(feature) != 0:
                raise LayerError(f"OGR could not write object {k + 1} to '{path}' ({ogr.GetLastErrorMsg() or 'no reason'}).")
            ids.append(next_id + k)
        layer.CommitTransaction()
    except Exception:
        layer.RollbackTransaction()
        raise
    finally:
        layer = None
        ds = None
    return ids
