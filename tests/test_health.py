"""scheduler.health against real peers: an HTTP server on 127.0.0.1 and AF_UNIX datagram sockets."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scheduler import health


@dataclass
class Monitor:
    """A local stand-in for healthchecks.io: answers 200, or 404 for a path containing "missing"."""

    base: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            code = 404 if "missing" in self.path else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Monitor(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_success_pings_are_rate_limited_failures_and_recovery_are_sent_at_once(monitor: Monitor) -> None:
    clock = FakeClock()
    beat = health.Heartbeat(monitor.base + "/ping/check-id/", clock=clock)

    beat.ping(True)  # the first one always goes
    clock.now += 30
    beat.ping(True)
    clock.now += 29.9
    beat.ping(True)
    assert monitor.paths == ["/ping/check-id"]  # trailing slash stripped

    clock.now += 0.1  # 60 s after the first
    beat.ping(True)
    clock.now += 1
    beat.ping(False)
    clock.now += 1
    beat.ping(False)  # every failure is sent
    clock.now += 1
    beat.ping(True)  # recovery: at once, though the last success was 3 s ago
    clock.now += 1
    beat.ping(True)  # back to one a minute
    assert monitor.paths == [
        "/ping/check-id",
        "/ping/check-id",
        "/ping/check-id/fail",
        "/ping/check-id/fail",
        "/ping/check-id",
    ]


def test_fail_goes_on_the_path_before_the_query(monitor: Monitor) -> None:
    beat = health.Heartbeat(monitor.base + "/ping/abc?rid=7")
    beat.ping(False)
    beat.ping(True)
    assert monitor.paths == ["/ping/abc/fail?rid=7", "/ping/abc?rid=7"]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "scheduler.health" and r.levelno >= logging.WARNING]


def test_a_dead_monitor_gives_one_warning_line_without_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as holder:  # bound, never listening: the port refuses, and nobody else takes it
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        secret = secrets.token_hex(8)
        beat = health.Heartbeat(f"http://127.0.0.1:{port}/ping/{secret}?token={secret}", timeout=2)
        with caplog.at_level(logging.WARNING, logger="scheduler.health"):
            beat.ping(True)  # no exception
    [line] = _warnings(caplog)
    assert f"http://127.0.0.1:{port}" in line
    assert secret not in line
    assert "/ping" not in line
    assert "\n" not in line


def test_an_http_error_is_a_warning_with_its_status(monitor: Monitor, caplog: pytest.LogCaptureFixture) -> None:
    beat = health.Heartbeat(monitor.base + "/missing-check")
    with caplog.at_level(logging.WARNING, logger="scheduler.health"):
        beat.ping(False)
    assert monitor.paths == ["/missing-check/fail"]
    [line] = _warnings(caplog)
    assert "HTTP 404" in line
    assert "missing-check" not in line


def test_from_environment() -> None:
    assert health.Heartbeat.from_environment({}) is None
    assert health.Heartbeat.from_environment({"SCHEDULER_HEARTBEAT_URL": " "}) is None
    beat = health.Heartbeat.from_environment({"SCHEDULER_HEARTBEAT_URL": "https://hc-ping.com/abc/"})
    assert beat is not None
    assert (beat.ok_url, beat.fail_url) == ("https://hc-ping.com/abc", "https://hc-ping.com/abc/fail")


@pytest.mark.parametrize("url", ["ftp://hc-ping.com/abc", "file:///etc/passwd", "hc-ping.com/abc", "https:///abc"])
def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://") as caught:
        health.Heartbeat.from_environment({"SCHEDULER_HEARTBEAT_URL": url})
    assert "abc" not in str(caught.value)


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (health.ready, b"READY=1"),
        (health.watchdog, b"WATCHDOG=1"),
        (health.stopping, b"STOPPING=1"),
        (lambda: health.status("3 due, next at 12:00 \u00e9"), "STATUS=3 due, next at 12:00 \u00e9".encode()),
        (lambda: health.status("two\nlines"), b"STATUS=two lines"),  # a newline would start a new assignment
    ],
)
def test_notify_sends_the_exact_datagram(
    notify_socket: socket.socket, send: Callable[[], bool], expected: bytes
) -> None:
    assert send() is True
    assert notify_socket.recv(4096) == expected


def test_notify_to_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"scheduler-test-{os.getpid()}-{secrets.token_hex(4)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert health.ready() is True
        assert sock.recv(4096) == b"READY=1"


def test_notify_outside_systemd_is_false(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert health.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "relative.sock")
    assert health.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert health.watchdog() is False  # and no exception


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert health.watchdog_interval(env) == expected
