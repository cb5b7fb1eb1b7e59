"""The controller's line to the session server: one transport at a time (a child process or a worker
thread, gui/transport/transports.py), replaced when the model factory changes or when the child process cannot
start — then the thread takes over the same commands, after a message."""
from __future__ import annotations

from qgis.core import Qgis

from .transports import THREAD, is_process, make_transport


class WorkerLink:
    def __init__(self, kind: str, factory, pickle_messages: bool, on_reply, on_busy, message):
        self._factory, self._pickle = factory, pickle_messages
        self._on_reply, self._on_busy, self._message = on_reply, on_busy, message
        self.worker = None
        self._use(make_transport(kind, factory, pickle_messages))

    @property
    def factory(self):
        return self._factory

    @factory.setter
    def factory(self, factory) -> None:
        """Another model factory (tests: a fake); the loaded model is dropped."""
        self._factory = factory
        if is_process(self.worker):
            self.switch("process")
        else:
            self.worker.server.predictor_factory = factory

    def _use(self, worker, replay=()) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.worker = worker
        worker.replied.connect(self._on_reply)
        worker.busyChanged.connect(self._on_busy)
        if is_process(worker):
            worker.crashed.connect(lambda text: self._message(text, Qgis.Warning, 10))
            worker.startFailed.connect(self._on_start_failed)
        for command in replay:   # answered before: rebuild the server's state without new replies
            worker.server.handle(command)

    def switch(self, kind: str) -> None:
        """A new transport of ``kind`` (when nothing is waiting for an answer)."""
        self.worker.wait_idle(60)
        history = list(getattr(self.worker, "history", []))
        worker = make_transport(kind, self._factory, self._pickle)
        self._use(worker, replay=[] if is_process(worker) else history)

    def _on_start_failed(self, sentence: str, commands: list) -> None:
        """The child process cannot run: the thread transport takes over the same commands."""
        self._message(sentence, Qgis.Warning, 10)
        history = list(self.worker.history)
        worker = make_transport(THREAD, self._factory, self._pickle)
        self._use(worker, replay=history)
        for command in commands[len(history):]:
            worker.send(command)
