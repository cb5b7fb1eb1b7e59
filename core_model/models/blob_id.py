"""The git blob id of a file: what `git hash-object FILE` prints, SHA-1 of b"blob <size>\\0" + the bytes.

The catalogue pins every downloadable model by this id because it can be read from a repository's tree
without downloading the file (and two independent copies of a file in two repositories share it).
Streamed in chunks, so a checkpoint of hundreds of MB never sits in memory.
"""
from __future__ import annotations

import hashlib
import os
import re

CHUNK = 1 << 20
BLOB_ID = re.compile(r"^[0-9a-f]{40}$")


def git_blob_id(path, chunk: int = CHUNK) -> str:
    """40 lower-case hex digits: the git blob id of the file at `path`."""
    size = os.stat(path).st_size
    digest = hashlib.sha1(f"blob {size}\0".encode("ascii"))
    read = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
            read += len(block)
    if read != size:  # the file changed while it was read
        raise OSError(f"{path} changed size while its id was computed ({size} then {read} bytes).")
    return digest.hexdigest()


def git_blob_id_of_bytes(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode("ascii") + data).hexdigest()


def is_blob_id(text) -> bool:
    return isinstance(text, str) and bool(BLOB_ID.match(text))
