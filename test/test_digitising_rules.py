"""The digitiser's rules without a canvas: which raster a click goes to, pending clicks, finished avalanches
kept until written, the model key, correction, the new layer's CRS and the status line."""

import pytest

from avalanche_iseg_plugin.engine import digitising_rules as dm
from avalanche_iseg_plugin.engine.digitising_rules import DigitisingRules, Message, RasterRef
from avalanche_iseg_plugin.engine.protocol import (AddClick, Box, Close, Discard, ErrorReply, Finish, FinishedResult,
                                                   PredictorKey, SessionView, SetRaster, SetThreshold,
                                                   StartFromPolygon, Undo, WindowGeometry)
from avalanche_iseg_plugin.engine.errors import LayerError
from avalanche_iseg_plugin.engine.grid import Grid
from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
from avalanche_iseg_plugin.engine.raster_info import RasterInfo

ORTHO = RasterRef("ortho_id", "Ortho 2026")
WEBCAM = RasterRef("webcam_id", "Webcam")
ORTHO_INFO = RasterInfo("/data/ortho.tif", "ortho", Grid.of((2600000.0, 0.5, 0.0, 1200000.0, 0.0, -0.5), 600, 800),
                        True, "PROJCS[...]")
WINDOW = WindowGeometry(Grid.of((2600100.0, 0.5, 0.0, 1199900.0, 0.0, -0.5), 100, 100), (100, 100))
INSIDE = (2600200.0, 1199850.0)


@pytest.fixture
def model():
    settings = PluginSettings(checkpoint="/models/avalanche_a.pth", device="cpu", threshold=0.49, max_side=1600,
                              min_area=25.0, simplify=0.0)
    m = DigitisingRules(settings)
    m.use_raster(ORTHO, ORTHO_INFO)
    return m


def _view(clicks=((2600200.0, 1199850.0, True),), model="avalanche_a"):
    n_pos = sum(1 for c in clicks if c[2])
    return SessionView(mask=None, window=WINDOW, clicks=list(clicks), n_pos=n_pos, n_neg=len(clicks) - n_pos,
                       model_name=model, threshold=0.49)


def _result(is_correction=False):
    return FinishedResult(["POLYGON ((0 0, 1 0, 1 1, 0 0))"], {"source": "ortho", "n_pos": 1, "n_neg": 0,
                                                               "model": "avalanche_a", "threshold": 0.49},
                          "PROJCS[...]", is_correction, SessionView(model_name="avalanche_a", threshold=0.49))


def _answer_all(model, outcome, view=None):
    """Reply to every command of ``outcome`` as the server would on success."""
    results = []
    for command in outcome.commands:
        reply = _result() if isinstance(command, Finish) else (view or _view())
        results.append(model.on_reply(command, reply))
    return results


def _click_and_answer(model, xy=INSIDE, positive=True):
    outcome = model.click(*xy, positive)
    _answer_all(model, outcome, _view([(*xy, positive)]))
    return outcome


# ------------------------------------------------------------------------------ raster switching
def test_no_raster_at_all():
    m = DigitisingRules(PluginSettings(checkpoint="", device="cpu"))
    raster, outcome = m.raster_for_click(None)
    assert raster is None and outcome.messages == [Message(dm.NO_RASTER_ACTIVE)]
    assert m.raster_for_click(WEBCAM)[0] == WEBCAM


def test_a_click_goes_to_the_raster_of_the_avalanche_in_progress(model):
    assert model.raster_for_click(WEBCAM)[0] == WEBCAM        # nothing in progress: the active raster
    assert model.raster_for_click(None)[0] == ORTHO           # a vector layer is active: the last raster
    model.click(*INSIDE, True)                                # in progress (pending) on ORTHO
    raster, outcome = model.raster_for_click(WEBCAM)
    assert raster is None and outcome.commands == []
    assert outcome.messages == [Message("An avalanche is in progress on 'Ortho 2026': finish it (Space) or discard it "
                                        "(Esc) before digitising on 'Webcam'.")]
    assert model.raster_for_click(ORTHO)[0] == ORTHO and model.raster_for_click(None)[0] == ORTHO


