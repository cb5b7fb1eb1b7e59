"""The Processing algorithm "Segment avalanches from points", run through processing.run in a real
QgsApplication with Processing initialised (FakePredictor stands in for the model)."""
import pytest
from osgeo import ogr
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeature,
                       QgsField, QgsGeometry, QgsPointXY, QgsProject, QgsRasterLayer,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QVariant

from avalanche_iseg_plugin.engine.click_groups import click_sign
from avalanche_iseg_plugin.toolbox.segment_algorithm import SegmentFromPointsAlgorithm
from canvas_driver import assert_matches_lobe, read_gpkg
from gis_fixtures import FakePredictor, make_lobe_geotiff
from processing_helpers import Feedback


def _points(info, rows):
    """A memory point layer in EPSG:3857 (the raster is EPSG:2056) with fields sign and obj."""
    layer = QgsVectorLayer("Point?crs=EPSG:3857", "clicks", "memory")
    layer.dataProvider().addAttributes([QgsField("sign", QVariant.String), QgsField("obj", QVariant.String)])
    layer.updateFields()
    to_3857 = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:2056"),
                                     QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance())
    features = []
    for (x, y), sign, obj in rows:
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(to_3857.transform(QgsPointXY(x, y))))
        f.setAttributes([sign, obj])
        features.append(f)
    layer.dataProvider().addFeatures(features)
    return layer


def test_click_sign_words():
    assert [click_sign(v) for v in (1, 0, -1, "yes", "Negative", "+", "-", None, "maybe")] == \
        [True, False, False, True, False, True, False, None, None]


def test_segment_from_points_to_geopackage(provider, tmp_path):
    import processing

    info = make_lobe_geotiff(tmp_path / "ortho.tif")
    raster = QgsRasterLayer(info["path"], "ortho")
    gt = info["geotransform"]
    dark = (gt[0] + 50 * gt[1], gt[3] + 50 * gt[5])           # terrain, not the lobe
    outside = (gt[0] - 100.0, gt[3] + 100.0)
    points = _points(info, [(info["lobe_xy"], "positive", "A"), (info["outside_xy"], "negative", "A"),
                            (dark, "1", "B"), (outside, "1", "C"), (info["lobe_xy"], "perhaps", "A")])
    out = tmp_path / "batch.gpkg"
    feedback = Feedback()
    result = processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": raster, "POINTS": points, "SIGN_FIELD": "sign", "GROUP_FIELD": "obj",
        "CHECKPOINT": str(tmp_path / "unused.pth"), "DEVICE": 0, "THRESHOLD": 0.49, "MAX_SIDE": 1600,
        "MIN_AREA": 25.0, "SIMPLIFY": 0.0, "OUTPUT": str(out)}, feedback=feedback)
    assert result["OUTPUT"].startswith(str(out))
    features, srs = read_gpkg(out)
    assert srs.GetAuthorityCode(None) == "2056"
    assert len(features) == 1
    _, attrs, geometry = features[0]
    assert_matches_lobe(geometry, info)
    assert attrs["n_pos"] == 1 and attrs["n_neg"] == 1 and attrs["method"] == "points"
    assert attrs["source"] == "ortho" and attrs["model"] == "fake" and attrs["id"] == 1
    assert attrs["area_m2"] == pytest.approx(info["area"], rel=0.01)
    # the speck of B, the point of C outside the raster and the unreadable sign are reported, not fatal
    assert any("'B'" in e and "minimum area" in e for e in feedback.errors)
    assert any("outside the raster" in e for e in feedback.errors)
    assert any("perhaps" in e for e in feedback.errors)
    assert feedback.progress and feedback.progress[-1] == 100.0


