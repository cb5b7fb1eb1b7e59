"""A webcam photo's terrain, prepared in the background, so that Space on the photo never freezes QGIS.

Building the TerrainProjector (engine/webcam/finish_on_terrain.py ``build_projector``: reading the DEM and
making the camera's depth buffer; seconds for a large DEM) runs as a QgsTask as soon as the photo's camera,
its DEM and the ground resolution are known: progress in QGIS's task manager, and one short message.

* ``prepare(photo, resolution)`` starts the build for that key (camera, DEM file, resolution) unless it is
  cached or already building; a build for another key supersedes the running one (cancelled: it stops at
  its next progress step, its result is dropped).  A build that failed is not started again until Space
  asks for it (``projector``).
* ``projector(photo, resolution)``: the cached projector, or None once its build is under way.
* ``defer(item, layer, photo)``: Space came while the build runs.  The avalanche is remembered with the
  layer it is meant for (the target at Space time) and WriteDeferred is raised, so the digitiser keeps it
  unsaved (drawn dashed, counted in the dock).  When the build is ready, the digitiser writes its kept
  avalanches, once, if each waiting one would still go to the layer it was meant for; otherwise a message
  asks for Space.  A failed build: one sentence in the message bar, the avalanches stay unsaved (Space tries
  again; 'Save to new layer…' or a layer in photo pixels take them too).
"""
from __future__ import annotations

import time
import traceback

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import QCoreApplication, QEventLoop

from ...engine.errors import AvalancheError, WriteDeferred
from ...engine.webcam import finish_on_terrain

LOG_TITLE = "Avalanche digitiser"


class BuildCancelled(AvalancheError):
    """Raised by a build's progress callback once its task is cancelled: ends the build early."""


class TerrainBuildTask(QgsTask):
    """Builds one TerrainProjector on a worker thread; ``on_done(task, ok)`` runs on the GUI thread."""

    def __init__(self, photo, resolution, key, on_done):
        super().__init__(f"Preparing the terrain for {photo.photo_name}", QgsTask.CanCancel)
        self.photo, self.resolution, self.key, self.on_done = photo, resolution, key, on_done
        self.projector = None
        self.error = ""          # one sentence when the build failed
        self.bug = ""            # a traceback when it failed for a reason of its own

    def _progress(self, fraction: float) -> None:
        if self.isCanceled():
            raise BuildCancelled("The terrain build was superseded or cancelled.")
        self.setProgress(2.0 + 97.0 * fraction)

    def run(self) -> bool:  # worker thread: no Qt widgets, no project
        self.setProgress(2.0)
        try:
            self.projector = finish_on_terrain.build_projector(self.photo.camera, self.photo.dem_path,
                                                               self.resolution, progress=self._progress)
        except BuildCancelled:
            return False
        except AvalancheError as exc:
            self.error = str(exc)
        except MemoryError:
            self.error = (f"There is not enough memory to prepare the terrain for {self.photo.photo_name}: "
                          "choose a coarser ground resolution in the webcam panel.")
        except Exception as exc:  # noqa: BLE001 - a bug: one sentence, the traceback in the log
            self.error = (f"Preparing the terrain for {self.photo.photo_name} failed ({type(exc).__name__}: {exc}); "
                          f"see the '{LOG_TITLE}' tab of the log panel.")
            self.bug = traceback.format_exc()
        self.setProgress(100.0)
        return self.projector is not None and not self.isCanceled()

    def finished(self, ok: bool) -> None:  # GUI thread
        self.on_done(self, bool(ok))