def test_clicks_outside_the_raster_are_refused(model):
    outcome = model.click(2590000.0, 1199850.0, True)
    assert outcome.commands == [] and model.pending == []
    assert outcome.messages == [Message("The click is outside the raster 'ortho': click on the image.")]
    outcome = model.box(2590000.0, 1199850.0, 2590010.0, 1199840.0)
    assert outcome.messages[0].text.startswith("The centre of the box is outside the raster 'ortho'")


# ------------------------------------------------------------------------------ pending clicks
def test_first_click_opens_the_raster_then_clicks_queue(model):
    first = model.click(*INSIDE, True)
    assert first.commands == [SetRaster("/data/ortho.tif", 1600, PredictorKey("/models/avalanche_a.pth", "cpu"), 0.49),
                              AddClick(*INSIDE, True)]
    second = model.click(INSIDE[0] + 1, INSIDE[1], False)
    assert second.commands == [AddClick(INSIDE[0] + 1, INSIDE[1], False)]
    assert model.pending == [(*INSIDE, True), (INSIDE[0] + 1, INSIDE[1], False)]
    assert model.object_in_progress
    status = model.status()
    assert (status.n_pos, status.n_neg) == (1, 1)        # pending clicks count
    model.on_reply(first.commands[0], SessionView())     # SetRaster answered: nothing consumed
    assert len(model.pending) == 2
    model.on_reply(first.commands[1], _view())
    assert model.pending == [(INSIDE[0] + 1, INSIDE[1], False)] and model.view == _view()
    model.on_reply(second.commands[0], _view([(*INSIDE, True), (INSIDE[0] + 1, INSIDE[1], False)]))
    assert model.pending == [] and (model.status().n_pos, model.status().n_neg) == (1, 1)


def test_a_failed_click_gives_one_message_per_burst(model):
    _click_and_answer(model)
    clicks = [model.click(INSIDE[0] + i, INSIDE[1], True).commands[0] for i in range(1, 4)]
    bug = ErrorReply("RuntimeError", "model exploded", False, "Traceback ...\nRuntimeError: model exploded")
    outcomes = [model.on_reply(c, bug) for c in clicks]
    assert [len(o.messages) for o in outcomes] == [1, 0, 0]
    assert outcomes[0].messages[0].text == (
        "The prediction failed (RuntimeError: model exploded); see the 'Avalanche digitiser' tab of the log panel "
        "for details. (That click was not added; your earlier clicks are kept.)")
    assert all(o.bugs == [bug.traceback] for o in outcomes)    # every bug is logged
    assert model.pending == [] and len(model.view.clicks) == 1
    model.worker_idle()
    own = model.on_reply(model.click(*INSIDE, True).commands[0], ErrorReply("PredictorUnavailable", "No torch.", True))
    assert own.messages == [Message("No torch. (That click was not added; your earlier clicks are kept.)")]
    assert own.bugs == []


def test_error_texts():
    assert dm.error_text(ErrorReply("RasterError", "The raster is rotated.", True)) == "The raster is rotated."
    assert dm.error_text(ErrorReply("MemoryError", "", False, "tb")) == dm.OUT_OF_MEMORY
    assert "ValueError: bad" in dm.error_text(ErrorReply("ValueError", "bad", False, "tb"))


def test_a_failed_raster_is_read_again(model):
    outcome = model.click(*INSIDE, True)
    model.on_reply(outcome.commands[0], ErrorReply("RasterError", "The raster file '/data/ortho.tif' does not exist.",
                                                   True))
    assert model.raster is None and model.raster_for_click(ORTHO)[0] == ORTHO and not model.knows(ORTHO)


# ------------------------------------------------------------------------------ box, undo, discard
def test_box_starts_a_new_avalanche_only(model):
    model.correction_fid = 7
    outcome = model.box(2600190.0, 1199860.0, 2600210.0, 1199840.0)
    assert outcome.commands[1:] == [Box(2600190.0, 1199860.0, 2600210.0, 1199840.0)]
    assert isinstance(outcome.commands[0], SetRaster) and model.correction_fid is None
    assert model.pending == [(2600200.0, 1199850.0, True)]
    refused = model.box(2600190.0, 1199860.0, 2600210.0, 1199840.0)
    assert refused.commands == [] and refused.messages == [Message(dm.BOX_NEEDS_NEW_OBJECT, dm.INFO)]


