"""The digitiser's protocol: every command and reply survives pickle unchanged, and replies made by a real
SessionServer hold plain values only (no GDAL, QGIS, lock or bound method)."""
import dataclasses
import pickle
import types

import numpy as np
import pytest

from avalanche_iseg_plugin.engine import protocol as p
from avalanche_iseg_plugin.engine.errors import RasterError, SessionError
from avalanche_iseg_plugin.engine.grid import Grid
from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable
from avalanche_iseg_plugin.engine.session_server import SessionServer
from gis_fixtures import FakePredictor, make_lobe_geotiff

KEY = p.PredictorKey("/models/avalanche.pth", "cpu")
WINDOW = p.WindowGeometry(Grid.of((2600000.0, 0.5, 0.0, 1200000.0, 0.0, -0.5), 120, 160), (240, 320))
MASK = np.zeros((120, 160), bool)
MASK[10:40, 20:90] = True
VIEW = p.SessionView(mask=MASK, window=WINDOW, clicks=[(2600010.25, 1199990.75, True), (2600011.0, 1199991.0, False)],
                     n_pos=1, n_neg=1, model_name="fake", threshold=0.49)

COMMANDS = [p.SetRaster("/data/ortho.tif", 1600, KEY, 0.49), p.AddClick(2600010.25, 1199990.75, True),
            p.Box(1.0, 2.0, 3.0, 4.0), p.StartFromPolygon("POLYGON ((0 0, 1 0, 1 1, 0 0))"), p.Undo(), p.Discard(),
            p.SetThreshold(0.7), p.Finish(25.0, 0.5), p.Finish(None, None), p.Close(), p.Preload(KEY, 0.49)]
REPLIES = [VIEW, p.SessionView(),
           p.FinishedResult(["POLYGON ((0 0, 1 0, 1 1, 0 0))"], {"source": "ortho", "n_pos": 1, "n_neg": 0,
                                                                 "model": "fake", "threshold": 0.49},
                            "PROJCS[...]", True, p.SessionView(model_name="fake", threshold=0.49)),
           p.ErrorReply("RasterError", "The click is outside the raster 'ortho'.", True),
           p.ErrorReply("RuntimeError", "model exploded", False, "Traceback (most recent call last): ...")]


def _round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("message", COMMANDS + REPLIES, ids=lambda m: type(m).__name__)
def test_every_message_survives_pickle(message):
    back = _round_trip(message)
    assert type(back) is type(message)
    assert back == message
    assert back is not message


def test_every_type_is_covered():
    assert {type(m) for m in COMMANDS} == set(p.COMMANDS)
    assert {type(m) for m in REPLIES} == set(p.REPLIES)


def test_views_compare_masks_by_value():
    other = dataclasses.replace(VIEW, mask=VIEW.mask.copy())
    assert other == VIEW
    changed = VIEW.mask.copy()
    changed[0, 0] = True
    assert dataclasses.replace(VIEW, mask=changed) != VIEW
    assert dataclasses.replace(VIEW, mask=None) != VIEW
    assert dataclasses.replace(VIEW, mask=VIEW.mask.astype(np.uint8)) != VIEW   # dtype counts
    assert p.SessionView() != p.ErrorReply("X", "", True)


def test_window_geometry_is_plain_numbers():
    assert WINDOW.grid.xy_of(0, 0) == (2600000.0, 1200000.0)
    assert WINDOW.grid.xy_of(120, 160) == (2600080.0, 1199940.0)
    assert WINDOW.grid.extent == (2600000.0, 1199940.0, 2600080.0, 1200000.0)
    assert WINDOW.image_shape == (120, 160) and pickle.loads(pickle.dumps(WINDOW)) == WINDOW
    assert (WINDOW.height, WINDOW.width) == (240, 320)


def test_error_reply_tells_own_errors_from_bugs():
    own = p.ErrorReply.of(RasterError("The raster 'x' is rotated."))
    assert own.is_own and own.kind == "RasterError" and own.text == "The raster 'x' is rotated." and own.traceback == ""
    assert p.ErrorReply.of(SessionError("s")).is_own and p.ErrorReply.of(PredictorUnavailable("no torch")).is_own
    try:
        raise KeyError("boom")
    except KeyError as exc:
        bug = p.ErrorReply.of(exc)
    assert not bug.is_own and bug.kind == "KeyError" and "Traceback" in bug.traceback and "boom" in bug.traceback
    assert not p.ErrorReply.of(ValueError("a plain ValueError is not the plugin's own")).is_own


def test_checkpoint_error_is_own():
    from core_model.checkpoint import CheckpointError

    assert p.ErrorReply.of(CheckpointError("Checkpoint holiday.pth is not a checkpoint.")).is_own


PLAIN = (type(None), bool, int, float, str, np.bool_, np.integer, np.floating)


def _assert_plain(value, where="reply"):
    """Every value reachable from ``value`` is a plain value, a numpy array of numbers, or a protocol dataclass
    (the engine's Grid among them)."""
    if isinstance(value, PLAIN):
        return
    if isinstance(value, np.ndarray):
        assert value.dtype.kind in "biuf", f"{where}: array of {value.dtype}"
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _assert_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_plain(key, f"{where} key")
            _assert_plain(item, f"{where}[{key!r}]")
        return
    assert dataclasses.is_dataclass(value) and type(value).__module__ in (p.__name__, Grid.__module__), \
        f"{where}: {type(value)!r}"
    assert not isinstance(value, (types.MethodType, types.FunctionType))
    for f in dataclasses.fields(value):
        _assert_plain(getattr(value, f.name), f"{where}.{f.name}")


def test_replies_of_a_real_server_hold_no_live_objects(tmp_path):
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(240, 320))
    server = SessionServer(lambda checkpoint, device, threshold: FakePredictor(threshold=threshold))
    x, y = info["lobe_xy"]
    x0, y0, x1, y1 = info["lobe_bounds"]
    replies = [server.handle(c) for c in (
        p.SetRaster(info["path"], 1600, KEY, 0.49), p.AddClick(x, y, True), p.AddClick(x, y, False), p.Undo(),
        p.SetThreshold(0.6), p.Finish(None, None), p.Box(x0, y0, x1, y1), p.Discard(),
        p.StartFromPolygon(info["outline_wkt"]), p.Finish(0.0, 0.0), p.AddClick(x - 1e6, y, True), p.Close(),
        p.Undo())]
    kinds = [type(r).__name__ for r in replies]
    assert kinds == ["SessionView"] * 5 + ["FinishedResult"] + ["SessionView"] * 3 + ["FinishedResult", "ErrorReply",
                                                                                       "SessionView", "ErrorReply"]
    assert replies[1].mask.any() and replies[1].window is not None
    for i, reply in enumerate(replies):
        _assert_plain(reply, f"reply {i}")
        assert _round_trip(reply) == reply
    assert pickle.loads(pickle.dumps(replies[5])).polygons_wkt == replies[5].polygons_wkt
