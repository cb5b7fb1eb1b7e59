"""Drawing a layer that only QGIS can read (a web service, a virtual raster, a layer "as displayed") for the
digitiser, off the GUI thread: a QgsMapRendererParallelJob draws the plan (layers/rendered_raster.py)
while QGIS stays usable; a status line in the message bar counts the seconds while tiles load; after
``timeout_s`` the job is cancelled with a clear message. The drawn pixels are written as a snapshot
GeoTIFF in a temporary folder (deleted on unload) and the engine's RasterInfo of it handed on.
Clicks made while a layer is being drawn wait and are replayed, in order, once it is ready."""
from __future__ import annotations

import os
import tempfile

from qgis.core import Qgis, QgsMapRendererParallelJob
from qgis.PyQt.QtCore import QElapsedTimer, QTimer
from qgis.PyQt.QtWidgets import QApplication

from ..engine.errors import RasterError
from ..engine.raster_info import describe_raster
from ..layers.rendered_raster import render_errors, rgba_of, save_snapshot

RENDER_TIMEOUT_S = 60.0
TITLE = "Avalanche digitiser"


class RasterSnapshots:
    def __init__(self, iface, say):
        self.iface, self.say = iface, say
        self.timeout_s = RENDER_TIMEOUT_S
        self._folder = tempfile.TemporaryDirectory(prefix="avalanche_iseg_snapshots_")
        self._count = 0
        self._job = None
        self._waiting: list = []       # retries of the clicks made while drawing
        self._status = None
        self._ticker = QTimer()
        self._ticker.setInterval(250)
        self._ticker.timeout.connect(self._tick)
        self._clock = QElapsedTimer()

    @property
    def busy(self) -> bool:
        return self._job is not None

    def draw(self, layer, plan, on_ready, retry) -> None:
        """Draw ``plan`` of ``layer``; then ``on_ready(plan, info)`` and the waiting retries (``retry`` first).
        While a drawing runs, ``retry`` just waits for it."""
        self._waiting.append(retry)
        if self._job is not None:
            return
        job = QgsMapRendererParallelJob(plan.map_settings(layer))
        job.finished.connect(lambda: self._finished(job, layer, plan, on_ready))
        self._job = job
        g = plan.grid
        self._status = self.iface.messageBar().createMessage(
            TITLE, f"Reading '{layer.name()}' through QGIS ({g.width} × {g.height} px at {g.pixel_size[0]:.3g} "
            f"map units/px): loading tiles…")
        self.iface.messageBar().pushWidget(self._status, Qgis.Info, 0)
        self._clock.start()
        self._ticker.start()
        job.start()

    def _tick(self) -> None:
        seconds = self._clock.elapsed() / 1000.0
        if self._status is not None:
            text = self._status.text()
            self._status.setText(text.split(" — ")[0] + f" — {seconds:.0f} s")
        if self._job is not None and seconds > self.timeout_s:
            self._job.cancelWithoutBlocking()   # finished follows, with the image drawn so far

    def _finished(self, job, layer, plan, on_ready) -> None:
        timed_out = self._clock.elapsed() / 1000.0 > self.timeout_s
        self._ticker.stop()
        self._job = None
        if self._status is not None:
            self.iface.messageBar().popWidget(self._status)
            self._status = None
        waiting, self._waiting = self._waiting, []
        if timed_out:
            return self.say(f"'{layer.name()}' did not deliver its image within {self.timeout_s:.0f} s (the "
                            "service is slow or down); try again, or zoom in so that fewer tiles are needed.")
        try:
            rgba = rgba_of(job.renderedImage())
            self._count += 1
            path = save_snapshot(plan, rgba, self._folder.name, self._count)
            self._forget(self._count - 2)    # the one before the last may still be read; older ones not
            info = describe_raster(path)
        except RasterError as exc:
            errors = render_errors(job, layer)
            return self.say(str(exc) + (f" QGIS reported: {errors}" if errors else ""))
        on_ready(plan, info)
        for again in waiting:
            again()

    def _forget(self, index: int) -> None:
        path = os.path.join(self._folder.name, f"snapshot_{index}.tif")
        if index > 0 and os.path.exists(path):
            try:
                os.remove(path)
            except OSError:
                pass   # still open somewhere (Windows): the folder goes on unload

    def wait(self, timeout: float = 60.0) -> None:
        """Process events until no layer is being drawn (tests, shutdown)."""
        clock = QElapsedTimer()
        clock.start()
        while self._job is not None and clock.elapsed() < timeout * 1000:
            QApplication.processEvents()

    def close(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self._ticker.stop()
        self._waiting = []
        self._folder.cleanup()
