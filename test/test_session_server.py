"""The session server (the worker side of the digitiser) driven by protocol commands, each scenario run
twice: handing commands and replies over directly, and through pickle both ways (as to a child
process). Both give the same masks and polygons."""
import pickle

import numpy as np
import pytest
from shapely import wkt as shapely_wkt

from avalanche_iseg_plugin.engine import avalanche_engine
from avalanche_iseg_plugin.engine.protocol import (AddClick, Box, Close, Discard, ErrorReply, Finish, FinishedResult,
                                                   PredictorKey, SessionView, SetRaster, SetThreshold,
                                                   StartFromPolygon, Undo)
from avalanche_iseg_plugin.engine.session_server import NO_RASTER, SessionServer
from gis_fixtures import FakePredictor, make_lobe_geotiff, make_photo_png

SIZE = (240, 320)
KEY = PredictorKey("model_a.pth", "cpu")


class Factory:
    """predictor_factory(checkpoint, device, threshold) that records what it made."""

    def __init__(self):
        self.made = []

    def __call__(self, checkpoint, device, threshold):
        self.made.append(((checkpoint, device), FakePredictor(threshold=threshold)))
        return self.made[-1][1]


@pytest.fixture
def lobe(tmp_path):
    return make_lobe_geotiff(tmp_path / "lobe.tif", size=SIZE)


@pytest.fixture(params=["direct", "pickled"])
def send(request):
    """send(server, command) -> reply, directly or through pickle both ways."""
    if request.param == "direct":
        return lambda server, command: server.handle(command)
    return lambda server, command: pickle.loads(pickle.dumps(server.handle(pickle.loads(pickle.dumps(command)))))


def _open(send, server, path, max_side=1600, key=KEY, threshold=0.49):
    reply = send(server, SetRaster(str(path), max_side, key, threshold))
    assert isinstance(reply, SessionView), reply
    return reply


def _polygon(result):
    assert isinstance(result, FinishedResult), result
    return shapely_wkt.loads(result.polygons_wkt[0]) if len(result.polygons_wkt) == 1 else None


def test_click_to_finished_polygon(send, lobe):
    factory = Factory()
    server = SessionServer(factory)
    empty = _open(send, server, lobe["path"])
    assert empty.mask is None and empty.window is None and empty.model_name == "" and factory.made == []
    view = send(server, AddClick(*lobe["lobe_xy"], True))
    assert view.clicks == [(*lobe["lobe_xy"], True)] and (view.n_pos, view.n_neg) == (1, 0)
    assert view.model_name == "fake" and view.threshold == 0.49 and view.mask.dtype == bool
    win = view.window
    assert view.mask.shape == win.image_shape and win.grid.extent[0] <= lobe["lobe_xy"][0] <= win.grid.extent[2]
    result = send(server, Finish(None, None))
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    assert _polygon(result).symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)
    assert result.attributes == {"source": "lobe", "n_pos": 1, "n_neg": 0, "model": "fake", "threshold": 0.49,
                                 "units": "m"}
    assert result.raster_crs_wkt == lobe["crs_wkt"] and not result.is_correction
    # finishing ends the object: the view that comes with the result is empty, the model stays named
    assert result.view.window is None and result.view.clicks == [] and result.view.model_name == "fake"
    assert len(factory.made) == 1


def test_growth_negative_click_undo_and_discard(send, lobe):
    server = SessionServer(Factory())
    _open(send, server, lobe["path"], max_side=64)
    first = send(server, AddClick(*lobe["lobe_xy"], True))
    assert max(first.window.image_shape) == 64 < max(first.window.height, first.window.width)
    cut = send(server, AddClick(*lobe["lobe_xy"], False))
    assert cut.mask.sum() < first.mask.sum() and cut.n_neg == 1
    back = send(server, Undo())
    assert back == first
    gone = send(server, Discard())
    assert gone.window is None and gone.mask is None and gone.clicks == []