class TerrainPreparation:
    def __init__(self):
        self.finisher = finish_on_terrain.TerrainFinisher()   # the projector cache
        self.task: TerrainBuildTask | None = None             # the build that counts
        self._superseded: list[TerrainBuildTask] = []         # cancelled builds still running (kept alive)
        self._failed_key = None
        self.waiting: list[tuple[object, str]] = []           # (UnsavedObject, id of the layer meant at Space)
        self.digitiser = None
        self.say = lambda text, level=Qgis.Warning, duration=8: None
        self._shut = False

    def attach(self, digitiser, say) -> None:
        """``digitiser``: the DigitisingController whose kept avalanches are written when a build is ready;
        ``say(text, level, duration)``: the message bar."""
        self.digitiser, self.say, self._shut = digitiser, say, False

    @staticmethod
    def key(photo, resolution):
        return finish_on_terrain.projector_key(photo.camera, photo.dem_path, resolution)

    # ---------------------------------------------------------------- builds
    def prepare(self, photo, resolution, retry: bool = False) -> None:
        key = self.key(photo, resolution)
        if self._shut or self.finisher.cached(key) is not None or (self.task is not None and self.task.key == key):
            return
        if key == self._failed_key and not retry:
            return
        if self.task is not None:
            self.task.cancel()
            self._superseded.append(self.task)
        self.task = TerrainBuildTask(photo, resolution, key, self._on_done)
        QgsApplication.taskManager().addTask(self.task)
        self.say(f"Preparing the terrain for {photo.photo_name}…", Qgis.Info, 3)

    def projector(self, photo, resolution):
        """The projector for ``photo`` at ``resolution``; None (and its build started) when not ready."""
        projector = self.finisher.cached(self.key(photo, resolution))
        if projector is None:
            self.prepare(photo, resolution, retry=True)
        return projector

    @property
    def building(self) -> bool:
        return self.task is not None or bool(self._superseded)

    def defer(self, item, layer, photo) -> None:
        """Keep ``item`` for ``layer`` until the build is ready: raises WriteDeferred (the digitiser keeps it)."""
        self.waiting = [(i, lid) for i, lid in self.waiting if i is not item] + [(item, layer.id())]
        raise WriteDeferred(f"The terrain for {photo.photo_name} is still being prepared: the avalanche is kept and "
                            f"written into '{layer.name()}' as soon as it is ready.")

    def _on_done(self, task: TerrainBuildTask, ok: bool) -> None:
        if task in self._superseded:
            self._superseded.remove(task)
            return
        if task is not self.task:
            return
        self.task = None
        if task.bug:
            QgsMessageLog.logMessage(task.bug, LOG_TITLE, Qgis.Critical)
        if self._shut:
            return
        waiting = self._still_waiting()
        if not ok:
            self._failed_key = task.key
            self.waiting = []
            kept = (f" ({len(waiting)} finished avalanche(s) from {task.photo.photo_name} are kept: press Space to "
                    "try again, or save them to a layer in photo pixels.)") if waiting else ""
            self.say((task.error or f"Preparing the terrain for {task.photo.photo_name} was cancelled.") + kept,
                     Qgis.Warning, 10)
            return
        self._failed_key = None
        self.finisher.keep(task.key, task.projector)
        self._write(waiting)

    def _still_waiting(self):
        unsaved = self.digitiser.rules.unsaved if self.digitiser is not None else []
        return [(item, lid) for item, lid in self.waiting if any(u is item for u in unsaved)]

    def _write(self, waiting) -> None:
        self.waiting = []
        if not waiting:
            return
        target = self.digitiser.target
        meant = [(target.layer_for(item.layer_id), lid) for item, lid in waiting]
        moved = [lid for layer, lid in meant if layer is None or layer.id() != lid]
        if moved:                # the user chose another target meanwhile: never write where they did not say
            self.say(f"The terrain is ready; {len(waiting)} finished avalanche(s) are kept: press Space to write "
                     "them into the target layer.", Qgis.Info, 8)
            return
        self.digitiser._save_unsaved()

    # ---------------------------------------------------------------- tests, life cycle
    def wait_idle(self, timeout: float = 60.0) -> None:
        """Processes GUI events until no build runs (and a ready one has been written); TimeoutError after
        ``timeout`` s.  For tests and shutdown: the GUI itself never waits."""
        deadline = time.monotonic() + timeout
        while self.building:
            if time.monotonic() > deadline:
                raise TimeoutError(f"The terrain was still being prepared after {timeout:.0f} s.")
            QCoreApplication.processEvents(QEventLoop.AllEvents, 20)
            if self.building:
                time.sleep(0.002)

    def shutdown(self, timeout: float = 10.0) -> None:
        self._shut = True
        self.waiting = []
        for task in [self.task, *self._superseded]:
            if task is not None:
                task.cancel()
        try:
            self.wait_idle(timeout)
        except TimeoutError:
            pass

