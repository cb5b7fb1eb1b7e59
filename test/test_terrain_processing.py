"""The Processing algorithm "Terrain attributes" over a real inventory polygon (the Tirol release area,
../shared/gis/avaframe_alr) and over one that leaves the DEM, through processing.run."""
from __future__ import annotations

import pytest
from osgeo import gdal, ogr
from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

from conftest import shared_path
from processing_helpers import Feedback
from test_terrain_attributes import _independent


def test_terrain_attributes_of_the_tirol_release_area(provider, tmp_path):
    import processing

    release = shared_path("gis", "avaframe_alr", "relAlr.shp")
    dem = shared_path("gis", "avaframe_alr", "avaAlr.tif")
    source = QgsVectorLayer(str(release), "relAlr", "ogr")
    inside = next(source.getFeatures())
    shifted = QgsVectorLayer(f"Polygon?crs={source.crs().authid()}", "half_out", "memory")
    geometry = QgsGeometry(inside.geometry())
    gt = gdal.Open(str(dem)).GetGeoTransform()
    box = geometry.boundingBox()
    geometry.translate(gt[0] - box.center().x(), 0)      # straddles the DEM's western edge
    feature = QgsFeature()
    feature.setGeometry(geometry)
    shifted.dataProvider().addFeatures([feature])
    out = tmp_path / "terrain.gpkg"
    feedback = Feedback()
    processing.run("avalanche_iseg:terrain_attributes", {"INPUT": str(release), "DEM": str(dem),
                                                         "OUTPUT": str(out)}, feedback=feedback)
    assert feedback.errors == []
    ds = ogr.Open(str(out))
    (row,) = [f.items() for f in ds.GetLayer(0)]
    truth = _independent(tmp_path)
    for name in ("elev_min_m", "elev_max_m", "slope_mean_deg"):
        assert abs(row[name] - truth[name]) <= 1.0, name
    assert abs((row["aspect_deg"] - truth["aspect_deg"] + 180) % 360 - 180) <= 1.0
    assert row["area_3d_m2"] == pytest.approx(truth["area_3d_m2"], rel=0.01)
    assert set(source.fields().names()) <= set(row)       # the polygon's own fields are kept

    out2 = tmp_path / "half_out.gpkg"
    processing.run("avalanche_iseg:terrain_attributes", {"INPUT": shifted, "DEM": str(dem), "OUTPUT": str(out2)},
                   feedback=feedback)
    assert len(feedback.errors) == 1 and "beyond the DEM" in feedback.errors[0]
    ds = ogr.Open(str(out2))
    (row,) = [f.items() for f in ds.GetLayer(0)]
    assert all(row[name] is None for name in ("elev_min_m", "elev_max_m", "slope_mean_deg", "aspect_deg",
                                              "area_3d_m2"))