def test_box_and_correction(send, lobe):
    server = SessionServer(Factory())
    _open(send, server, lobe["path"])
    x0, y0, x1, y1 = lobe["lobe_bounds"]
    view = send(server, Box(x0, y0, x1, y1))
    assert view.clicks == [((x0 + x1) / 2, (y0 + y1) / 2, True)]
    wx0, wy0, wx1, wy1 = view.window.grid.extent
    assert wx0 <= x0 and wy0 <= y0 and wx1 >= x1 and wy1 >= y1
    truth = shapely_wkt.loads(lobe["outline_wkt"])
    shrunk = truth.buffer(-5.0, join_style=2)
    start = send(server, StartFromPolygon(shrunk.wkt))
    assert start.clicks == [] and start.mask.any()
    send(server, AddClick(*lobe["lobe_xy"], True))
    result = send(server, Finish(None, None))
    assert result.is_correction and result.attributes["n_pos"] == 1
    assert _polygon(result).symmetric_difference(truth).area == pytest.approx(0.0, abs=1e-6)


def test_threshold_is_the_loaded_predictors(send, lobe):
    """The server writes the GUI's threshold through to the loaded predictor's settings, the one place the
    mask and the refinement modes read it."""
    factory = Factory()
    server = SessionServer(factory)
    _open(send, server, lobe["path"], threshold=0.95)      # the fake gives 0.9 inside, 0.1 outside
    view = send(server, AddClick(*lobe["lobe_xy"], True))
    assert view.threshold == 0.95 and not view.mask.any()
    view = send(server, SetThreshold(0.5))
    assert view.threshold == 0.5 and view.mask.any() and view.clicks == [(*lobe["lobe_xy"], True)]
    result = send(server, Finish(None, None))
    assert result.attributes["threshold"] == 0.5
    assert factory.made[0][1].settings.threshold == 0.5
    _open(send, server, lobe["path"], threshold=0.7)        # the next avalanche: same model, its threshold
    view = send(server, AddClick(*lobe["lobe_xy"], True))
    assert view.threshold == 0.7 and factory.made[0][1].settings.threshold == 0.7 and len(factory.made) == 1


def test_predictor_is_loaded_once_per_key(send, lobe, tmp_path):
    factory = Factory()
    server = SessionServer(factory)
    other = make_lobe_geotiff(tmp_path / "other.tif", size=SIZE)
    _open(send, server, lobe["path"])
    send(server, AddClick(*lobe["lobe_xy"], True))
    send(server, Finish(None, None))
    # the same raster and model: the session stays, only the window size changes
    session = server.session
    _open(send, server, lobe["path"], max_side=300)
    assert server.session is session and session.max_side == 300
    # another raster, same model: a new session, the loaded model is reused
    view = _open(send, server, other["path"])
    assert server.session is not session and view.model_name == "fake"
    send(server, AddClick(*other["lobe_xy"], True))
    assert [key for key, _ in factory.made] == [("model_a.pth", "cpu")]
    # another model: loaded on the first click of the next avalanche
    _open(send, server, other["path"], key=PredictorKey("model_b.pth", "cuda"))
    assert len(factory.made) == 1
    send(server, AddClick(*other["lobe_xy"], True))
    assert [key for key, _ in factory.made] == [("model_a.pth", "cpu"), ("model_b.pth", "cuda")]


def test_finish_goes_through_the_engine(send, lobe, monkeypatch):
    calls = []
    real = avalanche_engine.finish_object

    def spy(session, *, min_area=None, simplify=None):
        calls.append((min_area, simplify))
        return real(session, min_area=min_area, simplify=simplify)

    monkeypatch.setattr(avalanche_engine, "finish_object", spy)
    server = SessionServer(Factory())
    _open(send, server, lobe["path"])
    send(server, AddClick(*lobe["lobe_xy"], True))
    assert isinstance(send(server, Finish(12.5, 0.25)), FinishedResult)
    assert calls == [(12.5, 0.25)]


