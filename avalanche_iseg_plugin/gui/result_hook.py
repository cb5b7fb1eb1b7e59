"""The one place a front end may hook into the digitiser's finished avalanches: the webcam panel turns a
photo outline into a map outline before it is written, and names the CRS a new target layer gets while
it does."""
from __future__ import annotations


class ResultHookSlot:
    def __init__(self):
        self.hook = None           # hook(unsaved, layer) -> the UnsavedObject to write
        self._layer_crs = None     # () -> CRS of a new target layer, or None (the digitiser's own rule)

    def attach(self, hook, new_layer_crs=None) -> None:
        self.hook, self._layer_crs = hook, new_layer_crs

    def detach(self, hook) -> None:
        if self.hook is hook:
            self.hook = self._layer_crs = None

    def new_layer_crs(self):
        """The hook's CRS for a new target layer, or None."""
        return self._layer_crs() if self._layer_crs is not None else None
