"""engine.terrain_attributes on real terrain: the Tirol release area of the 1999 Alplehner avalanche
(../shared/gis/avaframe_alr) against an independent computation — ``gdaldem slope/aspect`` on the whole
DEM and zonal numbers of the cells a ``gdal.Warp`` cutline keeps."""
from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from avalanche_iseg_plugin.engine.avalanche_schema import TERRAIN_NAMES
from avalanche_iseg_plugin.engine.terrain_attributes import terrain_attributes
from conftest import shared_path


def _release_polygon():
    ds = ogr.Open(str(shared_path("gis", "avaframe_alr", "relAlr.shp")))
    layer = ds.GetLayer()
    feature = layer.GetNextFeature()
    return feature.GetGeometryRef().ExportToWkt(), layer.GetSpatialRef().ExportToWkt()


def _zonal(raster, cutline, tmp_path, name):
    """Values of ``raster``'s cells whose centre lies in the cutline polygon (gdal.Warp -cutline)."""
    out = gdal.Warp(str(tmp_path / f"{name}.tif"), raster, cutlineDSName=cutline, dstNodata=-99999.0,
                    outputType=gdal.GDT_Float64)
    values = out.GetRasterBand(1).ReadAsArray()
    return values[values != -99999.0]


def _independent(tmp_path):
    dem = str(shared_path("gis", "avaframe_alr", "avaAlr.tif"))
    cutline = str(shared_path("gis", "avaframe_alr", "relAlr.shp"))
    gdal.DEMProcessing(str(tmp_path / "slope.tif"), dem, "slope")
    gdal.DEMProcessing(str(tmp_path / "aspect.tif"), dem, "aspect")   # -9999 where flat
    z = _zonal(dem, cutline, tmp_path, "z")
    slope = _zonal(str(tmp_path / "slope.tif"), cutline, tmp_path, "s")
    aspect = _zonal(str(tmp_path / "aspect.tif"), cutline, tmp_path, "a")
    aspect = np.radians(aspect[aspect >= 0])
    cell = abs(gdal.Open(dem).GetGeoTransform()[1]) ** 2
    return {"elev_min_m": z.min(), "elev_max_m": z.max(), "slope_mean_deg": slope.mean(),
            "aspect_deg": math.degrees(math.atan2(np.sin(aspect).sum(), np.cos(aspect).sum())) % 360,
            "area_3d_m2": (cell / np.cos(np.radians(slope))).sum(), "cells": z.size}


def test_release_area_matches_gdaldem_zonal_numbers(tmp_path):
    wkt, crs = _release_polygon()
    dem = str(shared_path("gis", "avaframe_alr", "avaAlr.tif"))
    terrain = terrain_attributes(dem, wkt, crs)
    truth = _independent(tmp_path)
    assert terrain.problem is None and truth["cells"] > 1000
    got = terrain.values
    assert abs(got["elev_min_m"] - truth["elev_min_m"]) <= 1.0
    assert abs(got["elev_max_m"] - truth["elev_max_m"]) <= 1.0
    assert abs(got["slope_mean_deg"] - truth["slope_mean_deg"]) <= 1.0
    assert abs((got["aspect_deg"] - truth["aspect_deg"] + 180) % 360 - 180) <= 1.0
    assert abs(got["area_3d_m2"] - truth["area_3d_m2"]) <= 0.01 * truth["area_3d_m2"]
    # a release area in the Alps: steep, south-west facing, between 2000 and 2400 m
    assert 2000 < got["elev_min_m"] < got["elev_max_m"] < 2400 and 30 < got["slope_mean_deg"] < 45
    assert 180 < got["aspect_deg"] < 240 and got["area_3d_m2"] > ogr.CreateGeometryFromWkt(wkt).GetArea() * 1.2


def test_polygon_in_another_crs_is_measured_on_the_resampled_dem(tmp_path):
    wkt, crs = _release_polygon()
    dem = str(shared_path("gis", "avaframe_alr", "avaAlr.tif"))
    source, utm = osr.SpatialReference(), osr.SpatialReference()
    source.SetFromUserInput(crs)
    utm.ImportFromEPSG(32632)
    for srs in (source, utm):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geom = ogr.CreateGeometryFromWkt(wkt)
    geom.Transform(osr.CoordinateTransformation(source, utm))
    native = terrain_attributes(dem, wkt, crs).values
    resampled = terrain_attributes(dem, geom.ExportToWkt(), utm.ExportToWkt())
    assert resampled.problem is None
    # bilinear resampling to UTM 32N: the same terrain within a few metres; UTM's grid north differs by
    # the meridian convergence (about 3° here)
    assert abs(resampled.values["elev_min_m"] - native["elev_min_m"]) < 5
    assert abs(resampled.values["elev_max_m"] - native["elev_max_m"]) < 5
    assert abs(resampled.values["slope_mean_deg"] - native["slope_mean_deg"]) < 1
    assert 1 < native["aspect_deg"] - resampled.values["aspect_deg"] < 5


@pytest.mark.parametrize("shift", ["partly", "wholly"])
def test_polygon_leaving_the_dem_gets_empty_terrain_and_a_reason(shift):
    dem = str(shared_path("gis", "avaframe_alr", "avaAlr.tif"))
    gt = gdal.Open(dem).GetGeoTransform()
    x = gt[0] - (50 if shift == "partly" else 500)
    y = gt[3] - 300
    wkt = f"POLYGON(({x} {y},{x + 100} {y},{x + 100} {y - 80},{x} {y - 80},{x} {y}))"
    terrain = terrain_attributes(dem, [wkt], "EPSG:31287")
    assert terrain.values == dict.fromkeys(TERRAIN_NAMES)
    assert "beyond the DEM 'avaAlr.tif'" in terrain.problem


def test_no_crs_and_unreadable_dem_are_one_sentence(tmp_path):
    dem = str(shared_path("gis", "avaframe_alr", "avaAlr.tif"))
    assert "no map coordinates" in terrain_attributes(dem, "POLYGON((0 0,1 0,1 1,0 0))", "").problem
    bad = tmp_path / "dem.tif"
    bad.write_text("not a raster")
    terrain = terrain_attributes(str(bad), "POLYGON((0 0,1 0,1 1,0 0))", "EPSG:31287")
    assert terrain.values == dict.fromkeys(TERRAIN_NAMES) and "cannot be read" in terrain.problem


def test_gdal_error_mode_of_the_process_is_left_alone(tmp_path):
    """Other modules rely on GDAL answering None (not raising): computing terrain must not switch it."""
    before = gdal.GetUseExceptions()
    wkt, crs = _release_polygon()
    terrain_attributes(str(shared_path("gis", "avaframe_alr", "avaAlr.tif")), wkt, crs)
    terrain_attributes(str(tmp_path / "missing.tif"), wkt, crs)
    assert gdal.GetUseExceptions() == before
