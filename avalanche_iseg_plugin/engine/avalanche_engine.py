"""The one "clicks of one avalanche -> polygons" engine, shared by the map tool's finish, the
``segment`` CLI and the Processing algorithm.

(Skeleton laid down by the restructuring; filled in by the batch-engine work.)
"""
from __future__ import annotations


def finish_object(session, *, min_area=None, simplify=None):
    """Vectorise the session's current object; a FinishedObject, or SessionError for an empty mask."""
    return session.finish(min_area=min_area, simplify=simplify)
