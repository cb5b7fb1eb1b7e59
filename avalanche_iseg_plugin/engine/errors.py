"""Errors of the plugin's plain-Python logic.

Each carries one sentence meant for the QGIS message bar: what went wrong and what to do.
All derive from ValueError so callers can catch bad input in one place.
"""


class RasterError(ValueError):
    """A raster cannot be used: unreadable, rotated, a click outside it, ..."""


class SessionError(ValueError):
    """The digitising session cannot do what was asked (e.g. finish with an empty mask)."""


class LayerError(ValueError):
    """The avalanche (vector) layer cannot be created, opened or written."""