def test_errors_are_one_sentence_or_a_bug(send, lobe, tmp_path):
    server = SessionServer(Factory())
    no_raster = send(server, AddClick(0.0, 0.0, True))
    assert isinstance(no_raster, ErrorReply) and no_raster.is_own and no_raster.text == NO_RASTER
    missing = send(server, SetRaster(str(tmp_path / "gone.tif"), 1600, KEY, 0.49))
    assert missing.is_own and missing.kind == "RasterError" and "does not exist" in missing.text
    _open(send, server, lobe["path"])
    outside = send(server, AddClick(lobe["lobe_xy"][0] - 1e5, lobe["lobe_xy"][1], True))
    assert outside.is_own and "outside the raster 'lobe'" in outside.text
    empty = send(server, Finish(None, None))
    assert empty.is_own and empty.kind == "SessionError"
    send(server, AddClick(*lobe["lobe_xy"], True))
    server.session.predictor.add_click = lambda *a: (_ for _ in ()).throw(RuntimeError("model exploded"))
    bug = send(server, AddClick(*lobe["lobe_xy"], True))
    assert not bug.is_own and bug.kind == "RuntimeError" and bug.text == "model exploded"
    assert "Traceback" in bug.traceback and "model exploded" in bug.traceback
    # the click that failed is not added; the earlier one is kept
    assert server.session.n_pos == 1
    assert isinstance(send(server, "not a command"), ErrorReply)


def test_photo_in_pixel_units(send, tmp_path):
    photo = make_photo_png(tmp_path / "cam.png", size=(120, 160))
    server = SessionServer(Factory())
    _open(send, server, photo["path"])
    send(server, AddClick(*photo["lobe_xy"], True))
    result = send(server, Finish(None, None))
    assert result.raster_crs_wkt == "" and result.attributes["source"] == "cam"
    assert _polygon(result).symmetric_difference(shapely_wkt.loads(photo["outline_wkt"])).area == pytest.approx(0.0)
    assert isinstance(send(server, Close()), SessionView) and server.session is None


def _scenario(lobe, send):
    server = SessionServer(Factory())
    x0, y0, x1, y1 = lobe["lobe_bounds"]
    top = (lobe["lobe_xy"][0], lobe["lobe_bounds"][3] - 2.0)
    commands = [SetRaster(lobe["path"], 200, KEY, 0.49), AddClick(*lobe["lobe_xy"], True), AddClick(*top, True),
                AddClick(*lobe["hole_xy"], False), Undo(), SetThreshold(0.3), Finish(None, 0.5),
                SetRaster(lobe["path"], 1600, KEY, 0.49), Box(x0, y0, x1, y1), Finish(0.0, 0.0),
                StartFromPolygon(lobe["outline_wkt"]), AddClick(*lobe["hole_xy"], False), Finish(None, None), Close()]
    return [send(server, c) for c in commands]


def test_direct_and_pickled_give_identical_replies(lobe):
    direct = _scenario(lobe, lambda server, c: server.handle(c))
    pickled = _scenario(lobe, lambda server, c: pickle.loads(pickle.dumps(server.handle(pickle.loads(pickle.dumps(c))))))
    assert len(direct) == len(pickled) == 14
    assert not any(isinstance(r, ErrorReply) for r in direct), [r for r in direct if isinstance(r, ErrorReply)]
    for a, b in zip(direct, pickled):
        assert a == b
    masks = [r.mask for r in direct if isinstance(r, SessionView) and r.mask is not None]
    assert len(masks) >= 5 and all(m.any() for m in masks)
    finished = [r for r in direct if isinstance(r, FinishedResult)]
    assert [f.is_correction for f in finished] == [False, False, True]
    assert all(np.isfinite(shapely_wkt.loads(w).area) for f in finished for w in f.polygons_wkt)
