"""Reading a checkpoint file without trusting it: bounded decompression, zip CRCs, no code, no warnings.

Before torch sees a zip checkpoint (torch.save's format) its members are checked: the sizes they would
decompress to (a deflate "bomb" is refused before anything is inflated) and their CRC-32 checksums (a
file with flipped bytes is refused).  torch.load then runs with weights_only=True, so nothing in the file
is imported or called; the warnings torch gives on the way (e.g. on pickle protocol 5) are kept out of
stderr.  A refused pickle is described by what it holds: the functions it would call, or its protocol.
Every failure is `fail(reason)`, the caller's one-sentence error naming the file.
"""
from __future__ import annotations

import pickletools
import re
import reprlib
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Callable

MIB = 1 << 20
# A checkpoint's members may inflate to at most this factor of the file's size (torch stores them
# uncompressed: factor 1) and never beyond MAX_INFLATED_BYTES.
MAX_INFLATION = 4
MAX_INFLATED_BYTES = 4096 * MIB
_CRC_CHUNK = 4 * MIB
# Globals a plain weights file refers to (torch's own rebuild functions and containers).
_PLAIN_GLOBALS = re.compile(r"^(torch\.|collections\.OrderedDict$|builtins\.(set|frozenset|bytearray|slice)$)")


class _ShortRepr(reprlib.Repr):
    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlist, self.maxdict = 2, 40, 30, 4, 4
        self.maxtuple = self.maxset = 4

    def repr_int(self, x, level):
        return repr(x) if abs(x) < 10 ** 12 else f"<a {x.bit_length()}-bit integer>"

    def repr_instance(self, x, level):
        return f"<{type(x).__name__}>"


_SHORT = _ShortRepr()


def cap(text: str, limit: int = 200) -> str:
    """`text` on one line, cut to at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def quote(value, limit: int = 60) -> str:
    """`value` as a short quote for an error message: at most `limit` characters (plus quotes for a
    string), never the whole of a huge string, integer or nested structure."""
    if isinstance(value, str):
        return f"'{cap(value[:4 * limit], limit)}'"
    try:
        text = _SHORT.repr(value)
    except Exception:  # anything odd: name its type only
        text = f"<{type(value).__name__}>"
    return cap(text, limit)


def _size_text(n: int) -> str:
    return f"{n / MIB:.0f} MB" if n >= MIB else f"{n} bytes"


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, ValueError,
               RuntimeError, zlib.error)


def check_zip(path: Path, fail: Callable[[str], Exception]) -> None:
    """Refuse a zip checkpoint that would inflate beyond its bound or whose members fail their CRC-32."""
    file_size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except _ZIP_ERRORS:
        raise fail("is truncated or corrupted and cannot be read") from None
    inflated = sum(i.file_size for i in infos)
    bound = min(MAX_INFLATED_BYTES, max(64 * MIB, MAX_INFLATION * file_size))
    if inflated > bound:
        raise fail(f"would decompress to {_size_text(inflated)} from {_size_text(file_size)} "
                   f"(at most {_size_text(bound)} allowed), so it is refused as a decompression bomb")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = next((i.filename for i in infos if not _crc_ok(zf, i)), None)
    except _ZIP_ERRORS:
        raise fail("is truncated or corrupted and cannot be read") from None
    if bad is not None:
        raise fail(f"is corrupted (member {quote(bad)} fails its CRC-32 check)")


def _crc_ok(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    if info.CRC == 0 and info.file_size:  # written without checksums (torch's set_crc32_options(False))
        return True
    try:
        with zf.open(info) as f:  # zipfile compares the CRC-32 when the member has been read to its end
            while f.read(_CRC_CHUNK):
                pass
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            return False
        raise
    return True


def _pickle_stream(path: Path, head: bytes):
    """The file object of the pickle inside `path` (data.pkl of a zip, else the file itself)."""
    if head.startswith(b"PK\x03\x04"):
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        return zf.open(names[0]) if names else None
    return open(path, "rb")


def describe_refused_pickle(path: Path, head: bytes) -> str | None:
    """Why torch's safe loader refused the pickle in `path`: the functions it would call (code), else its
    protocol when that is one the safe loader does not read; None when neither explains it."""
    calls, protocol, strings = [], None, []
    try:
        stream = _pickle_stream(path, head)
        if stream is None:
            return None
        with stream:
            for op, arg, _ in pickletools.genops(stream):
                if op.name == "PROTO":
                    protocol = arg
                elif op.name in ("GLOBAL", "INST"):
                    calls.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    calls.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings = (strings + [arg])[-2:]
                if len(calls) > 10_000:
                    break
    except Exception:  # a broken pickle: what was seen before the break still counts
        pass
    foreign = [c for c in calls if not _PLAIN_GLOBALS.match(c)]
    if foreign:
        return (f"was refused because loading it would run code ({cap(foreign[0], 80)}); "
                "only plain weight checkpoints are accepted")
    if protocol is not None and protocol > 2:
        return (f"is a pickle of protocol {protocol}, which the safe loader does not read; save it again with "
                "torch.save's default protocol")
    return None


def load_untrusted(path: Path, head: bytes, fail: Callable[[str], Exception]):
    """torch.load(path, weights_only=True) with its warnings kept quiet; any failure is `fail(...)`.
    (torch is imported here only: the rest of this module serves the torch-free reader too.)"""
    import torch
    if head.startswith(b"PK\x03\x04"):
        check_zip(path, fail)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types here (RecursionError, MemoryError too): all unusable
        text = str(exc)[:2000]
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found or "Unsupported global" in text:
        what = f" ({cap(found.group(1), 80)})" if found else ""
        raise fail(f"was refused because loading it would run code{what}; only plain weight checkpoints are "
                   "accepted")
    described = describe_refused_pickle(path, head) if "Unsupported operand" in text else None
    if described:
        raise fail(described)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        raise fail("is truncated or corrupted and cannot be read")
    raise fail("is not a PyTorch checkpoint file")
