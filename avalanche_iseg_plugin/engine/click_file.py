"""The clicks file of the headless segmenter (``python -m avalanche_iseg_plugin.segment``).

JSON, either the clicks of one object or a list of objects (each a list of clicks)::

    [{"x": 2600195.2, "y": 1199850.0, "positive": true}, {"x": 2600230.0, "y": 1199790.5, "positive": false}]

    [[{"x": 2600195.2, "y": 1199850.0}], [{"row": 120, "col": 610}, {"row": 150, "col": 640, "positive": false}]]

A click is ``{"x": X, "y": Y}`` in the raster's CRS (map units; for a photo without georeference the
pixel units QGIS uses: x = column, y = -row) or ``{"row": R, "col": C}``, integer pixel indices of the
raster (row 0 = top, column 0 = left; the click is at the pixel's centre).  ``"positive"`` is true (on
the avalanche, the default) or false (not the avalanche).  Every object needs a positive click.

``read_click_file(path, source) -> list[list[SessionClick]]`` checks everything against the raster and
raises ``ClickFileError`` with one sentence naming the object and click at fault.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import AvalancheError
from .raster_window import RasterSource
from .session import SessionClick

EXAMPLE = '[{"x": 2600195.2, "y": 1199850.0, "positive": true}] or [[{"row": 120, "col": 610}], ...]'
XY_KEYS = {"x", "y"}
#: longest JSON text of a value quoted in an error line (longer ones are cut, "…" marks the cut)
QUOTE_CHARS = 60
#: most digits of an integer in a clicks file (a coordinate or pixel index never needs more)
MAX_DIGITS = 30
PIXEL_KEYS = {"row", "col"}


class ClickFileError(AvalancheError):
    """The clicks file cannot be used; the message is one sentence."""


def quoted(value, limit: int = QUOTE_CHARS) -> str:
    """``value`` as JSON text for an error line, cut to ``limit`` characters (huge strings are not echoed)."""
    if isinstance(value, str):
        text = json.dumps(value[: limit + 1])
    else:
        try:
            text = json.dumps(value)
        except (ValueError, RecursionError):
            text = repr(type(value).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise ClickFileError(f"The clicks file holds a number with {digits} digits; coordinates and pixel indices "
                             f"are ordinary numbers (at most {MAX_DIGITS} digits).")
    return int(text)


def _coordinate(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 1e15 else f"{value:.6g}"


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ClickFileError(f"The clicks file holds the number {quoted(text, 40)}, which is too large to be a "
                             "coordinate; give coordinates in the raster's CRS.")
    return value


def _parse_constant(text: str):
    raise ClickFileError(f"The clicks file holds {text}, which is not a coordinate; give finite numbers.")


def _is_click(item) -> bool:
    return isinstance(item, dict)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _names(keys, most: int = 3) -> str:
    """Key names for an error line: each cut to 24 characters, at most ``most`` of them."""
    shown = [k if len(k) <= 24 else k[:23] + "…" for k in keys[:most]]
    more = f" and {len(keys) - most} more" if len(keys) > most else ""
    return ", ".join(shown) + more


def _where(obj_no: int, click_no: int) -> str:
    return f"Click {click_no} of object {obj_no}"


def _parse_click(item, where: str, source: RasterSource) -> SessionClick:
    if not isinstance(item, dict):
        raise ClickFileError(f"{where} is {quoted(item)}, not a click; write a click as "
                             '{"x": X, "y": Y, "positive": true} or {"row": R, "col": C, "positive": true}.')
    keys = set(item)
    positive = item.get("positive", True)
    if isinstance(positive, int) and not isinstance(positive, bool) and positive in (0, 1):
        positive = bool(positive)
    if not isinstance(positive, bool):
        raise ClickFileError(f"{where} has \"positive\": {quoted(positive)}; use true (on the avalanche) "
                             "or false (not the avalanche).")
    coords = keys - {"positive"}
    if coords not in (XY_KEYS, PIXEL_KEYS):
        unknown = sorted(coords - XY_KEYS - PIXEL_KEYS)
        found = _names(sorted(keys))
        hint = f" (unknown: {_names(unknown)})" if unknown else ""
        what = f"has the keys {found}{hint}" if keys else "is empty ({})"
        raise ClickFileError(f"{where} {what}; a click needs either \"x\" and \"y\" (raster CRS) "
                             "or \"row\" and \"col\" (pixels), plus an optional \"positive\".")
    values = [item[k] for k in sorted(coords)]
    if not all(_is_number(v) for v in values):
        raise ClickFileError(f"{where} has a coordinate that is not a number: {quoted(item)}.")
    if coords == PIXEL_KEYS:
        row, col = item["row"], item["col"]
        if not (float(row).is_integer() and float(col).is_integer()):
            raise ClickFileError(f"{where} has row {row}, col {col}; pixel indices must be whole numbers "
                                 "(or give \"x\"/\"y\" in the raster's CRS).")
        row, col = int(row), int(col)
        if not (0 <= row < source.height and 0 <= col < source.width):
            raise ClickFileError(f"{where} (row {row}, col {col}) is outside the raster '{source.name}', "
                                 f"which has rows 0-{source.height - 1} and columns 0-{source.width - 1}.")
        x, y = source.grid.xy_of(row + 0.5, col + 0.5)
        return SessionClick(float(x), float(y), positive)
    x, y = float(item["x"]), float(item["y"])
    if not source.grid.contains(x, y):
        xmin, ymin, xmax, ymax = source.grid.extent
        units = "its CRS" if source.is_georeferenced else "pixel units, y = -row"
        raise ClickFileError(f"{where} at ({_coordinate(x)}, {_coordinate(y)}) is outside the raster '{source.name}', which "
                             f"covers x {xmin:.2f} to {xmax:.2f} and y {ymin:.2f} to {ymax:.2f} ({units}); "
                             "give x/y in the raster's CRS or use row/col.")
    return SessionClick(x, y, positive)


def parse_objects(data, source: RasterSource) -> list[list[SessionClick]]:
    """The JSON value of a clicks file -> objects (lists of clicks in raster-CRS coordinates)."""
    if not isinstance(data, list) or not data:
        raise ClickFileError(f"The clicks file must hold a non-empty JSON list of clicks or of objects, e.g. {EXAMPLE}.")
    if all(_is_click(item) for item in data):
        raw_objects = [data]
    elif all(isinstance(item, list) for item in data):
        raw_objects = data
    elif any(not isinstance(item, (dict, list)) for item in data):
        k, item = next((k, item) for k, item in enumerate(data, 1) if not isinstance(item, (dict, list)))
        raise ClickFileError(f"Item {k} of the clicks file is {quoted(item)}, neither a click nor an object "
                             f"(a list of clicks), e.g. {EXAMPLE}.")
    else:
        raise ClickFileError("The clicks file mixes clicks and objects at the top level; give either one list of "
                             f"clicks (one object) or a list of objects, each a list of clicks, e.g. {EXAMPLE}.")
    objects = []
    for obj_no, raw in enumerate(raw_objects, 1):
        if not raw:
            raise ClickFileError(f"Object {obj_no} has no clicks; give each object at least one positive click.")
        clicks = [_parse_click(item, _where(obj_no, k), source) for k, item in enumerate(raw, 1)]
        if not any(c.is_positive for c in clicks):
            raise ClickFileError(f"Object {obj_no} has no positive click; give at least one click with \"positive\": true "
                                 "on the avalanche.")
        objects.append(clicks)
    return objects


def read_click_file(path, source: RasterSource) -> list[list[SessionClick]]:
    """Read and check a clicks file (see the module doc); ClickFileError with one sentence if unusable."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ClickFileError(f"The clicks file '{path}' {what}.")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: files saved by Windows editors
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise ClickFileError(f"The clicks file '{path}' nests lists too deeply; a clicks file is a list of clicks "
                             f"or a list of objects, e.g. {EXAMPLE}.") from None
    except MemoryError:
        raise ClickFileError(f"The clicks file '{path}' is too large to read.") from None
    except json.JSONDecodeError as exc:
        raise ClickFileError(f"The clicks file '{path}' is not valid JSON ({exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}).") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ClickFileError(f"The clicks file '{path}' cannot be read as UTF-8 text ({exc}).") from None
    return parse_objects(data, source)
