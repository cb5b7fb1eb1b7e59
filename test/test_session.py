"""DigitisingSession with the deterministic FakePredictor: windows, growth and replay, box start,
correction of an existing polygon, undo, finish, bad input."""

import numpy as np
import pytest
from shapely import wkt as shapely_wkt
from shapely.geometry import box as shapely_box

from avalanche_iseg_plugin.engine.errors import RasterError, SessionError
from avalanche_iseg_plugin.engine.raster_window import RasterSource, RasterWindow
from avalanche_iseg_plugin.engine.session import DigitisingSession, SessionClick, rasterize_polygon
from gis_fixtures import FakePredictor, make_lobe_geotiff, make_photo_png

SIZE = (240, 320)


@pytest.fixture
def lobe(tmp_path):
    info = make_lobe_geotiff(tmp_path / "lobe.tif", size=SIZE)
    info["source"] = RasterSource.open(info["path"])
    return info


def _shape(finished):
    assert len(finished.polygons_wkt) >= 1
    return shapely_wkt.loads(finished.multipolygon_wkt)


def test_first_click_window_mask_and_exact_polygon(lobe):
    pred = FakePredictor()
    session = DigitisingSession(lobe["source"], pred, margin_px=110)
    src = lobe["source"]
    assert not session.is_active and session.mask is None
    probs = session.add_click(*lobe["lobe_xy"], True)
    r, c = lobe["lobe_pixel"]
    win = session.window
    assert win.native_box == (r - 110, c - 110, SIZE[0] - (r - 110), 221)  # clipped at the bottom
    assert probs.shape == win.image_shape == pred.image_shape
    assert pred.clicks[0].row == 110 and pred.clicks[0].col == 110
    assert session.clicks == [SessionClick(*lobe["lobe_xy"], True)]
    assert (session.n_pos, session.n_neg) == (1, 0)
    # the mask is the lobe (the window covers all of it)
    expected = lobe["mask"][win.row0:win.row0 + win.height, win.col0:win.col0 + win.width]
    np.testing.assert_array_equal(session.mask, expected)
    finished = session.finish()
    got, truth = _shape(finished), shapely_wkt.loads(lobe["outline_wkt"])
    assert got.symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    assert finished.n_pos == 1 and finished.n_neg == 0 and finished.source_name == "lobe"
    assert finished.model == "fake" and finished.threshold == 0.49 and not finished.is_correction
    assert finished.raster_crs_wkt == src.crs_wkt
    assert _shape(finished).area == pytest.approx(lobe["area"])
    # finish keeps the session; discard ends it
    assert session.is_active
    session.discard()
    assert not session.is_active and session.clicks == [] and session.probabilities is None


def test_window_grows_and_clicks_are_replayed(lobe):
    pred = FakePredictor()
    session = DigitisingSession(lobe["source"], pred, margin_px=20)
    session.add_click(*lobe["lobe_xy"], True)
    small = session.window
    assert small.native_box[2:] == (41, 41) and pred.n_set_image == 1
    assert session.mask_at_window_edge  # the lobe goes on beyond the small window
    part = shapely_wkt.loads(session.finish().multipolygon_wkt)
    # a second positive click on the upper part of the lobe, outside the first window
    src = lobe["source"]
    top_xy = src.grid.xy_of(60.5, 160.5)
    assert not small.contains(*top_xy)
    session.add_click(*top_xy, True)
    grown = session.window
    assert pred.n_set_image == 2
    assert grown.row0 <= 40 and grown.row0 + grown.height >= lobe["lobe_pixel"][0] + 21
    # both clicks were replayed on the new image, in order, at their new image positions
    assert [(c.row, c.col) for c in pred.clicks] == [grown.to_image(*lobe["lobe_xy"]), grown.to_image(*top_xy)]
    assert session.mask_at_window_edge  # still wider than the grown window
    whole = shapely_wkt.loads(session.finish().multipolygon_wkt)
    assert whole.area > 2 * part.area
    assert whole.contains(part.buffer(-0.01))
    # a click inside the grown window (away from its edges) does not re-read the image
    session.add_click(*src.grid.xy_of(100.5, 160.5), False)
    assert pred.n_set_image == 2 and session.n_neg == 1


def test_window_around_all_known_clicks_is_read_once(lobe):
    """Headless use: the window opened around every click in advance needs no growth and no replay."""
    src = lobe["source"]
    top_xy = src.grid.xy_of(60.5, 160.5)
    pred = FakePredictor()
    session = DigitisingSession(src, pred, margin_px=20)
    session.open_window_around([lobe["lobe_xy"], top_xy])
    win = session.window
    assert win.contains(*lobe["lobe_xy"]) and win.contains(*top_xy) and pred.n_set_image == 1
    session.add_click(*lobe["lobe_xy"], True)
    session.add_click(*top_xy, True)
    assert pred.n_set_image == 1 and len(pred.clicks) == 2
    with pytest.raises(SessionError, match="discard"):
        session.open_window_around([top_xy])


