"""The plugin's own errors: one root, ``AvalancheError``.

Each carries one sentence meant for the user (QGIS message bar, or the CLI's one line on stderr): what
went wrong and what to do. Front ends catch ``USER_ERRORS`` — this root and core_model's
(``CoreModelError``: checkpoints, datasets) — and show ``str(exc)``; anything else, a ``ValueError`` from
a bug included, is logged with its traceback as a bug.
"""
from core_model.errors import CoreModelError


class AvalancheError(Exception):
    """Root of every error the plugin raises on purpose; its text is one sentence for the user."""


#: The errors whose text is one sentence for the user: the plugin's root and core_model's.
USER_ERRORS = (AvalancheError, CoreModelError)


class RasterError(AvalancheError):
    """A raster cannot be used: unreadable, rotated, a click outside it, ..."""


class SessionError(AvalancheError):
    """The digitising session cannot do what was asked (e.g. finish with an empty mask)."""


class LayerError(AvalancheError):
    """The avalanche (vector) layer cannot be created, opened or written."""


class EmptyMaskError(SessionError):
    """Finishing found an empty mask: names the click after which the mask became (and stayed) empty.

    ``click_number`` (1-based), ``x``, ``y`` (raster CRS), ``is_positive`` and ``reason`` (what to do)
    let a front end word its own hint; ``sentence(object_name)`` says which object, for batches."""

    def __init__(self, click_number: int, x: float, y: float, is_positive: bool, reason: str):
        self.click_number, self.x, self.y = int(click_number), float(x), float(y)
        self.is_positive, self.reason = bool(is_positive), reason
        super().__init__(self.sentence())

    @classmethod
    def for_clicks(cls, clicks, mask_after_click) -> "EmptyMaskError":
        """The error for an object whose mask is empty after its last click: ``clicks`` have x, y and
        is_positive; ``mask_after_click[i]`` says whether the mask was non-empty after click i."""
        k = len(clicks)
        while k > 1 and not mask_after_click[k - 2]:
            k -= 1
        click = clicks[k - 1]
        later = ", and the clicks after it did not bring it back" if k < len(clicks) else ""
        if click.is_positive:
            reason = (f"the model sees no avalanche there{later}; move the click onto the avalanche or add "
                      "positive clicks")
        else:
            reason = f"the negative click removed the whole mask{later}; move it off the avalanche or drop it"
        return cls(k, click.x, click.y, click.is_positive, reason)

    def __reduce__(self):  # picklable (worker processes): rebuilt from the fields, not from args
        return type(self), (self.click_number, self.x, self.y, self.is_positive, self.reason)

    def sentence(self, object_name: str = "") -> str:
        of = f" of {object_name}" if object_name else ""
        return (f"Click {self.click_number}{of} (at {self.x:.2f}, {self.y:.2f}) gave an empty mask: "
                f"{self.reason}.")


class CameraError(AvalancheError):
    """A webcam camera cannot be fitted, loaded or used: too few or degenerate GCPs, a bad camera file,
    a photo of another size, a DEM that cannot be used, ..."""


class WriteDeferred(AvalancheError):
    """A finished avalanche cannot be written yet because something it needs is still being made in the
    background (a webcam photo's terrain): it stays kept and unsaved, and is written once that is ready."""
