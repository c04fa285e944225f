"""How a daemon that may die or hang tells the outside world it is alive.

Two independent channels, both optional:

- Heartbeat: a dead-man's switch (healthchecks.io and alike). The daemon pings a URL after each
  step; when the pings stop, or a step reports "/fail", the service alerts a person. A process
  that is killed or hangs cannot say so itself: only the silence can.
- systemd's sd_notify protocol (Type=notify, WatchdogSec=): READY=1 once started, WATCHDOG=1 at
  half the watchdog interval so that systemd restarts a hung daemon, STOPPING=1 on shutdown.

Neither may take the daemon down: a failed ping is logged, a missing socket returns False.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

HEARTBEAT_URL_VARIABLE = "SCHEDULER_HEARTBEAT_URL"


class Heartbeat:
    """Pings `url` on success and `url`/fail on failure, at most one success ping per `interval`."""

    def __init__(
        self,
        url: str,
        *,
        interval: float = 60.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL is not echoed: its path is the check's secret id.
            raise ValueError(f"{HEARTBEAT_URL_VARIABLE} must be an http:// or https:// URL with a host")
        path = parts.path.rstrip("/")
        # "/fail" goes on the path, before any query (healthchecks.io accepts ?rid=...).
        self.ok_url = urlunsplit(parts._replace(path=path))
        self.fail_url = urlunsplit(parts._replace(path=path + "/fail"))
        # What a log line may show: scheme://host[:port], never userinfo, path or query.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self.origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()  # steps and the watchdog may ping from different threads
        self._last_ok: float | None = None
        self._failing = False

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Heartbeat | None:
        url = env.get(HEARTBEAT_URL_VARIABLE, "").strip()
        return cls(url) if url else None

    def ping(self, ok: bool) -> None:
        """Reports one step. Never raises: a monitor that is down must not stop the daemon."""
        with self._lock:
            now = self.clock()
            if not ok:
                self._failing = True  # every failure is news: sent at once
            elif self._failing or self._last_ok is None or now - self._last_ok >= self.interval:
                # The first success after a failure is sent at once: it closes the alert.
                self._failing = False
                self._last_ok = now  # an attempt counts, so a dead network is not retried each step
            else:
                return
        self._send(self.ok_url if ok else self.fail_url)

    def _send(self, url: str) -> None:
        try:
            # GET: healthchecks.io takes GET or POST, and a GET has no body to get wrong.
            with urllib.request.urlopen(url, timeout=self.timeout):  # noqa: S310 - scheme checked in __init__
                pass
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.warning("the heartbeat to %s failed (%s); the daemon goes on", self.origin, _reason(exc))


def _reason(exc: BaseException) -> str:
    """Why a ping failed, without the URL: some exceptions (InvalidURL) quote it, secret and all."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
        exc = exc.reason
    if isinstance(exc, OSError) and not isinstance(exc, urllib.error.URLError):
        return (exc.strerror or str(exc) or type(exc).__name__).replace("\n", " ")
    return type(exc).__name__


def notify(message: str) -> bool:
    """Sends one sd_notify datagram to $NOTIFY_SOCKET; False when not under systemd (or it failed)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux abstract namespace
    elif not address.startswith("/"):
        return False  # unset, or an address family this module does not speak (vsock:)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        # Worth a line: a watchdog ping that never arrives gets the service killed.
        log.warning("systemd notification %r not sent (%s)", message.split("=", 1)[0], exc.strerror or exc)
        return False
    return True


def ready() -> bool:
    return notify("READY=1")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def stopping() -> bool:
    return notify("STOPPING=1")


def status(text: str) -> bool:
    # One line: systemd reads the datagram as newline-separated assignments.
    return notify("STATUS=" + " ".join(text.splitlines()))


def watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of WatchdogSec, as sd_watchdog_enabled(3) advises.

    None when systemd runs no watchdog for this process: $WATCHDOG_USEC unset or invalid, or
    $WATCHDOG_PID naming another process (the variables were inherited from a parent).
    """
    pid = env.get("WATCHDOG_PID")
    if pid is not None and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None
