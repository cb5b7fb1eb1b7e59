"""The plugin's own errors: one root, ``AvalancheError``.

Each carries one sentence meant for the user (QGIS message bar, or the CLI's one line on stderr): what
went wrong and what to do. Front ends show ``str(exc)`` for these (and for core_model's CheckpointError)
and treat anything else as a bug. The root derives from ValueError so that code catching bad input with
``except ValueError`` keeps working.
"""


class AvalancheError(ValueError):
    """Root of every error the plugin raises on purpose; its text is one sentence for the user."""


class RasterError(AvalancheError):
    """A raster cannot be used: unreadable, rotated, a click outside it, ..."""


class SessionError(AvalancheError):
    """The digitising session cannot do what was asked (e.g. finish with an empty mask)."""


class LayerError(AvalancheError):
    """The avalanche (vector) layer cannot be created, opened or written."""


class CameraError(AvalancheError):
    """A webcam camera cannot be fitted, loaded or used: too few or degenerate GCPs, a bad camera file,
    a photo of another size, a DEM that cannot be used, ..."""
