"""Chooses how commands reach the session server: a child process (``process``, the default: a crash or
an out-of-memory there never takes QGIS down) or a worker thread in QGIS's own process (``thread``, the
fallback). A predictor factory can cross into a child only when it can be imported by name."""
from __future__ import annotations

import importlib

from ...engine.session_server import SessionServer
from .process_transport import ProcessTransport
from .worker_transport import WorkerTransport

PROCESS, THREAD = "process", "thread"


def factory_spec(factory) -> str | None:
    """'module:function' for a factory the child can import ('' = the real loader); None when it cannot
    (a closure, a bound method, a lambda)."""
    if factory is None:
        return ""
    module, name = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
    if not module or not name or "." in name or "<" in name:
        return None
    try:
        return f"{module}:{name}" if getattr(importlib.import_module(module), name, None) is factory else None
    except ImportError:
        return None


def make_transport(kind: str, factory=None, pickle_messages: bool = False):
    """The transport of ``kind``; a factory that cannot cross a process boundary gets the thread one."""
    spec = factory_spec(factory)
    if kind == PROCESS and spec is not None:
        return ProcessTransport(spec)
    return WorkerTransport(SessionServer(factory), pickle_messages)


def is_process(transport) -> bool:
    return isinstance(transport, ProcessTransport)
