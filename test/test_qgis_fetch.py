"""QGIS's network transport for model downloads (layers/qgis_fetch.py) against a loopback server: ranges,
a server that ignores them, a partial file that is whole already, HTTP errors and a refused connection
as one sentence, and a sink's exception raised outside Qt's slots."""
from __future__ import annotations

import socket

import pytest

from core_model.errors import DownloadCancelled, TransportError
from loopback_http import LoopbackServer

DATA = bytes(range(256)) * 4000     # 1 MB


class Sink:
    def __init__(self, fail_after: int | None = None):
        self.starts, self.data, self.fail_after = [], bytearray(), fail_after

    def start(self, first, total):
        self.starts.append((first, total))

    def write(self, chunk):
        self.data += chunk
        if self.fail_after is not None and len(self.data) >= self.fail_after:
            raise DownloadCancelled("The download of x was cancelled; its partial file is kept.")


@pytest.fixture
def server(qgis_app):
    with LoopbackServer({"/f.bin": DATA}) as srv:
        yield srv


def test_whole_file_and_a_range(server):
    from avalanche_iseg_plugin.layers.qgis_fetch import qgis_fetch
    sink = Sink()
    qgis_fetch(server.url("/f.bin"), 0, sink)
    assert sink.starts == [(0, len(DATA))] and bytes(sink.data) == DATA
    sink = Sink()
    qgis_fetch(server.url("/f.bin"), 1000, sink)
    assert sink.starts == [(1000, len(DATA))] and bytes(sink.data) == DATA[1000:]
    assert server.requests[-1] == ("/f.bin", "bytes=1000-")


def test_a_server_without_ranges_and_a_whole_partial_file(server):
    from avalanche_iseg_plugin.layers.qgis_fetch import qgis_fetch
    sink = Sink()
    qgis_fetch(server.url("/f.bin"), len(DATA), sink)          # 416 bytes */N: nothing is missing
    assert sink.starts == [(len(DATA), len(DATA))] and sink.data == b""
    server.httpd.honour_range = False
    sink = Sink()
    qgis_fetch(server.url("/f.bin"), 1000, sink)              # 200: from the start
    assert sink.starts == [(0, len(DATA))] and bytes(sink.data) == DATA


def test_errors_are_one_sentence(server):
    from avalanche_iseg_plugin.layers.qgis_fetch import qgis_fetch
    with pytest.raises(TransportError, match=r"answered HTTP 404"):
        qgis_fetch(server.url("/missing.bin"), 0, Sink())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError, match=r"could not be reached"):
        qgis_fetch(f"http://127.0.0.1:{port}/f.bin", 0, Sink())
    server.cut_after["/f.bin"] = 5000
    sink = Sink()
    with pytest.raises(TransportError, match=r"broke off"):
        qgis_fetch(server.url("/f.bin"), 0, sink)
    assert 0 < len(sink.data) <= 5000


def test_a_sinks_exception_leaves_the_loop_and_is_raised(server):
    from avalanche_iseg_plugin.layers.qgis_fetch import qgis_fetch
    server.pause_s = 0.01
    sink = Sink(fail_after=100_000)
    with pytest.raises(DownloadCancelled):
        qgis_fetch(server.url("/f.bin"), 0, sink)
    assert 100_000 <= len(sink.data) < len(DATA)
