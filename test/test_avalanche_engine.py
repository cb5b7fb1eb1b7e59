"""engine.avalanche_engine: finish_object (the map tool's finish) and segment_object (the batch front
ends) with the deterministic FakePredictor; the one empty-mask error naming the click at fault."""
import pickle

import pytest
from shapely import wkt as shapely_wkt

from avalanche_iseg_plugin.engine.avalanche_engine import finish_object, segment_object
from avalanche_iseg_plugin.engine.errors import EmptyMaskError, RasterError, SessionError
from avalanche_iseg_plugin.engine.raster_window import RasterSource
from avalanche_iseg_plugin.engine.session import DigitisingSession, SessionClick
from gis_fixtures import FakePredictor, make_lobe_geotiff

SIZE = (240, 320)


@pytest.fixture
def lobe(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=SIZE)
    info["source"] = RasterSource.open(info["path"])
    gt = info["geotransform"]
    info["dark_xy"] = (gt[0] + 50.5 * gt[1], gt[3] + 50.5 * gt[5])   # terrain far from outside_xy
    return info


def _session(info, **kwargs):
    return DigitisingSession(info["source"], FakePredictor(**kwargs), margin_px=64)


def _click_by_click(session, clicks):
    """The map tool's way: clicks one by one, recording the mask after each."""
    session.discard()
    seen = []
    for x, y, positive in clicks:
        session.add_click(x, y, positive)
        seen.append(bool(session.mask.any()))
    return seen


def test_empty_mask_names_the_negative_click_that_emptied_it(lobe):
    out, dark = lobe["outside_xy"], lobe["dark_xy"]
    session = _session(lobe)
    clicks = [(*out, True), (*out, False), (*dark, True), (*dark, False)]
    # empty after click 2, back after click 3 (a blob at dark), empty again after click 4: click 4
    assert _click_by_click(session, clicks) == [True, False, True, False]
    with pytest.raises(EmptyMaskError) as err:
        finish_object(session)
    assert err.value.click_number == 4 and not err.value.is_positive
    assert str(err.value) == (f"Click 4 (at {dark[0]:.2f}, {dark[1]:.2f}) gave an empty mask: the negative click "
                              "removed the whole mask; move it off the avalanche or drop it.")
    # the same clicks through the batch path give the same error
    with pytest.raises(EmptyMaskError) as batch:
        segment_object(session, clicks)
    assert str(batch.value) == str(err.value)
    assert isinstance(batch.value, SessionError)


def test_empty_mask_that_stayed_empty_names_the_first_empty_click(lobe):
    out = lobe["outside_xy"]
    session = _session(lobe)
    with pytest.raises(EmptyMaskError) as err:
        segment_object(session, [(*out, True), (*out, False), (*lobe["lobe_xy"], False)])
    assert err.value.click_number == 2
    assert "Click 2 (at " in str(err.value) and "the clicks after it did not bring it back" in str(err.value)
    # a batch front end says which object it was
    assert err.value.sentence("object 7").startswith(f"Click 2 of object 7 (at {out[0]:.2f}, {out[1]:.2f}) gave")
    copy = pickle.loads(pickle.dumps(err.value))
    assert str(copy) == str(err.value) and copy.click_number == 2


def test_positive_click_that_finds_nothing_is_named(lobe):
    session = _session(lobe, threshold=0.95)   # the stand-in's 0.9 never passes: every mask is empty
    with pytest.raises(EmptyMaskError) as err:
        segment_object(session, [SessionClick(*lobe["lobe_xy"], True), SessionClick(*lobe["hole_xy"], True)])
    assert err.value.click_number == 1 and err.value.is_positive
    assert "the model sees no avalanche there, and the clicks after it did not bring it back" in str(err.value)
    assert "threshold" not in str(err.value)   # front ends add their own hint


def test_undo_forgets_the_record_of_the_click(lobe):
    out = lobe["outside_xy"]
    session = _session(lobe)
    _click_by_click(session, [(*out, True), (*out, False), (*out, False)])
    session.undo()
    with pytest.raises(EmptyMaskError) as err:
        finish_object(session)
    assert err.value.click_number == 2 and "after it" not in str(err.value)
    with pytest.raises(SessionError, match="left-click on the avalanche first"):
        session.discard() or finish_object(session)


def test_segment_object_opens_one_window_around_all_clicks(lobe):
    """Two clicks far apart: the batch path reads the window once; the map tool's path grows it and
    replays; both give the same polygons (the lobe) when the window covers the same object."""
    far = lobe["dark_xy"]
    batch = _session(lobe)
    finished = segment_object(batch, [(*lobe["lobe_xy"], True), (*far, False)], min_area=0)
    assert batch.predictor.n_set_image == 1
    window = batch.window
    assert window.contains(*lobe["lobe_xy"]) and window.contains(*far)
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    got = shapely_wkt.loads(finished.multipolygon_wkt)
    assert got.symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    assert (finished.n_pos, finished.n_neg) == (1, 1)

    interactive = _session(lobe)
    _click_by_click(interactive, [(*lobe["lobe_xy"], True), (*far, False)])
    assert interactive.predictor.n_set_image == 2   # the window grew for the far click
    again = finish_object(interactive, min_area=0)
    assert shapely_wkt.loads(again.multipolygon_wkt).symmetric_difference(got).area == pytest.approx(0.0, abs=1e-6)


def test_segment_object_discards_the_previous_object_and_checks_clicks(lobe):
    session = _session(lobe)
    session.add_click(*lobe["dark_xy"], True)
    finished = segment_object(session, [(*lobe["lobe_xy"], True)])
    assert finished.n_pos == 1 and session.clicks == [SessionClick(*lobe["lobe_xy"], True)]
    gt = lobe["geotransform"]
    with pytest.raises(RasterError, match="outside the raster"):
        segment_object(session, [(gt[0] - 10.0, gt[3] + 10.0, True)])
    with pytest.raises(SessionError, match="at least one click"):
        segment_object(session, [])
