"""A running daemon says who it is and which ledger it uses, so that no command acts on another one.

The daemon writes `state/daemon.json` beside posts.yaml (pid, host, ledger, posts.yaml, start and
last beat) and the same into the ledger's settings. `pause`, `resume`, `post` and `status` read the
file of the posts.yaml they are given: when a live daemon uses another ledger, the command refuses
rather than pause, post or report on a ledger nobody reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.errors import SchedulerError
from scheduler.files import write_atomic

ADVERT = "daemon.json"
SETTING_PREFIX = "daemon:"
BEAT_EVERY = timedelta(seconds=30)
SILENT_AFTER = timedelta(minutes=2)  # a daemon on another host that has not beaten for this long is gone


@dataclass(frozen=True)
class Advert:
    pid: int
    host: str
    ledger: str
    config: str
    started: str  # ISO, UTC
    beat: str  # ISO, UTC: the daemon's last sign of life
    git: dict[str, Any] | None = None  # the branch it follows: live commit, last fetch, a rejected commit

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, running {self.config} since {self.started[:16].replace('T', ' ')} UTC"

    def alive(self, now: datetime) -> bool:
        """Beating lately, and on this host still a process (a pid may be reused after a crash)."""
        beating = now - datetime.fromisoformat(self.beat) < SILENT_AFTER
        return beating and (self.host != socket.gethostname() or _process_exists(self.pid))

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def public_url(url: str) -> str:
    """The ledger URL as it may be shown and compared: an absolute SQLite path, never a password."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return f"sqlite:///{Path(path).resolve()}" if path != ":memory:" else url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url


def advertise(state: Path, advert: Advert) -> None:
    write_atomic(state / ADVERT, advert.to_json().encode())
    with contextlib.suppress(OSError):
        (state / ADVERT).chmod(0o644)  # no secret in it; root's commands and the team may read it


def withdraw(state: Path, pid: int) -> None:
    found = read(state)
    if found is not None and found.pid == pid:
        with contextlib.suppress(OSError):
            (state / ADVERT).unlink()


def read(state: Path) -> Advert | None:
    try:
        return Advert(**json.loads((state / ADVERT).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def require_same_ledger(state: Path, ledger_url: str, now: datetime) -> Advert | None:
    """The live daemon of this posts.yaml, if any; SchedulerError when it uses another ledger."""
    advert = read(state)
    if advert is None or not advert.alive(now):
        return None
    if advert.ledger != public_url(ledger_url):
        raise SchedulerError(
            f"the daemon ({advert.describe()}) uses the ledger {advert.ledger}, but this command would use "
            f"{public_url(ledger_url)}: it would act on a ledger the daemon never reads. Run it with the "
            f"daemon's settings (on a server installed by deploy/install.sh: sudo slogan-scheduler COMMAND), "
            f"or give --ledger {advert.ledger}"
        )
    return advert


def live_daemons(settings: dict[str, str], now: datetime) -> list[Advert]:
    """The daemons that beat on this ledger recently (from its settings)."""
    found = []
    for value in settings.values():
        try:
            advert = Advert(**json.loads(value))
        except (ValueError, TypeError):
            continue
        if advert.alive(now):
            found.append(advert)
    return found


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (the service user's, seen by a person)
        return True
    return True
