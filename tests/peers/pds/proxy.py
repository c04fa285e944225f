"""A fault-injecting TCP proxy between a client and the local PDS (or any HTTP/1.1 server).

Used by tests/test_platform_bluesky.py and bench/reliability.py: it forwards one request per
connection and can, for one chosen request, drop or reset the connection after the server has
answered, delay the answer, or replace it with a canned response.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from typing import Any


class FaultProxy(socketserver.ThreadingTCPServer):
    """Forwards HTTP/1.1 to the PDS, one request per connection, recording each path. `arm()` makes the
    next request whose path contains a fragment fail in a chosen way: after the PDS has answered,
    the answer is dropped ("close"), the connection reset ("reset") or delayed ("delay"); or a canned
    response replaces the PDS's ("respond", never forwarded)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.paths: list[str] = []
        self.fault: tuple[str, str, Any] | None = None
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def arm(self, fragment: str, mode: str, arg: Any = None) -> None:
        self.fault = (fragment, mode, arg)

    def calls(self, method: str) -> int:
        return sum(1 for path in self.paths if f"/xrpc/{method}" in path)

    def take_fault(self, path: str) -> tuple[str, Any] | None:
        with self.lock:
            if self.fault is not None and self.fault[0] in path:
                _, mode, arg = self.fault
                self.fault = None
                return mode, arg
        return None


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: FaultProxy

    def handle(self) -> None:
        conn: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = [line for line in lines[1:] if not line.lower().startswith(("connection:", "keep-alive:"))]
        length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
        assert not any(h.lower().startswith("transfer-encoding:") for h in headers), "chunked requests unsupported"
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        path = lines[0].split(" ")[1]
        self.server.paths.append(path)
        fault = self.server.take_fault(path)
        if fault is not None and fault[0] == "respond":
            conn.sendall(fault[1])
            return
        request = "\r\n".join([lines[0], *headers, "Connection: close"]).encode("latin-1") + b"\r\n\r\n" + body
        with socket.create_connection(self.server.upstream) as upstream:
            upstream.sendall(request)
            response = b""
            while chunk := upstream.recv(65536):
                response += chunk
        if fault is None:
            conn.sendall(response)
        elif fault[0] == "close":  # the PDS did it; the client never hears
            conn.shutdown(socket.SHUT_RDWR)
        elif fault[0] == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # now, before socketserver's own graceful shutdown: an RST, not a FIN
        elif fault[0] == "delay":
            time.sleep(fault[1])
            with contextlib.suppress(OSError):
                conn.sendall(response)
