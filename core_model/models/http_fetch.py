"""The command line's byte transport for downloads: urllib (honours http_proxy / https_proxy / no_proxy).

A transport is any callable `fetch(url, offset, sink)` that asks for the bytes of `url` from `offset` on
(an HTTP Range request when offset > 0), then calls `sink.start(first_byte, total)` once — first_byte is
where the server's bytes begin (0 when it ignored the Range), total the whole file's size or None — and
`sink.write(chunk)` for each chunk, and raises TransportError (one sentence) when the bytes cannot be had.
The QGIS plugin passes its own transport built on QgsNetworkAccessManager (QGIS's proxy and
authentication settings); everything else — the partial file, resume, verification — is core_model.models.download.
"""
from __future__ import annotations

import http.client
import re
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ..errors import TransportError

CHUNK = 256 * 1024
USER_AGENT = "avalanche-iseg-models/1"
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url[:80]


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def urllib_fetch(url: str, offset: int, sink, timeout: float = 60.0) -> None:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        # a fresh opener reads the proxy variables now (urlopen's shared one keeps those of its first use)
        with urllib.request.build_opener().open(request, timeout=timeout) as resp:
            _copy(url, resp, sink)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset > 0:
            found = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", "") or "")
            if found and int(found.group(1)) == offset:  # the partial file is already whole
                sink.start(offset, offset)
                return
            if found:  # a partial file longer than the file: not a part of it, start again
                sink.start(0, int(found.group(1)))
                return urllib_fetch(url, 0, sink, timeout)
        raise TransportError(f"{url} answered HTTP {exc.code} ({exc.reason}).") from None
    except urllib.error.URLError as exc:
        raise TransportError(f"{_host(url)} could not be reached ({exc.reason}).") from None
    except (http.client.IncompleteRead, ConnectionError, socket.timeout, http.client.HTTPException) as exc:
        raise TransportError(f"The connection to {_host(url)} broke off ({type(exc).__name__}).") from None


def _copy(url: str, resp, sink) -> None:
    length = _int(resp.headers.get("Content-Length"))
    if resp.status == 206:
        found = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "") or "")
        if not found:
            raise TransportError(f"{url} answered a range request without a usable Content-Range header.")
        first = int(found.group(1))
        total = None if found.group(3) == "*" else int(found.group(3))
    else:
        first, total = 0, length
    sink.start(first, total)
    received = 0
    while True:
        try:
            chunk = resp.read(CHUNK)
        except http.client.IncompleteRead as exc:
            if exc.partial:
                sink.write(exc.partial)
            raise
        if not chunk:
            break
        received += len(chunk)
        sink.write(chunk)
    if length is not None and received < length:
        raise TransportError(f"The connection to {_host(url)} broke off after {received} of {length} bytes.")
