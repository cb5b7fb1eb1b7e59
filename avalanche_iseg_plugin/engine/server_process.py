"""The session server in its own Python process: ``python -m avalanche_iseg_plugin.engine.server_process
[--factory module:function]`` reads protocol commands from stdin and writes the replies to stdout, one
by one, in order (no Qt, no QGIS).

Each message is a pickle preceded by its length (4 bytes, big-endian). The child first writes
``("ready", pid)``. Only commands and replies travel: the server opens the raster itself from the path
in SetRaster. Anything the model code prints goes to stderr, so stdout carries messages only. The
default predictor factory is predictor_loader.make_predictor; ``--factory`` names another one by its
import path (tests use a fake predictor).
"""
from __future__ import annotations

import argparse
import importlib
import os
import pickle
import struct
import sys

from core_model.openmp import passive_openmp

HEADER = struct.Struct(">I")


def write_message(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_message(stream):
    """The next message, or raises EOFError when the other side has gone."""
    header = _read_exactly(stream, HEADER.size)
    return pickle.loads(_read_exactly(stream, HEADER.unpack(header)[0]))


def _read_exactly(stream, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side of the pipe has gone")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def pack_reply(reply):
    """A reply for the pipe: a SessionView's bool mask (also a FinishedResult's view's) travels as bits
    (np.packbits: 8x smaller, so a 1600 px window's mask costs a few ms instead of tens)."""
    import dataclasses

    import numpy as np

    view = getattr(reply, "view", None)
    target = view if view is not None and getattr(view, "mask", None) is not None else reply
    mask = getattr(target, "mask", None)
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        return reply
    bare = dataclasses.replace(target, mask=None)
    if target is view:
        bare = dataclasses.replace(reply, view=bare)
    return ("packed", bare, np.packbits(mask, axis=None), mask.shape, target is view)


def unpack_reply(message):
    """The reply pack_reply packed (other messages as they are)."""
    if not (isinstance(message, tuple) and message and message[0] == "packed"):
        return message
    import dataclasses

    import numpy as np

    _, bare, bits, shape, in_view = message
    mask = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)
    if in_view:
        return dataclasses.replace(bare, view=dataclasses.replace(bare.view, mask=mask))
    return dataclasses.replace(bare, mask=mask)


def load_factory(spec: str):
    """'package.module:function' -> the function ('' = the real loader)."""
    if not spec:
        from .predictor_loader import make_predictor

        return make_predictor
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(commands, replies, factory) -> None:
    from ..engine.protocol import ErrorReply
    from .session_server import SessionServer

    server = SessionServer(factory)
    write_message(replies, ("ready", os.getpid()))
    while True:
        try:
            command = read_message(commands)
        except EOFError:
            return
        reply = server.handle(command)
        try:
            write_message(replies, pack_reply(reply))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a reply that cannot travel is a bug
            write_message(replies, ErrorReply.of(exc))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factory", default="", help="module:function making predictors (default: the real one)")
    args = parser.parse_args(argv)
    passive_openmp()
    if not args.factory:   # this process only runs the predictor
        from .predictor_loader import keep_freed_buffers
        keep_freed_buffers()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    commands = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # stray prints (Python or C) must not corrupt messages
    sys.stdout = sys.stderr
    serve(commands, replies, load_factory(args.factory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
