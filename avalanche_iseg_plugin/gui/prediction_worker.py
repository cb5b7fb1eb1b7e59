"""Runs predictions (and every other session call) off the GUI thread, one at a time, in order.

Jobs are plain callables. ``submit`` queues one and returns its id at once; the worker thread runs the
jobs in submission order and reports each result back on the GUI thread through ``jobDone`` /
``jobFailed``. A click made while a prediction runs is simply the next job in the queue: it is never
dropped. ``wait_idle`` lets tests (and shutdown) wait deterministically until every submitted job has
been reported.
"""
from __future__ import annotations

import queue
import time
import traceback

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QThread, pyqtSignal

_STOP = object()


class PredictionWorker(QThread):
    jobDone = pyqtSignal(int, object)         # job id, result
    jobFailed = pyqtSignal(int, object)       # job id, exception
    busyChanged = pyqtSignal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._queue: queue.Queue = queue.Queue()
        self._next_id = 0
        self._outstanding: set[int] = set()   # submitted, not yet reported on the GUI thread
        self._callbacks: dict[int, tuple] = {}
        self.jobDone.connect(self._on_done)
        self.jobFailed.connect(self._on_failed)

    # ---------------------------------------------------------------- GUI-thread API
    def submit(self, fn, *args, on_done=None, on_failed=None) -> int:
        """Queue ``fn(*args)``; ``on_done(result)`` / ``on_failed(exc)`` run later on the GUI thread."""
        if not self.isRunning():
            self.start()
        self._next_id += 1
        job_id = self._next_id
        was_idle = not self._outstanding
        self._outstanding.add(job_id)
        self._callbacks[job_id] = (on_done, on_failed)
        self._queue.put((job_id, fn, args))
        if was_idle:
            self.busyChanged.emit(True)
        return job_id

    def cancel_queued(self) -> int:
        """Drop the jobs not started yet (their callbacks never run); returns how many were dropped."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            job_id = item[0]
            self._forget(job_id)
            dropped += 1
        if dropped and not self._outstanding:
            self.busyChanged.emit(False)
        return dropped

    @property
    def pending(self) -> int:
        return len(self._outstanding)

    def is_idle(self) -> bool:
        return not self._outstanding

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Process GUI events until every submitted job has been reported; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self._outstanding:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._outstanding)} prediction job(s) still running after {timeout:.0f} s.")
            QCoreApplication.processEvents(QEventLoop.AllEvents, 20)
            if self._outstanding:
                time.sleep(0.002)

    def stop(self, timeout_ms: int = 30000) -> None:
        """Drop queued jobs, let the running one finish, end the thread."""
        self.cancel_queued()
        if self.isRunning():
            self._queue.put(_STOP)
            self.wait(timeout_ms)
        self._outstanding.clear()
        self._callbacks.clear()

    # ---------------------------------------------------------------- worker thread
    def run(self):
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job_id, fn, args = item
            try:
                result = fn(*args)
            except Exception as exc:  # reported on the GUI thread as one message
                exc.worker_traceback = traceback.format_exc()
                self.jobFailed.emit(job_id, exc)
            else:
                self.jobDone.emit(job_id, result)

    # ---------------------------------------------------------------- GUI thread, queued from run()
    def _forget(self, job_id: int):
        self._outstanding.discard(job_id)
        return self._callbacks.pop(job_id, (None, None))

    def _on_done(self, job_id: int, result) -> None:
        on_done, on_failed = self._forget(job_id)
        try:
            if on_done is not None:
                on_done(result)
        except Exception as exc:  # a failing result handler is reported like a failing job
            _log(traceback.format_exc())
            if on_failed is not None:
                on_failed(exc)
        finally:
            if not self._outstanding:
                self.busyChanged.emit(False)

    def _on_failed(self, job_id: int, exc) -> None:
        _, on_failed = self._forget(job_id)
        _log(getattr(exc, "worker_traceback", repr(exc)))
        try:
            if on_failed is not None:
                on_failed(exc)
        except Exception:
            _log(traceback.format_exc())
        finally:
            if not self._outstanding:
                self.busyChanged.emit(False)


def _log(text: str) -> None:
    QgsMessageLog.logMessage(text, "Avalanche digitiser", Qgis.Info)
