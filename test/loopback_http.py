"""A loopback HTTP file server for download tests (127.0.0.1, a free port, a thread; nothing leaves the
machine).  It serves `files` ({path: bytes}), honours `Range: bytes=N-` (206, or 416 past the end) unless
`honour_range` is False, can cut the connection after N body bytes once per path (`cut_after`), and
records every request's (path, Range header); `pause_s` > 0 sends the body in 64 KiB pieces with that pause
between them (a slow server: a download that can be watched, cancelled or photographed mid-way).  Used as an HTTP proxy too: a proxied request's path is the
absolute URL, which may be a key of `files`."""
from __future__ import annotations

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        data = srv.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        found = re.match(r"^bytes=(\d+)-$", rng or "")
        if found and srv.honour_range:
            start = int(found.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        cut = srv.cut_after.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if srv.pause_s > 0:
            import time
            for at in range(0, len(body), 65536):
                try:
                    self.wfile.write(body[at:at + 65536])
                    self.wfile.flush()
                except OSError:      # the client went away (a cancelled download)
                    return
                time.sleep(srv.pause_s)
            return
        self.wfile.write(body)


class LoopbackServer:
    def __init__(self, files: dict[str, bytes] | None = None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files = dict(files or {})
        self.httpd.requests = []
        self.httpd.cut_after = {}
        self.httpd.honour_range = True
        self.httpd.pause_s = 0.0
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def files(self) -> dict:
        return self.httpd.files

    @property
    def requests(self) -> list:
        return self.httpd.requests

    @property
    def cut_after(self) -> dict:
        return self.httpd.cut_after

    @property
    def pause_s(self) -> float:
        return self.httpd.pause_s

    @pause_s.setter
    def pause_s(self, value: float) -> None:
        self.httpd.pause_s = float(value)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
