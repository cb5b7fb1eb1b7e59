"""Fuzzing with a fixed seed (issue 16): random click files and random session sequences (add / undo / box /
discard / finish, with the deterministic FakePredictor).  Nothing may fail but the plugin's own errors
(AvalancheError, one line, bounded length), and after every step the session's probabilities must be
bit-exactly those of replaying its clicks from scratch (undo and window growth replay exactly).

Budget: well under 60 s on a CI runner (about 10 s here); ``FUZZ_SCALE`` multiplies the counts for a longer
local run."""
from __future__ import annotations

import json
import math
import os
import random
import time

import numpy as np
import pytest

from avalanche_iseg_plugin.engine.click_file import read_click_file
from avalanche_iseg_plugin.engine.errors import AvalancheError
from avalanche_iseg_plugin.engine.raster_window import RasterSource
from avalanche_iseg_plugin.engine.session import DigitisingSession
from gis_fixtures import FakePredictor, make_lobe_geotiff

SEED = 16
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
N_CLICK_FILES = int(2000 * SCALE)
N_SEQUENCES, STEPS = int(150 * SCALE), 30
MAX_MESSAGE = 600


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A small orthoimage with a nodata strip on its left (clicks there are refused)."""
    info = make_lobe_geotiff(tmp_path_factory.mktemp("fuzz") / "ortho.tif", size=(120, 160), pixel=1.25,
                             nodata=0, nodata_cols=20)
    return RasterSource.open(info["path"]), info


def assert_own_error(exc: BaseException) -> None:
    assert isinstance(exc, AvalancheError), f"{type(exc).__name__}: {str(exc)[:300]}"
    text = str(exc)
    assert text and "\n" not in text and len(text) <= MAX_MESSAGE, text[:300]


# -- click files ----------------------------------------------------------------------------------------
def random_number(rng: random.Random, src: RasterSource):
    xmin, ymin, xmax, ymax = src.grid.extent
    return rng.choice([
        lambda: rng.uniform(xmin - 20, xmax + 20), lambda: rng.uniform(ymin - 20, ymax + 20),
        lambda: rng.randint(-5, 200), lambda: rng.uniform(-1e308, 1e308), lambda: 0, lambda: -0.0,
        lambda: rng.randint(-10 ** 40, 10 ** 40), lambda: 0.5, lambda: True, lambda: None,
    ])()


def random_value(rng: random.Random, src: RasterSource, depth: int = 0):
    kind = rng.random()
    if depth > 4 or kind < 0.35:
        return random_number(rng, src)
    if kind < 0.45:
        return rng.choice(["", "x", "true", "é" * rng.randint(1, 50), "a" * rng.randint(0, 5000)])
    if kind < 0.75:
        return random_click(rng, src, depth + 1)
    return [random_value(rng, src, depth + 1) for _ in range(rng.randint(0, 4))]


def random_click(rng: random.Random, src: RasterSource, depth: int = 0) -> dict:
    keys = rng.choice([("x", "y"), ("row", "col"), ("x", "y", "positive"), ("row", "col", "positive"),
                       ("x",), ("x", "row"), (), ("y", "x", "z"), ("positive",)])
    click = {k: random_number(rng, src) for k in keys}
    if "positive" in click:
        click["positive"] = rng.choice([True, False, 0, 1, 2, "yes", None])
    if rng.random() < 0.1:
        click[rng.choice(["X", "k" * 300, ""])] = random_value(rng, src, depth + 1)
    return click


def random_click_text(rng: random.Random, src: RasterSource) -> str:
    roll = rng.random()
    if roll < 0.15:  # valid, in either form
        data = [{"row": rng.randint(0, 119), "col": rng.randint(0, 159), "positive": rng.random() < 0.8}
                for _ in range(rng.randint(1, 4))] + [{"row": 60, "col": 80}]
        text = json.dumps(data if rng.random() < 0.5 else [data, data[::-1]])
    elif roll < 0.6:
        data = [random_click(rng, src) for _ in range(rng.randint(0, 5))]
        if rng.random() < 0.4:
            data = [data, [random_click(rng, src) for _ in range(rng.randint(0, 3))]]
        if rng.random() < 0.2:
            data = random_value(rng, src)
        text = json.dumps(data)
    elif roll < 0.8:  # a valid file, mutated
        text = json.dumps([[{"row": rng.randint(0, 119), "col": rng.randint(0, 159)}]])
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice('[]{}",:0123456789e-.aN ')
        text = "".join(chars)
    else:  # absurd literals and nesting
        text = rng.choice(['[{"x": 1e400, "y": 0}]', '[{"x": NaN, "y": 0}]', '[{"x": -Infinity, "y": 0}]',
                           '[{"row": ' + "7" * rng.randint(31, 6000) + ', "col": 1}]',
                           "[" * rng.randint(900, 120_000) + "]" * rng.randint(0, 3), '', '\ufeff[]', 'null'])
    return text


def test_fuzz_click_files(source, tmp_path):
    src, _ = source
    rng = random.Random(SEED)
    path = tmp_path / "clicks.json"
    accepted = refused = 0
    started = time.monotonic()
    for _ in range(N_CLICK_FILES):
        path.write_text(random_click_text(rng, src), encoding="utf-8")
        try:
            objects = read_click_file(path, src)
        except Exception as exc:  # noqa: BLE001 - the fuzz checks what escapes
            assert_own_error(exc)
            refused += 1
            continue
        accepted += 1
        for clicks in objects:
            assert clicks and any(c.is_positive for c in clicks)
            for c in clicks:
                assert math.isfinite(c.x) and math.isfinite(c.y) and src.grid.contains(c.x, c.y)
    assert accepted > 100 and refused > 1000                                  # the generator reaches both sides
    print(f"click-file fuzz: {accepted} accepted, {refused} refused")
    assert time.monotonic() - started < 30


# -- session sequences ----------------------------------------------------------------------------------
def replayed_probabilities(session: DigitisingSession):
    """The oracle: a fresh session and predictor on the same window, the same clicks added in order."""
    fresh = DigitisingSession(session.source, FakePredictor(), max_side=session.max_side,
                              margin_px=session.margin_px)
    fresh._open_window(session.window)
    for click in session.clicks:
        fresh._click_in_window(click)
    return fresh.probabilities


def random_point(rng: random.Random, src: RasterSource, info: dict):
    roll = rng.random()
    if roll < 0.3:
        return info["lobe_xy"]
    xmin, ymin, xmax, ymax = src.grid.extent
    if roll < 0.95:
        return rng.uniform(xmin, xmax - 1e-6), rng.uniform(ymin + 1e-6, ymax)
    return rng.uniform(xmin - 50, xmax + 50), rng.uniform(ymin - 50, ymax + 50)   # often outside


def test_fuzz_session_sequences(source):
    src, info = source
    rng = random.Random(SEED + 1)
    counts = {"add": 0, "undo": 0, "box": 0, "discard": 0, "finish": 0, "refused": 0}
    started = time.monotonic()
    for _ in range(N_SEQUENCES):
        session = DigitisingSession(src, FakePredictor(), max_side=rng.choice([64, 96, 1600]),
                                    margin_px=rng.choice([12, 24, 48]))
        for _ in range(STEPS):
            action = rng.choices(["add", "undo", "box", "discard", "finish"], [6, 3, 1, 1, 2])[0]
            try:
                if action == "add":
                    session.add_click(*random_point(rng, src, info), rng.random() < 0.7)
                elif action == "undo":
                    before = session.clicks
                    session.undo()
                    assert session.clicks == before[:-1] or (not before and session.clicks == [])
                elif action == "box":
                    (x0, y0), (x1, y1) = random_point(rng, src, info), random_point(rng, src, info)
                    session.start_box(x0, y0, x1, y1)
                elif action == "discard":
                    session.discard()
                    assert session.probabilities is None and session.clicks == []
                else:
                    finished = session.finish()
                    assert finished.polygons_wkt and finished.n_pos == session.n_pos
            except Exception as exc:  # noqa: BLE001 - the fuzz checks what escapes
                assert_own_error(exc)
                counts["refused"] += 1
            else:
                counts[action] += 1
            if session.window is not None and session.clicks:
                expected = replayed_probabilities(session)
                assert np.array_equal(session.probabilities, expected), "undo/replay is not bit-exact"
                assert np.array_equal(session.mask, expected > session.threshold)
    assert min(counts.values()) > 10, counts                               # every action and refusals seen
    print("session fuzz:", counts)
    assert time.monotonic() - started < 30