def test_undo_and_discard_need_an_avalanche(model):
    assert model.undo().commands == [] and model.discard().commands == []
    _click_and_answer(model)
    assert model.undo().commands == [Undo()]
    model.correction_fid = 3
    assert model.discard().commands == [Discard()] and model.correction_fid is None


# ------------------------------------------------------------------------------ finish and unsaved
def test_finish_rules(model):
    assert model.finish(True).messages == [Message(dm.NOTHING_TO_FINISH, dm.INFO)]
    _click_and_answer(model)
    assert model.finish(False).messages == [Message(dm.NO_TARGET)] and model.object_in_progress
    assert model.finish(True, "The layer 'tracks' is not polygons.").messages[0].text == \
        "The layer 'tracks' is not polygons."
    outcome = model.finish(True)
    assert outcome.commands == [Finish(25.0, 0.0)]
    done = model.on_reply(outcome.commands[0], _result())
    assert done.save and len(model.unsaved) == 1 and model.unsaved[0].correction_fid is None
    assert not model.object_in_progress and model.view.model_name == "avalanche_a"


def test_unsaved_avalanches_are_kept_until_written(model):
    for _ in range(2):
        _click_and_answer(model)
        _answer_all(model, model.finish(True))
    assert len(model.unsaved) == 2
    no_target = model.save_unsaved(False, None, write=None)
    assert "2 finished avalanche(s) are kept but not saved" in no_target.messages[0].text
    written = []

    def failing(item):
        raise LayerError("The layer 'nocrs' has no coordinate reference system.")

    outcome = model.save_unsaved(True, None, failing)
    assert outcome.messages == [Message("The layer 'nocrs' has no coordinate reference system. (The finished "
                                        "avalanche is kept: press Space to save it once this is fixed.)")]
    assert len(model.unsaved) == 2
    # Esc does not throw them away; Space saves them once a layer takes them
    assert "2 finished avalanche(s) wait to be saved" in model.discard().messages[0].text
    assert model.finish(True).save
    first, second = model.unsaved
    assert model.save_unsaved(True, None, written.append).messages == []
    assert written == [first, second] and model.unsaved == []


def test_a_write_that_fails_half_way_keeps_the_rest(model):
    for _ in range(3):
        _click_and_answer(model)
        _answer_all(model, model.finish(True))
    calls = []

    def second_fails(item):
        calls.append(item)
        if len(calls) == 2:
            raise LayerError("disk full")

    model.save_unsaved(True, None, second_fails)
    assert len(model.unsaved) == 2 and model.unsaved[0] is calls[1]



def test_a_deferred_write_keeps_the_avalanches_and_says_so_as_information(model):
    """WriteDeferred (the photo's terrain is still being prepared): kept, in order, an INFO line, no warning."""
    from avalanche_iseg_plugin.engine.errors import WriteDeferred

    for _ in range(2):
        _click_and_answer(model)
        _answer_all(model, model.finish(True))
    first, second = model.unsaved

    def not_yet(item):
        raise WriteDeferred("The terrain for a.png is still being prepared.")

    outcome = model.save_unsaved(True, None, not_yet)
    assert outcome.messages == [Message("The terrain for a.png is still being prepared.", dm.INFO, 4)]
    assert model.unsaved == [first, second]
    written = []
    assert model.save_unsaved(True, None, written.append).messages == [] and written == [first, second]


# ------------------------------------------------------------------------------ model key
def test_a_new_model_applies_from_the_next_avalanche(model):
    _click_and_answer(model)
    model.settings.checkpoint = "/models/avalanche_b.pth"
    assert model.setting_changed("checkpoint").messages == [Message(dm.NEW_MODEL_LATER, dm.INFO, 4)]
    assert model.status().model == "avalanche_a, then avalanche_b"
    more = model.click(INSIDE[0] + 1, INSIDE[1], True)
    assert [type(c) for c in more.commands] == [AddClick]        # the avalanche in progress keeps its model
    _answer_all(model, more)
    _answer_all(model, model.finish(True))
    assert model.setting_changed("device").messages == []         # nothing in progress: nothing to say
    nxt = model.click(*INSIDE, True)
    assert nxt.commands[0].predictor == PredictorKey("/models/avalanche_b.pth", "cpu")
    _answer_all(model, nxt, _view(model="avalanche_b"))
    assert model.status().model == "avalanche_b"


