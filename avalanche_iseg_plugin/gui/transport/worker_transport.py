"""Carries protocol commands to the session server on a worker thread, one at a time, in order, and its
replies back to the GUI thread.

``send(command)`` queues a command and returns at once; the worker thread runs
``server.handle(command)`` and the reply arrives on the GUI thread as ``replied(command, reply)``. A click
made while a prediction runs is simply the next command in the queue: it is never dropped.
``wait_idle`` lets tests (and shutdown) wait until every command has been answered.

With ``pickle_messages`` every command and every reply goes through ``pickle.dumps``/``loads`` on its
way, exactly as it would to a child process: what works this way needs no shared objects.
"""
from __future__ import annotations

import pickle
import queue
import time

from qgis.PyQt.QtCore import QCoreApplication, QEventLoop, QThread, pyqtSignal

from ...engine.protocol import ErrorReply

_STOP = object()


def wait_until_answered(transport, timeout: float) -> None:
    """Processes GUI events until ``transport`` (either kind) has no unanswered command; TimeoutError after
    ``timeout`` s. For tests and shutdown: the GUI itself never waits."""
    deadline = time.monotonic() + timeout
    while not transport.is_idle():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{transport.pending} prediction job(s) still running after {timeout:.0f} s.")
        QCoreApplication.processEvents(QEventLoop.AllEvents, 20)
        if not transport.is_idle():
            time.sleep(0.002)


class WorkerTransport(QThread):
    replied = pyqtSignal(object, object)          # command, reply (on the GUI thread)
    busyChanged = pyqtSignal(bool)
    _answered = pyqtSignal(int, bool, object)     # job id, pickled?, reply or its pickle: worker -> GUI thread

    def __init__(self, server, pickle_messages: bool = False, parent=None):
        super().__init__(parent)
        self.server = server
        self.pickle_messages = bool(pickle_messages)
        self._queue: queue.Queue = queue.Queue()
        self._next_id = 0
        self._outstanding: dict[int, object] = {}   # job id -> command, sent and not answered yet
        self._answered.connect(self._on_answered)

    # ---------------------------------------------------------------- GUI-thread API
    def send(self, command) -> int:
        """Queue ``command``; its reply comes later as ``replied(command, reply)``."""
        if not self.isRunning():
            self.start()
        self._next_id += 1
        job_id = self._next_id
        was_idle = not self._outstanding
        self._outstanding[job_id] = command
        pickled = self.pickle_messages
        self._queue.put((job_id, pickled, pickle.dumps(command) if pickled else command))
        if was_idle:
            self.busyChanged.emit(True)
        return job_id

    def cancel_queued(self) -> int:
        """Drop the commands not started yet (they get no reply); returns how many were dropped."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            self._outstanding.pop(item[0], None)
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
        """Process GUI events until every command has been answered; TimeoutError after ``timeout`` s."""
        wait_until_answered(self, timeout)

    def stop(self, timeout_ms: int = 30000) -> None:
        """Drop queued commands, let the running one finish, end the thread."""
        self.cancel_queued()
        if self.isRunning():
            self._queue.put(_STOP)
            self.wait(timeout_ms)
        self._outstanding.clear()

    # ---------------------------------------------------------------- worker thread
    def run(self):
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job_id, pickled, payload = item
            if pickled:
                reply = self.server.handle(pickle.loads(payload))
                try:
                    reply = pickle.dumps(reply)
                except Exception as exc:  # a reply that could not cross a process boundary is a bug
                    reply = pickle.dumps(ErrorReply.of(exc))
            else:
                reply = self.server.handle(payload)
            self._answered.emit(job_id, pickled, reply)

    # ---------------------------------------------------------------- GUI thread, queued from run()
    def _on_answered(self, job_id: int, pickled: bool, reply) -> None:
        command = self._outstanding.pop(job_id, None)
        if command is None:          # dropped meanwhile (stop)
            return
        if pickled:
            reply = pickle.loads(reply)
        try:
            self.replied.emit(command, reply)
        finally:
            if not self._outstanding:
                self.busyChanged.emit(False)