def test_window_downsampled_when_longer_than_max_side(lobe):
    pred = FakePredictor()
    session = DigitisingSession(lobe["source"], pred, max_side=64, margin_px=200)
    session.add_click(*lobe["lobe_xy"], True)
    assert max(pred.image_shape) == 64
    got = _shape(session.finish(min_area=0))
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    step = 0.5 * max(session.window.row_step, session.window.col_step)
    assert got.geoms[0].exterior.hausdorff_distance(truth.exterior) <= step + 1e-9


def test_negative_click_and_undo(lobe):
    pred = FakePredictor(negative_radius=10)
    session = DigitisingSession(lobe["source"], pred, margin_px=110)
    first = session.add_click(*lobe["lobe_xy"], True).copy()
    before = session.mask.sum()
    session.add_click(*lobe["lobe_xy"], False)
    assert (session.n_pos, session.n_neg) == (1, 1)
    assert session.mask.sum() < before
    back = session.undo()
    np.testing.assert_array_equal(back, first)
    assert session.clicks == [SessionClick(*lobe["lobe_xy"], True)]
    assert session.undo() is None and session.clicks == []
    assert session.undo() is None  # nothing left: harmless
    with pytest.raises(SessionError, match="left-click on the avalanche"):
        session.finish()
    session.add_click(*lobe["outside_xy"], True)  # dark terrain: the fake model finds a 13-px blob
    session.add_click(*lobe["outside_xy"], False)
    with pytest.raises(SessionError, match=r"^Click 2 \(at .*\) gave an empty mask: the negative click removed"):
        session.finish()


def test_box_start(lobe):
    pred = FakePredictor()
    src = lobe["source"]
    session = DigitisingSession(src, pred, max_side=1600)
    x0, y0, x1, y1 = lobe["lobe_bounds"]
    session.start_box(x0, y0, x1, y1)
    win = session.window
    # box 144×90 px (lobe), margin 10 % of the longest side (15 px), clipped
    assert win.native_box == (48 - 15, 115 - 15, 144 + 30, 90 + 30)
    assert session.clicks == [SessionClick((x0 + x1) / 2, (y0 + y1) / 2, True)]
    assert not session.mask_at_window_edge
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    assert _shape(session.finish()).symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    # a tiny drag is a click
    small = DigitisingSession(src, FakePredictor(), margin_px=30)
    lx, ly = lobe["lobe_xy"]
    small.start_box(lx - 0.25, ly - 0.25, lx + 0.25, ly + 0.25)
    assert small.clicks == [SessionClick(lx, ly, True)]
    assert small.window.native_box == RasterWindow.around(src, [(lx, ly)], 30).native_box
    with pytest.raises(RasterError, match="centre of the box"):
        session.start_box(x0 - 1000, y0, x0 - 900, y1)


def test_click_outside_raster_loses_nothing(lobe):
    session = DigitisingSession(lobe["source"], FakePredictor(), margin_px=110)
    session.add_click(*lobe["lobe_xy"], True)
    mask = session.mask.copy()
    with pytest.raises(RasterError, match="outside the raster 'lobe'"):
        session.add_click(2599000.0, 1199000.0, True)
    assert len(session.clicks) == 1
    np.testing.assert_array_equal(session.mask, mask)


def test_correct_existing_polygon(lobe):
    pred = FakePredictor()
    src = lobe["source"]
    session = DigitisingSession(src, pred)
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    shrunk = truth.buffer(-5.0, join_style=2)  # an old, too small outline (10 px inside)
    probs = session.start_from_polygon(shrunk.wkt)
    assert session.is_correction and session.clicks == []
    win = session.window
    init = rasterize_polygon(shrunk.wkt, win)
    np.testing.assert_array_equal(probs > 0.5, init)
    np.testing.assert_array_equal(session.mask, init)
    # the initial mask alone gives back (about) the old outline
    assert abs(_shape(session.finish()).area - shrunk.area) < 0.02 * shrunk.area
    session.add_click(*lobe["lobe_xy"], True)
    finished = session.finish()
    assert finished.is_correction and finished.n_pos == 1
    assert _shape(finished).symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    # undo back to the initial mask
    np.testing.assert_array_equal(session.undo() > 0.5, init)