def test_segment_without_fields_one_avalanche_per_positive_point(provider, tmp_path):
    import processing

    info = make_lobe_geotiff(tmp_path / "ortho.tif")
    raster = QgsRasterLayer(info["path"], "ortho")
    points = _points(info, [(info["lobe_xy"], None, None)])
    out = tmp_path / "plain.gpkg"
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": raster, "POINTS": points, "CHECKPOINT": str(tmp_path / "unused.pth"), "OUTPUT": str(out)})
    features, _ = read_gpkg(out)
    assert len(features) == 1 and features[0][1]["n_pos"] == 1
    assert_matches_lobe(features[0][2], info)


def test_missing_checkpoint_fails_with_one_sentence(provider, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    SegmentFromPointsAlgorithm.predictor_factory = None   # the real loader
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(120, 160))
    raster = QgsRasterLayer(info["path"], "ortho")
    points = _points(info, [(info["lobe_xy"], "1", "A")])
    with pytest.raises(QgsProcessingException) as err:
        processing.run("avalanche_iseg:segment_from_points", {
            "RASTER": raster, "POINTS": points, "CHECKPOINT": str(tmp_path / "missing.pth"),
            "OUTPUT": str(tmp_path / "x.gpkg")})
    message = str(err.value)
    # The exception's traceback holds the layers' frames: let go of it while QGIS is still running
    # (a QgsRasterLayer destroyed after QGIS exits crashes the interpreter at shutdown).
    del err, raster, points
    assert "missing.pth" in message and "does not exist" in message


def _points_2056(rows):
    """A memory point layer in the raster's CRS (no transform: the clicks are exactly the CLI's)."""
    layer = QgsVectorLayer("Point?crs=EPSG:2056", "clicks", "memory")
    layer.dataProvider().addAttributes([QgsField("sign", QVariant.String), QgsField("obj", QVariant.String)])
    layer.updateFields()
    features = []
    for (x, y), sign, obj in rows:
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        f.setAttributes([sign, obj])
        features.append(f)
    layer.dataProvider().addFeatures(features)
    return layer


def test_processing_writes_attributes_by_name(provider, tmp_path, monkeypatch):
    """The output's fields in another order (reversed) still get the right values."""
    import processing
    from qgis.core import QgsFields

    from avalanche_iseg_plugin.layers import avalanche_fields as fields_module

    schema_fields = fields_module.avalanche_fields

    def reversed_fields():
        fields = QgsFields()
        for field in reversed(list(schema_fields())):
            fields.append(field)
        return fields

    monkeypatch.setattr(fields_module, "avalanche_fields", reversed_fields)
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320))
    raster = QgsRasterLayer(info["path"], "ortho")
    points = _points_2056([(info["lobe_xy"], "1", "A"), (info["outside_xy"], "0", "A")])
    out = tmp_path / "reversed.gpkg"
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": raster, "POINTS": points, "SIGN_FIELD": "sign", "GROUP_FIELD": "obj",
        "CHECKPOINT": str(tmp_path / "unused.pth"), "THRESHOLD": 0.49, "OUTPUT": str(out)})
    ds = ogr.Open(str(out))
    names = [d.GetName() for d in ds.GetLayer(0).schema]
    ds = None
    from avalanche_iseg_plugin.engine.avalanche_schema import FIELD_NAMES

    assert names == list(reversed(FIELD_NAMES))
    assert names[-11:] == ["units", "method", "created_utc", "threshold", "model", "n_neg", "n_pos", "source", "perimeter_m",
                           "area_m2", "id"]
    (_, attrs, geometry), = read_gpkg(out)[0]
    assert attrs["id"] == 1 and attrs["method"] == "points" and attrs["source"] == "ortho"
    assert attrs["units"] == "m"
    assert (attrs["n_pos"], attrs["n_neg"]) == (1, 1) and attrs["model"] == "fake"
    assert attrs["threshold"] == pytest.approx(0.49) and attrs["created_utc"].endswith("Z")
    assert attrs["area_m2"] == pytest.approx(geometry.GetArea(), rel=1e-9)
    assert attrs["perimeter_m"] == pytest.approx(geometry.Boundary().Length(), rel=1e-9)


