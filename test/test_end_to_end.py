"""End to end with the real predictor: the plugin loads the RITM reference checkpoint (hrnet18s) through
the dock, predicts on the worker thread after real canvas clicks, and Space writes a polygon to the
GeoPackage. The fixture weights are poor, so the test checks where the polygon is and what its
attributes say, not its exact shape."""
import time

import pytest
from osgeo import ogr
from qgis.core import QgsSettings
from qgis.PyQt.QtCore import Qt

from canvas_driver import Digitiser, read_gpkg
from conftest import shared_path


@pytest.fixture
def real_digitiser(qgis_iface, qgis_new_project, tmp_path):
    checkpoint = shared_path("ritm_reference", "hrnet18s_itermask_ref.pth")
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path, fake=False)
    d.plugin.dock.checkpoint_widget.setFilePath(str(checkpoint))
    assert d.controller.settings.checkpoint == str(checkpoint)
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


def test_real_predictor_clicks_to_polygon(real_digitiser, tmp_path):
    d = real_digitiser
    c = d.controller
    target = tmp_path / "avalanches.gpkg"
    assert c.target.create(str(target)) is not None

    x, y = d.info["lobe_xy"]
    started = time.monotonic()
    d.click(x, y, wait=False)
    returned = time.monotonic() - started
    assert len(c.rules.pending) == 1 and c.worker.pending >= 1   # the click returned at once; the model runs on the worker
    c.wait_idle(180)
    assert d.warnings() == []
    assert c.state.model_name == "hrnet18s_itermask_ref"
    assert c.state.mask is not None and c.state.mask.any()
    assert "hrnet18s_itermask_ref" in d.plugin.dock.status_label.text()
    d.click(*d.info["outside_xy"], button=Qt.RightButton)
    assert d.warnings() == []
    d.key(Qt.Key_Space)
    assert d.warnings() == []

    features, srs = read_gpkg(target)
    assert len(features) == 1
    _, attrs, geometry = features[0]
    assert srs.GetAuthorityCode(None) == "2056"
    assert attrs["model"] == "hrnet18s_itermask_ref"
    assert attrs["n_pos"] == 1 and attrs["n_neg"] == 1 and attrs["source"] == "ortho"
    assert attrs["threshold"] == pytest.approx(0.49)
    assert attrs["area_m2"] == pytest.approx(geometry.GetArea(), rel=0.01) and attrs["area_m2"] > 0
    # the polygon lies within the working window around the positive click (512 px of 0.5 m)
    click = ogr.CreateGeometryFromWkt(f"POINT ({x} {y})")
    assert geometry.Distance(click) < 50.0
    xmin, xmax, ymin, ymax = geometry.GetEnvelope()
    assert x - 130 <= xmin and xmax <= x + 130 and y - 130 <= ymin and ymax <= y + 130
    assert returned < 1.0
