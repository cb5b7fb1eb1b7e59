"""Click points of a point layer -> the clicks of each avalanche (the Processing algorithm's rules).

Pure: works on plain ``(x, y, positive, key)`` tuples in the raster's CRS (the algorithm reads the
layer, transforms the points and parses the sign with ``click_sign``).

* With an avalanche (group) field, ``key`` is its value: points with the same value make one
  avalanche, in the order their first point comes.
* Without it, ``key`` is the point's own id: every positive point is its own avalanche, and every
  negative point refines each avalanche whose positive point is closer than ``NEGATIVE_REACH_PX``
  raster pixels (on both axes; the margin of the working window).
* In each avalanche the positive clicks come first, then the negative ones (each in layer order); an
  avalanche without a positive click is left out (its key is reported).
"""
from __future__ import annotations

NEGATIVE_REACH_PX = 256   # without an avalanche field, a negative point refines avalanches this close
POSITIVE_WORDS = {"1", "true", "t", "yes", "y", "positive", "pos", "+", "avalanche"}
NEGATIVE_WORDS = {"0", "false", "f", "no", "n", "negative", "neg", "-", "background", "-1"}


def click_sign(value) -> bool | None:
    """True (positive), False (negative) or None (not understood) for a field value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    text = str(value).strip().lower()
    if text in POSITIVE_WORDS:
        return True
    if text in NEGATIVE_WORDS:
        return False
    return None


def _within(a, b, distance) -> bool:
    return abs(a[0] - b[0]) < distance and abs(a[1] - b[1]) < distance


def group_clicks(points, *, by_field: bool, pixel_of, reach_px: int = NEGATIVE_REACH_PX):
    """``points``: iterable of (x, y, positive, key) (see the module doc for ``key``); ``pixel_of(x, y)``
    -> (row, col) of the raster.  Returns ``(groups, without_positive)``: groups are
    ``[(key, [(x, y, positive), ...]), ...]``, without_positive the keys of avalanches left out."""
    grouped: dict = {}
    negatives_everywhere: list = []
    for x, y, positive, key in points:
        click = (float(x), float(y), bool(positive))
        if not by_field and not positive:
            negatives_everywhere.append(click)
            continue
        grouped.setdefault(key, []).append(click)   # dicts keep the order of first appearance
    groups, without_positive = [], []
    for key, clicks in grouped.items():
        if not by_field:
            centre = pixel_of(clicks[0][0], clicks[0][1])
            clicks = clicks + [n for n in negatives_everywhere if _within(pixel_of(n[0], n[1]), centre, reach_px)]
        positives = [c for c in clicks if c[2]]
        if not positives:
            without_positive.append(key)
            continue
        groups.append((key, positives + [c for c in clicks if not c[2]]))
    return groups, without_positive