def test_correct_polygon_partly_beyond_raster_keeps_outside_part(lobe):
    src = lobe["source"]
    session = DigitisingSession(src, FakePredictor())
    xmin, ymin, xmax, ymax = src.grid.extent
    poly = shapely_box(xmin - 10, ymin + 10, xmin + 10, ymin + 20)  # half outside the raster's left edge
    session.start_from_polygon(poly.wkt)
    got = _shape(session.finish(min_area=0))
    assert got.area == pytest.approx(poly.area)
    assert got.symmetric_difference(poly).area == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(RasterError, match="outside the raster"):
        session.start_from_polygon(shapely_box(xmin - 100, ymin, xmin - 50, ymax).wkt)
    with pytest.raises(SessionError, match="no polygon geometry"):
        session.start_from_polygon("")


def test_predictor_factory_is_called_on_first_use(lobe):
    made = []

    def factory():
        made.append(FakePredictor())
        return made[-1]

    session = DigitisingSession(lobe["source"], factory)
    assert made == []
    session.add_click(*lobe["lobe_xy"], True)
    session.add_click(*lobe["lobe_xy"], True)
    assert len(made) == 1 and len(made[0].clicks) == 2


def test_uint16_nodata_raster_and_photo(tmp_path):
    info = make_lobe_geotiff(tmp_path / "l16.tif", size=SIZE, dtype="uint16", nodata=0)
    session = DigitisingSession(RasterSource.open(info["path"]), FakePredictor(), margin_px=110)
    session.add_click(*info["lobe_xy"], True)
    truth = shapely_wkt.loads(info["outline_wkt"])
    assert _shape(session.finish()).symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)

    photo = make_photo_png(tmp_path / "cam.png", size=(120, 160))
    session = DigitisingSession(RasterSource.open(photo["path"]), FakePredictor(), margin_px=100)
    session.add_click(*photo["lobe_xy"], True)
    got = _shape(session.finish())
    assert got.symmetric_difference(shapely_wkt.loads(photo["outline_wkt"])).area == pytest.approx(0.0, abs=1e-9)
    assert got.bounds[3] <= 0 and got.bounds[0] >= 0  # pixel units: x = col, y = -row
    assert session.finish().raster_crs_wkt == ""


def test_real_interactive_predictor_fits_the_session(lobe):
    """The session drives core_model's InteractivePredictor (untrained weights: only the plumbing is
    checked — shapes, replay after growth, undo, the initial mask when correcting)."""
    import torch

    from core_model.model import build_model
    from core_model.predictor import InteractivePredictor, PredictorSettings

    torch.manual_seed(0)
    predictor = InteractivePredictor(build_model("hrnet18s").eval(),
                                     settings=PredictorSettings(zoom_in=False, flip=False))
    session = DigitisingSession(lobe["source"], predictor, max_side=64, margin_px=30)
    probs = session.add_click(*lobe["lobe_xy"], True)
    assert probs.shape == session.window.image_shape and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    top_xy = lobe["source"].grid.xy_of(40.5, 160.5)
    probs = session.add_click(*top_xy, False)
    win = session.window
    assert probs.shape == win.image_shape and max(win.image_shape) == 64 < max(win.height, win.width)
    assert [(c.row, c.col, c.is_positive) for c in predictor.clicks] == [
        (*win.to_image(*lobe["lobe_xy"]), True), (*win.to_image(*top_xy), False)]
    assert session.undo().shape == win.image_shape and len(predictor.clicks) == 1
    truth = lobe["outline_wkt"]
    init = session.start_from_polygon(truth)
    np.testing.assert_array_equal(init > 0.5, rasterize_polygon(truth, session.window))
    assert session.finish().is_correction


def test_threshold_is_owned_by_the_predictor(lobe):
    """One owner: the session's threshold is the predictor's settings' (what its mask and the refinement
    modes' objective read); setting it on the session sets it there."""
    pred = FakePredictor(threshold=0.49)                 # 0.9 inside the lobe, 0.1 outside
    session = DigitisingSession(lobe["source"], pred, margin_px=110, threshold=0.95)
    assert pred.settings.threshold == 0.95
    session.add_click(*lobe["lobe_xy"], True)
    assert session.threshold == 0.95 and not session.mask.any()
    with pytest.raises(SessionError):
        session.finish()
    session.threshold = 0.05
    assert pred.settings.threshold == 0.05
    assert session.mask.all() and session.finish(min_area=0).threshold == 0.05
    session.add_click(*lobe["lobe_xy"], True)
    pred.settings.threshold = 0.5
    assert session.threshold == 0.5
    np.testing.assert_array_equal(session.mask, pred.probabilities > 0.5)
    assert DigitisingSession(lobe["source"], lambda: FakePredictor()).threshold is None   # not made yet