def test_threshold_and_window_size_travel_with_the_next_avalanche(model):
    assert model.setting_changed("threshold").commands == [SetThreshold(0.49)]
    model.settings.threshold, model.settings.max_side = 0.7, 400
    start = model.click(*INSIDE, True).commands[0]
    assert (start.threshold, start.max_side) == (0.7, 400)
    assert DigitisingRules(model.settings).setting_changed("threshold").commands == []   # no raster yet


# ------------------------------------------------------------------------------ correction
def test_correction_replaces_the_feature(model):
    outcome = model.correct(12, "POLYGON ((0 0, 1 0, 1 1, 0 0))")
    assert isinstance(outcome.commands[0], SetRaster)
    assert outcome.commands[1] == StartFromPolygon("POLYGON ((0 0, 1 0, 1 1, 0 0))")
    _answer_all(model, outcome, _view(clicks=()))
    assert model.object_in_progress and model.correction_fid == 12
    assert model.correction_refused().messages == [Message(dm.CORRECT_WHILE_IN_PROGRESS)]
    finish = model.finish(True)
    assert model.correction_fid is None
    model.on_reply(finish.commands[0], _result(is_correction=True))
    assert model.unsaved[0].correction_fid == 12
    assert model.correction_refused() is None


def test_a_failed_finish_keeps_the_correction(model):
    _answer_all(model, model.correct(12, "POLYGON ((0 0, 1 0, 1 1, 0 0))"), _view(clicks=()))
    finish = model.finish(True)
    model.on_reply(finish.commands[0], ErrorReply("SessionError", "The mask is empty.", True))
    assert model.correction_fid == 12 and model.unsaved == []
    model.worker_idle()
    model.on_reply(model.finish(True).commands[0], _result(is_correction=True))
    assert model.unsaved[0].correction_fid == 12


def test_a_new_avalanche_after_a_correction_is_added(model):
    _answer_all(model, model.correct(12, "POLYGON ((0 0, 1 0, 1 1, 0 0))"), _view(clicks=()))
    _answer_all(model, model.discard(), SessionView())
    _click_and_answer(model)
    _answer_all(model, model.finish(True))
    assert model.unsaved[0].correction_fid is None


# ------------------------------------------------------------------------------ new layer, project
def test_new_layer_crs_rule(model):
    assert model.raster_for_new_layer(WEBCAM) == ORTHO                 # the raster digitised on first
    assert DigitisingRules(model.settings).raster_for_new_layer(WEBCAM) == WEBCAM
    assert DigitisingRules(model.settings).raster_for_new_layer(None) is None
    assert model.new_layer_crs(None, False, False) == dm.LAYER_CRS_PROJECT
    assert model.new_layer_crs(ORTHO, True, True) == dm.LAYER_CRS_RASTER
    assert model.new_layer_crs(WEBCAM, False, True) == dm.LAYER_CRS_NONE     # a photo: pixel units
    assert model.new_layer_crs(ORTHO, True, False) == dm.LAYER_CRS_NONE


def test_removing_the_raster_discards_its_avalanche(model):
    _click_and_answer(model)
    model.click(INSIDE[0] + 1, INSIDE[1], True)
    assert not model.uses_raster(["other"]) and model.uses_raster(["other", "ortho_id"])
    outcome = model.raster_removed()
    assert outcome.commands == [Close()] and outcome.messages == [Message(dm.RASTER_REMOVED, dm.INFO)]
    assert model.raster is None and model.pending == [] and model.view == SessionView()
    assert not model.object_in_progress and model.raster_removed().messages == []


def test_status_names_the_model(model):
    assert model.status() == dm.Status(0, 0, "avalanche_a (loads on first click)", "cpu")
    model.settings.checkpoint = ""
    assert model.status().model == ""


# ------------------------------------------------------------------------------ issue 13
def test_a_correction_goes_to_its_own_layer_without_a_target(model):
    m = model
    outcome = m.correct(7, "POLYGON ((0 0, 1 0, 1 1, 0 0))", "inventory_id")
    _answer_all(m, outcome, _view())
    assert m.correction_layer == "inventory_id"
    finish = m.finish(has_target=False)                   # no target needed: it goes back to its own layer
    assert [type(c) for c in finish.commands] == [Finish]
    saved = m.on_reply(finish.commands[0], _result(is_correction=True))
    assert saved.save and m.unsaved[0].correction_fid == 7 and m.unsaved[0].layer_id == "inventory_id"
    written = []
    assert m.save_unsaved(False, None, written.append).messages == [] and written[0].layer_id == "inventory_id"
    # a new avalanche afterwards needs the target again
    _click_and_answer(m)
    assert "No target layer" in m.finish(has_target=False).messages[0].text


