"""Carries protocol commands to a session server running in a long-lived child Python process
(engine/server_process.py) and its replies back to the GUI thread — the same interface as the thread
transport (worker_transport.py): ``send``, ``replied(command, reply)``, ``busyChanged``, ``cancel_queued``,
``wait_idle``, ``stop``.

Commands are pickled onto the child's stdin, replies read from its stdout by a reader thread; replies come
in the order of the commands. The transport keeps the commands that built the server's present state
(the raster, the threshold and the answered clicks of the avalanche in progress): when the child dies (crash,
out of memory, killed) ``crashed`` says so in one line, a new child starts, those commands are replayed
silently and the unanswered ones are sent again, so the next click continues the same avalanche.
Finished avalanches were already delivered to the GUI and are not touched. A child that cannot start at
all emits ``startFailed(sentence, commands)`` so the caller can fall back to the thread transport.

The child gets QGIS's sys.path and the plugin-private dependency folder (dependencies/folder.py) as its
PYTHONPATH when it starts. When an install has finished since then (the folder appeared or went, or its
install stamp changed), the next command first restarts the child quietly with the new path, the present
state replayed — so the click after an install uses what was just installed, without a QGIS restart.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import deque

from qgis.PyQt.QtCore import QObject, pyqtSignal

from core_model.openmp import passive_openmp

from ...dependencies.folder import install_stamp, private_dir, python_executable
from .worker_transport import wait_until_answered
from ...engine.protocol import (AddClick, Box, Close, Discard, ErrorReply, Finish, SetRaster, SetThreshold,
                               StartFromPolygon, Undo)
from ...engine.server_process import read_message, unpack_reply, write_message

_OBJECT_COMMANDS = (AddClick, Box, StartFromPolygon, Undo)
_MAX_RESTARTS_PER_COMMAND = 2
PLUGIN_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class ProcessTransport(QObject):
    replied = pyqtSignal(object, object)        # command, reply (GUI thread)
    busyChanged = pyqtSignal(bool)
    crashed = pyqtSignal(str)                   # one line for the message bar
    startFailed = pyqtSignal(str, list)         # sentence, the commands to run elsewhere (state + unanswered)
    _received = pyqtSignal(int, object)         # generation, reply   (reader thread -> GUI thread)
    _ended = pyqtSignal(int, str)               # generation, why     (reader thread -> GUI thread)

    def __init__(self, factory_spec: str = "", python: str | None = None, parent=None):
        super().__init__(parent)
        self.factory_spec = factory_spec
        self.python = python or python_executable()
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self.history: list = []                   # commands that rebuild the server's state
        self._outstanding: deque = deque()        # (command, silent) sent, not answered yet, in order
        self._generation = 0
        self._ready = False
        self._stopping = False
        self._failures = 0                        # child deaths since the last answered command
        self._stamp = None                        # the private folder's install stamp the child started with
        self._received.connect(self._on_received)
        self._ended.connect(self._on_ended)

    # ---------------------------------------------------------------- the child
    def _environment(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = _python_path()
        passive_openmp(env)
        return env

    def paths_changed(self) -> bool:
        """True when the running child was started before the last install (or removal) of dependencies."""
        return self.process is not None and self._stamp != install_stamp()

    def restart(self) -> None:
        """Lets the running child end (its stdin closes); the next command starts a new one with the present
        Python path, the present state replayed silently first."""
        old, self.process = self.process, None
        if old is not None:
            _let_end(old)

    def _start(self) -> bool:
        cmd = [self.python, "-m", "avalanche_iseg_plugin.engine.server_process"]
        if self.factory_spec:
            cmd += ["--factory", self.factory_spec]
        self._generation += 1
        self._ready = False
        self._stamp = install_stamp()
        env = self._environment()
        try:
            if not self.python:
                raise OSError("the Python QGIS runs on was not found")
            self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                            env=env, cwd=PLUGIN_PARENT)
        except OSError as exc:
            self.process = None
            self._give_up(f"The inference process cannot be started ({exc}); predictions run in QGIS's "
                          "own process instead.")
            return False
        threading.Thread(target=self._read, args=(self.process, self._generation), daemon=True).start()
        return True

    def _read(self, process, generation: int) -> None:   # reader thread
        why = ""
        try:
            while True:
                self._received.emit(generation, unpack_reply(read_message(process.stdout)))
        except (EOFError, OSError, ValueError) as exc:
            why = str(exc)
        except Exception as exc:  # an unreadable message: the stream is lost, treat as a crash
            why = f"{type(exc).__name__}: {exc}"
        self._ended.emit(generation, why)

    def _write(self, command) -> None:
        try:
            write_message(self.process.stdin, command)
        except (OSError, ValueError):   # the child has gone: _on_ended restarts it and resends
            pass

    # ---------------------------------------------------------------- GUI-thread API
    def send(self, command) -> None:
        was_idle = not self._outstanding
        if was_idle and self.paths_changed():
            self.restart()
        self._outstanding.append((command, False))
        if self.process is None:
            if not self._start():
                return
            for replayed in reversed(self.history):       # rebuild the state first, without replies
                self._outstanding.appendleft((replayed, True))
            for replayed in self.history:
                self._write(replayed)
        self._write(command)
        if was_idle:
            self.busyChanged.emit(True)

    def _remember(self, command) -> None:
        """Keeps the answered commands that rebuild the present state (replayed after a crash)."""
        if isinstance(command, SetRaster):
            last = self.history[0] if self.history and isinstance(self.history[0], SetRaster) else None
            same = last is not None and last.path == command.path and last.predictor == command.predictor
            self.history = [command] + (self.history[1:] if same else [])
        elif isinstance(command, SetThreshold):
            self.history = [c for c in self.history if not isinstance(c, SetThreshold)] + [command]
        elif isinstance(command, _OBJECT_COMMANDS):
            self.history.append(command)
        elif isinstance(command, (Finish, Discard)):
            self.history = [c for c in self.history if not isinstance(c, _OBJECT_COMMANDS)]
        elif isinstance(command, Close):
            self.history = []

    def cancel_queued(self) -> int:
        """Commands already sent to the child cannot be taken back: nothing is dropped."""
        return 0

    @property
    def pending(self) -> int:
        return sum(1 for _, silent in self._outstanding if not silent)

    def is_idle(self) -> bool:
        return not self._outstanding

    def wait_idle(self, timeout: float = 60.0) -> None:
        wait_until_answered(self, timeout)

    def stop(self, timeout_ms: int = 5000) -> None:
        """Ends the child (its stdin closes; killed if it does not exit in time)."""
        self._stopping = True
        process, self.process = self.process, None
        self._outstanding.clear()
        if process is not None:
            try:
                process.stdin.close()
                process.wait(timeout_ms / 1000.0)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(5)

    # ---------------------------------------------------------------- replies, deaths (GUI thread)
    def _on_received(self, generation: int, reply) -> None:
        if generation != self._generation:
            return
        if isinstance(reply, tuple) and reply and reply[0] == "ready":
            self._ready, self.pid = True, int(reply[1])
            return
        if not self._outstanding:
            return
        command, silent = self._outstanding.popleft()
        if not silent:
            self._failures = 0
            if not isinstance(reply, ErrorReply):
                self._remember(command)
            try:
                self.replied.emit(command, reply)
            finally:
                if not self._outstanding:
                    self.busyChanged.emit(False)
        elif not self._outstanding:
            self.busyChanged.emit(False)

    def _on_ended(self, generation: int, why: str) -> None:
        if generation != self._generation or self._stopping:
            return
        process, self.process = self.process, None
        code = process.wait() if process is not None else None
        if not self._ready:
            return self._give_up(f"The inference process did not start (exit code {code}); predictions run "
                                 "in QGIS's own process instead.")
        unanswered = [c for c, silent in self._outstanding if not silent]
        self._outstanding.clear()
        self._failures += 1
        if self._failures > _MAX_RESTARTS_PER_COMMAND and unanswered:
            failed = unanswered.pop(0)   # the command that keeps killing the worker is answered with an error
            self._failures = 0
            self.replied.emit(failed, ErrorReply("WorkerCrashed", "The inference process stopped again on this "
                                                 "command, so it was skipped.", True))
        n_clicks = sum(1 for c in self.history if isinstance(c, _OBJECT_COMMANDS))
        self.crashed.emit(f"The inference process stopped ({_exit_text(code)}); it was restarted and the "
                          f"avalanche's {n_clicks} click(s) were replayed.")
        if not self._start():
            return
        for command in self.history:
            self._outstanding.append((command, True))
            self._write(command)
        for command in unanswered:
            self._outstanding.append((command, False))
            self._write(command)
        if not self._outstanding:
            self.busyChanged.emit(False)

    def _give_up(self, sentence: str) -> None:
        commands = list(self.history) + [c for c, silent in self._outstanding if not silent]
        self._outstanding.clear()
        self._stopping = True
        self.startFailed.emit(sentence, commands)


def _python_path() -> str:
    """The child's PYTHONPATH: the plugin's parent folder, QGIS's sys.path, then the private folder."""
    private = private_dir()
    paths = [PLUGIN_PARENT] + [p for p in sys.path if p and os.path.isdir(p)] + \
        ([private] if os.path.isdir(private) else [])
    return os.pathsep.join(dict.fromkeys(paths))


def _let_end(process) -> None:
    """Closes a child's stdin (it then returns) and reaps it in the background; killed after 10 s."""
    def reap() -> None:
        try:
            process.stdin.close()
            process.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(5)

    threading.Thread(target=reap, daemon=True).start()


def _exit_text(code) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
