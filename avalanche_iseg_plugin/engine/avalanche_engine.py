"""The one "clicks of one avalanche -> polygons" engine, shared by the map tool's finish, the
``segment`` CLI and the Processing algorithm.

* ``finish_object(session, ...)``: vectorise the object the session holds (the map tool's finish;
  the clicks came one by one, the window grew as needed).
* ``segment_object(session, clicks, ...)``: for batch front ends, where every click is known: the
  window is opened around all clicks at once (the session's margin on every side), so it never grows
  and no click is replayed; then the clicks are added in order and the object is finished.

Both raise the same errors: ``EmptyMaskError`` (a ``SessionError``) naming the click after which the
mask became, and stayed, empty; ``SessionError`` when nothing is left after dropping specks;
``RasterError`` for a click outside the raster.  The session is left holding the object (call
``discard()`` once the result is written), so a failed write loses nothing.
"""
from __future__ import annotations

from .errors import SessionError
from .session import FinishedObject, SessionClick


def finish_object(session, *, min_area=None, simplify=None) -> FinishedObject:
    """Vectorise the session's current object; a FinishedObject, or SessionError (EmptyMaskError for an
    empty mask, naming the click at fault)."""
    return session.finish(min_area=min_area, simplify=simplify)


def as_click(click) -> SessionClick:
    """A SessionClick from a SessionClick or an (x, y, positive) tuple."""
    if isinstance(click, SessionClick):
        return click
    x, y, positive = click
    return SessionClick(float(x), float(y), bool(positive))


def segment_object(session, clicks, *, min_area=None, simplify=None) -> FinishedObject:
    """Segment one object from all its clicks (SessionClick or (x, y, positive), in the raster's CRS,
    applied in order); discards the object the session held before."""
    clicks = [as_click(c) for c in clicks]
    if not clicks:
        raise SessionError("An avalanche needs at least one click; give it a positive click on the avalanche.")
    session.discard()
    session.open_window_around([(c.x, c.y) for c in clicks])
    for click in clicks:
        session.add_click(click.x, click.y, click.is_positive)
    return finish_object(session, min_area=min_area, simplify=simplify)
