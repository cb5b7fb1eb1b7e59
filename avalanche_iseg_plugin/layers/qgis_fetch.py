"""The model downloads' byte transport on QGIS's network stack (its proxy, SSL and authentication settings).

`qgis_fetch(url, offset, sink)` is a core_model.models transport (see core_model/models/http_fetch.py for
the contract): it asks QgsNetworkAccessManager for `url` from byte `offset` on (an HTTP Range request),
calls `sink.start(first_byte, total)` once and `sink.write(chunk)` as bytes arrive, and raises
TransportError (one sentence) when the bytes cannot be had.  It runs a local event loop, so it may be
called from a QgsTask's thread (QgsNetworkAccessManager.instance() is per thread, with QGIS's settings) or
from the main thread.  Whatever the sink raises (DownloadCancelled, a size mismatch) aborts the request
and is raised again here, outside Qt's slots.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from qgis.core import QgsNetworkAccessManager
from qgis.PyQt.QtCore import QEventLoop, QUrl
from qgis.PyQt.QtNetwork import QNetworkReply, QNetworkRequest

from core_model.errors import TransportError
from core_model.models.http_fetch import USER_AGENT

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url[:80]


def _header(reply, name: bytes) -> str:
    return bytes(reply.rawHeader(name)).decode("latin-1") if reply.hasRawHeader(name) else ""


class _Transfer:
    """One request: its reply's bytes into the sink, errors kept for after the event loop."""

    def __init__(self, url: str, offset: int, sink):
        self.url, self.offset, self.sink = url, offset, sink
        self.started = False
        self.received = 0
        self.failure: BaseException | None = None
        self.restart = False        # a 416 whose partial file is not a part of the file: fetch again from 0
        request = QNetworkRequest(QUrl(url))
        request.setRawHeader(b"User-Agent", USER_AGENT.encode())
        request.setRawHeader(b"Accept-Encoding", b"identity")
        if offset > 0:
            request.setRawHeader(b"Range", f"bytes={offset}-".encode())
        request.setAttribute(QNetworkRequest.FollowRedirectsAttribute, True)
        self.loop = QEventLoop()
        self.reply = QgsNetworkAccessManager.instance().get(request)
        self.reply.readyRead.connect(self._on_ready_read)
        self.reply.finished.connect(self.loop.quit)

    def run(self) -> None:
        if not self.reply.isFinished():
            self.loop.exec_()
        try:
            if self.failure is None:
                self._finish()
        except BaseException as exc:  # noqa: BLE001 - kept and raised below, like a slot's
            self.failure = exc
        finally:
            self.reply.deleteLater()
        if self.failure is not None:
            raise self.failure

    def _status(self) -> int:
        return int(self.reply.attribute(QNetworkRequest.HttpStatusCodeAttribute) or 0)

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self.reply.abort()

    def _begin(self) -> bool:
        """Calls sink.start from the answer's headers; False when the answer carries no file bytes."""
        status = self._status()
        if status == 206:
            found = _CONTENT_RANGE.match(_header(self.reply, b"Content-Range"))
            if not found:
                raise TransportError(f"{self.url} answered a range request without a usable Content-Range header.")
            first, total = int(found.group(1)), None if found.group(3) == "*" else int(found.group(3))
        elif status == 200:
            length = self.reply.header(QNetworkRequest.ContentLengthHeader)
            first, total = 0, int(length) if length is not None else None
        else:
            return False
        self.sink.start(first, total)
        self.started = True
        return True

    def _on_ready_read(self) -> None:
        try:
            if not self.started and not self._begin():
                return
            chunk = bytes(self.reply.readAll())
            if chunk:
                self.received += len(chunk)
                self.sink.write(chunk)
        except BaseException as exc:  # noqa: BLE001 - never raise into Qt; run() raises it
            self._fail(exc)

    def _finish(self) -> None:
        status = self._status()
        if status == 416 and self.offset > 0:
            found = _UNSATISFIED_RANGE.match(_header(self.reply, b"Content-Range"))
            if found and int(found.group(1)) == self.offset:   # the partial file is whole already
                self.sink.start(self.offset, self.offset)
                return
            if found:
                self.sink.start(0, int(found.group(1)))
                self.restart = True
                return
        if status >= 400:
            reason = self.reply.attribute(QNetworkRequest.HttpReasonPhraseAttribute) or ""
            raise TransportError(f"{self.url} answered HTTP {status}{f' ({reason})' if reason else ''}.")
        error = self.reply.error()
        if error != QNetworkReply.NoError:
            if self.started or status:
                raise TransportError(f"The connection to {_host(self.url)} broke off ({self.reply.errorString()}).")
            raise TransportError(f"{_host(self.url)} could not be reached ({self.reply.errorString()}).")
        if not self.started and not self._begin():
            raise TransportError(f"{self.url} answered HTTP {status} instead of the file.")
        self._on_ready_read()
        if self.failure is not None:
            raise self.failure
        length = self.reply.header(QNetworkRequest.ContentLengthHeader)
        if length is not None and self.received < int(length):
            raise TransportError(f"The connection to {_host(self.url)} broke off after {self.received} of "
                                 f"{int(length)} bytes.")


def qgis_fetch(url: str, offset: int, sink) -> None:
    """The bytes of `url` from `offset` on into `sink`, through QGIS's network access manager."""
    transfer = _Transfer(url, offset, sink)
    transfer.run()
    if transfer.restart:
        _Transfer(url, 0, sink).run()


def qgis_read_text(url: str, limit: int = 4 << 20) -> str:
    """A small text file (an institution's catalogue) fetched through QGIS's network stack."""
    chunks = []

    class _Sink:
        def start(self, first, total):
            if total is not None and total > limit:
                raise TransportError(f"{url} is larger than {limit >> 20} MB.")

        def write(self, chunk):
            chunks.append(chunk)
            if sum(map(len, chunks)) > limit:
                raise TransportError(f"{url} is larger than {limit >> 20} MB.")

    qgis_fetch(url, 0, _Sink())
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TransportError(f"{url} is not UTF-8 text.") from None