def test_preload_once_per_model_and_never_mid_avalanche(model):
    from avalanche_iseg_plugin.engine.protocol import Preload

    m = model
    first = m.preload()
    assert [type(c) for c in first.commands] == [Preload] and first.commands[0].predictor == m.predictor_key
    assert "(loading…)" in m.status().model
    assert m.on_reply(first.commands[0], SessionView()).messages == []
    assert "(ready)" in m.status().model
    assert m.preload().commands == []
    m.settings.checkpoint = "/models/other.pth"
    _click_and_answer(m)
    assert m.preload().commands == []                       # an avalanche is in progress
    failed = m.on_reply(Preload(m.predictor_key), ErrorReply("PredictorUnavailable", "PyTorch is missing.", True))
    assert failed.messages == [] and failed.bugs == []      # said on the first click instead
    assert m._preloaded is None


def test_target_rules_field_mapping_and_confirmation():
    from avalanche_iseg_plugin.engine import target_rules as tr

    inventory = ["fid", "obs_name", "size_cls", "remarks"]
    missing = tr.missing_fields(inventory)
    assert missing == list(tr.SCHEMA_FIELDS) and "units" in missing
    assert tr.needs_confirmation(inventory, None) and tr.needs_confirmation(inventory, tr.FieldMapping())
    mapping = tr.FieldMapping({"source": "remarks"}, confirmed=True)
    assert "source" not in tr.missing_fields(inventory, mapping)
    assert not tr.needs_confirmation(inventory, mapping)
    assert tr.FieldMapping.from_json(mapping.to_json()) == mapping
    assert tr.FieldMapping.from_json("not json") == tr.FieldMapping()
    assert mapping.apply({"source": "ortho", "n_pos": 2}) == {"source": "ortho", "n_pos": 2, "remarks": "ortho"}
    kinds = {"obs_name": "text", "size_cls": "int", "remarks": "text", "area_m2": "real"}
    assert tr.mapping_candidates("source", kinds) == ["obs_name", "remarks"]
    assert tr.mapping_candidates("area_m2", kinds) == ["size_cls"]        # never another avalanche field
    text = tr.confirmation_text("inventory", ["n_pos", "units"])
    assert "'inventory'" in text and "n_pos, units" in text
    # an avalanche layer needs no confirmation
    assert not tr.needs_confirmation(["fid", *tr.SCHEMA_FIELDS], None)
    # nor one exported as Shapefile (short names) and chosen as target again
    from avalanche_iseg_plugin.engine.avalanche_schema import SHAPEFILE_NAMES

    exported = [SHAPEFILE_NAMES.get(name, name) for name in tr.SCHEMA_FIELDS]
    assert "perim_m" in exported and not tr.needs_confirmation(["FID", *exported], None)
    assert tr.mapping_candidates("source", {"perim_m": "text", "notes": "text"}) == ["notes"]


def test_target_rules_remembered_target_and_units():
    from avalanche_iseg_plugin.engine import target_rules as tr

    remembered = tr.RememberedTarget("av_1", "/data/avalanches.gpkg|layername=avalanches")
    assert tr.resolve_remembered(remembered, {"av_1": remembered.source}) == ("av_1", None)
    gone, text = tr.resolve_remembered(remembered, {"av_1": "/other/file.shp"})
    assert gone is None and "/data/avalanches.gpkg" in text and "no longer in the project" in text
    assert tr.resolve_remembered(None, {}) == (None, None)
    assert tr.raster_units(False, False) == "px" and tr.raster_units(True, True) == "m"
    assert tr.raster_units(True, True, crs_geographic=True) == "°" and tr.raster_units(True, False) == "u"
    assert tr.unit_suffixes("px") == (" px²", " px") and tr.unit_suffixes("m") == (" m²", " m")
    assert tr.units_field(True) == "m" and tr.units_field(False) == "px"
    assert "pixel units" in tr.units_note("px")