def test_cli_and_processing_give_the_same_polygons(provider, tmp_path, monkeypatch, capsys):
    """The same clicks on the same raster through the segment CLI and the Processing algorithm: both run
    avalanche_engine.segment_object, so the polygons (and their measures) are the same."""
    import json

    import processing

    from avalanche_iseg_plugin.cli import segment

    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320))
    gt = info["geotransform"]
    far = (gt[0] + 20.5 * gt[1], gt[3] + 20.5 * gt[5])     # terrain far from the lobe: the window differs
    objects = {"A": [(info["lobe_xy"], True), (info["outside_xy"], False), (far, False)],
               "B": [(info["outside_xy"], True)]}
    clicks = tmp_path / "clicks.json"
    clicks.write_text(json.dumps([[{"x": x, "y": y, "positive": p} for (x, y), p in obj] for obj in objects.values()]))
    monkeypatch.setattr(segment, "make_predictor", lambda path, device, threshold: FakePredictor(threshold=threshold))
    (tmp_path / "unused.pth").write_bytes(b"never read")
    cli_out = tmp_path / "cli.gpkg"
    assert segment.main(["--raster", info["path"], "--clicks", str(clicks), "--out", str(cli_out),
                         "--checkpoint", str(tmp_path / "unused.pth"), "--min-area", "0"]) == 0, capsys.readouterr().err
    points = _points_2056([(xy, "1" if p else "0", key) for key, obj in objects.items() for xy, p in obj])
    tool_out = tmp_path / "tool.gpkg"
    processing.run("avalanche_iseg:segment_from_points", {
        "RASTER": QgsRasterLayer(info["path"], "ortho"), "POINTS": points, "SIGN_FIELD": "sign",
        "GROUP_FIELD": "obj", "CHECKPOINT": str(tmp_path / "unused.pth"), "THRESHOLD": 0.49, "MIN_AREA": 0.0,
        "SIMPLIFY": 0.0, "OUTPUT": str(tool_out)})
    by_cli, by_tool = read_gpkg(cli_out)[0], read_gpkg(tool_out)[0]
    assert len(by_cli) == len(by_tool) == 2
    for (_, a, g), (_, b, h) in zip(by_cli, by_tool):
        assert g.ExportToWkt() == h.ExportToWkt()
        for name in ("id", "n_pos", "n_neg", "source", "model", "threshold", "area_m2", "perimeter_m"):
            assert a[name] == b[name], name
        assert (a["method"], b["method"]) == ("interactive", "points")
    assert_matches_lobe(by_cli[0][2], info)
    assert by_cli[1][1]["area_m2"] < 20.0          # the stand-in's small blob at the dark click


def test_a_run_without_checkpoint_uses_the_docks_model(provider, tmp_path):
    """Processing models, scripts and qgis_process leave optional inputs out: the checkpoint is then the one
    the dock uses (the bundled model unless the analyst chose another), not 'Incorrect parameter value'."""
    import processing
    from avalanche_iseg_plugin.engine.plugin_settings import default_checkpoint_path
    from avalanche_iseg_plugin.layers.settings import load_settings

    used = []
    SegmentFromPointsAlgorithm.predictor_factory = staticmethod(
        lambda c, d, t: used.append(c) or FakePredictor(threshold=t))
    info = make_lobe_geotiff(tmp_path / "ortho.tif")
    raster = QgsRasterLayer(info["path"], "ortho")
    points = _points(info, [(info["lobe_xy"], None, None)])
    processing.run("avalanche_iseg:segment_from_points", {"RASTER": raster, "POINTS": points,
                                                          "OUTPUT": str(tmp_path / "a.gpkg")})
    processing.run("avalanche_iseg:segment_from_points", {"RASTER": raster, "POINTS": points, "CHECKPOINT": "",
                                                          "OUTPUT": str(tmp_path / "b.gpkg")})
    assert used == [load_settings().checkpoint] * 2 and used[0] == default_checkpoint_path()
    assert len(read_gpkg(tmp_path / "a.gpkg")[0]) == len(read_gpkg(tmp_path / "b.gpkg")[0]) == 1
