"""Benchmark: exactly-once under crashes, faults and hostile input. Exits 1 on any duplicate or silent loss.

Starts its own peers on loopback (mastodon-mock, the X stub, the local Bluesky PDS behind a fault-injecting
proxy, PostgreSQL) and stops them, and every daemon it started, whatever happens. Prints:

1. A crash soak: N deliveries (N/4 posts x the outbox, Mastodon, X and Bluesky accounts) due over 1.5 s a post
   (24-75 s: 75 s for the default 200), delivered by `run.py daemon -v` (request timeout 5 s) while it is
   SIGKILLed at random moments, K times (the last at least 10 s before the last due instant), and
   restarted after a short random pause, and while latency faults (and, on Bluesky, connections cut after the
   request was sent) are injected on the peers, so that some kills land with a request in flight. Once
   everything is due and has settled, the daemon gets SIGTERM and every delivery is classified from its ledger
   state and the number of copies read back from its peer: published with 1 copy is ok; unconfirmed (X only)
   with 0 or 1 copies is reported for a person; failed or expired with a reason and 0 copies is accounted for;
   more than 1 copy is a duplicate; anything else (still pending or claimed, published with 0 copies, ...) is a
   silent loss.
2. Two daemons sharing one PostgreSQL ledger, the busier one SIGKILLed midway: 100 deliveries to Mastodon and
   the outbox, each to be delivered exactly once.
3. A fault matrix through the real pipeline (Publisher.deliver): 429, 503, a slow answer (within the timeout),
   a timeout, and a connection cut after the request was sent, on Mastodon, X and Bluesky: the state after the
   faulted attempt, the final state after the fault is cleared, and the copies on the peer (never more than 1).
4. Fuzzing: how many random inputs content.check was given (structures, edits of the shipped posts.yaml, raw
   bytes), that none raised anything but content errors, and the longest time one took.

Run: .venv/bin/python bench/reliability.py [--deliveries 200] [--kills 20] [--seed N]
                                           [--skip-two-daemons] [--skip-matrix]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from mastodon_mock.testing import MockServer  # noqa: E402

from scheduler import content  # noqa: E402
from scheduler.cards import CardStore  # noqa: E402
from scheduler.credentials import Credentials  # noqa: E402
from scheduler.ledger import (  # noqa: E402
    CLAIMED,
    EXPIRED,
    FAILED,
    PENDING,
    PUBLISHED,
    UNCONFIRMED,
    Ledger,
    Record,
    default_url,
)
from scheduler.models import Delivery  # noqa: E402
from scheduler.publish import Outcome, Publisher  # noqa: E402
from tests.conftest import (  # noqa: E402
    X_CREDENTIAL,
    PdsAccount,
    mastodon_fault,
    new_bsky_account,
    start_pds,
    start_postgres,
    x_environment,
)
from tests.peers.pds.proxy import FaultProxy  # noqa: E402
from tests.peers.x_stub.server import XStub, _Server  # noqa: E402

ZONE = ZoneInfo("America/New_York")
REQUEST_TIMEOUT = 5  # seconds, the daemons' SCHEDULER_REQUEST_TIMEOUT
MATRIX_TIMEOUT = 2.0  # seconds, the matrix's request timeout: slow is 1 s, a timeout 3.5 s
PLATFORM_OF = {"outbox": "outbox", "mastodon": "mastodon", "x-en": "x", "bluesky": "bluesky"}
PLATFORMS = ("outbox", "mastodon", "x", "bluesky")
STATES = (PUBLISHED, UNCONFIRMED, FAILED, EXPIRED, PENDING, CLAIMED, "missing")  # missing: no ledger row
KINDS = ("ok", "unconfirmed", "accounted", "duplicate", "silent loss")
BSKY_POSTS = "app.bsky.feed.post"
UNLIMITED = {f"{m} {p}": 100_000 for m, p in (("POST", "/2/media/upload"), ("POST", "/2/media/metadata"))}
UNLIMITED |= {"POST /2/tweets": 100_000, "GET /2/users/me": 100_000}


def local(moment: datetime) -> str:
    """A due instant as posts.yaml writes it: campaign-local time, with its microseconds."""
    return f"{moment.astimezone(ZONE):%Y-%m-%d %H:%M:%S}.{moment.microsecond:06d}"


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def classify(platform: str, state: str, copies: int, error: str | None) -> str:
    if copies > 1:
        return "duplicate"
    if state == PUBLISHED and copies == 1:
        return "ok"
    if state == UNCONFIRMED and platform == "x":
        return "unconfirmed"  # reported for a person to check: X cannot say whether the post exists
    if state in (FAILED, EXPIRED) and error and copies == 0:
        return "accounted"
    return "silent loss"


# --- peers -----------------------------------------------------------------------------------------------


def quiet_errors(server: Any, request: Any, client_address: Any) -> None:
    """socketserver prints a traceback for every client that went away mid-answer: here that is the point."""
    if not isinstance(sys.exc_info()[1], ConnectionError):
        socketserver.BaseServer.handle_error(server, request, client_address)


class QuietProxy(FaultProxy):
    handle_error = quiet_errors


_Server.handle_error = quiet_errors  # type: ignore[method-assign]  # the X stub's server, in this process only


@dataclass
class Peers:
    mastodon: MockServer
    x: XStub
    pds_url: str
    bsky_proxy: FaultProxy
    bsky: PdsAccount

    def clear_faults(self) -> None:
        requests.delete(f"{self.mastodon.base_url}/api/v1/_mock/faults", timeout=5)
        self.x.clear_faults()
        self.bsky_proxy.fault = None

    def mastodon_faults(self) -> int:
        return len(requests.get(f"{self.mastodon.base_url}/api/v1/_mock/faults", timeout=5).json())

    def mastodon_texts(self) -> list[str]:
        client = self.mastodon.client("alice")
        me = client.account_verify_credentials()
        contents: list[str] = []
        max_id = None
        while page := client.account_statuses(me["id"], limit=40, max_id=max_id):
            contents += [status["content"] for status in page]
            max_id = page[-1]["id"]
        return contents

    def x_texts(self) -> list[str]:
        return [tweet["text"] for tweet in self.x.state()["tweets"]]

    def bluesky_texts(self) -> list[str]:
        from atproto_client import Client, models

        reader = Client(base_url=self.pds_url)  # straight to the PDS, not through the proxy
        found: list[str] = []
        cursor = None
        while True:
            params = models.ComAtprotoRepoListRecords.Params(
                repo=self.bsky.did, collection=BSKY_POSTS, limit=100, cursor=cursor
            )
            page = reader.com.atproto.repo.list_records(params)
            found += [str(record.value.text) for record in page.records]
            cursor = page.cursor
            if not cursor or not page.records:
                return found


@contextlib.contextmanager
def mastodon_mock(work: Path) -> Iterator[MockServer]:
    """mastodon-mock in this process, its database and media under `work` (removed afterwards)."""
    folder = work / "mastodon-mock"
    folder.mkdir()
    server = MockServer(log_level="critical")  # not a traceback for each client killed mid-request
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        server.start()
    finally:
        tempfile.tempdir = saved
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving(proxy: FaultProxy) -> Iterator[FaultProxy]:
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


@contextlib.contextmanager
def start_peers(work: Path) -> Iterator[Peers]:
    with contextlib.ExitStack() as stack:
        pds_url = stack.enter_context(start_pds(work))
        mastodon = stack.enter_context(mastodon_mock(work))
        x = stack.enter_context(XStub(credentials=[X_CREDENTIAL], rate_limits=UNLIMITED, tweets_24h_limit=100_000))
        proxy = stack.enter_context(serving(QuietProxy(pds_url)))
        yield Peers(mastodon, x, pds_url, proxy, new_bsky_account(pds_url))


# --- daemons ---------------------------------------------------------------------------------------------


class Daemons:
    """Every `run.py daemon` this benchmark starts; whatever is still running at the end is killed."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, folder: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "daemon", "-v"],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def daemon_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    return {**env, "SCHEDULER_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT), **extra}


def wait_settled(ledger: Ledger, expected: int, limit: datetime) -> tuple[list[Record], bool]:
    """Poll the ledger until every expected delivery has a final state, or until `limit`."""
    while True:
        records = ledger.records()
        if len(records) >= expected and not [r for r in records if r.state in (PENDING, CLAIMED)]:
            return records, True
        if datetime.now(UTC) >= limit:
            return records, False
        time.sleep(0.5)


# --- 1. the crash soak -----------------------------------------------------------------------------------


class Chaos(threading.Thread):
    """Injects one fault at a time on a random peer, every 1-3 s, until stopped."""

    def __init__(self, peers: Peers, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.peers, self.rng = peers, rng
        self.stopping = threading.Event()
        self.injected: Counter[str] = Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stopping.wait(self.rng.uniform(1.0, 3.0)):
            try:
                self.inject()
            except (OSError, ValueError, requests.RequestException) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")

    def latency(self) -> tuple[str, float]:
        if self.rng.random() < 0.55:
            return "slow", self.rng.uniform(0.5, 3.0)  # within the request timeout
        return "timeout", self.rng.uniform(REQUEST_TIMEOUT + 0.5, REQUEST_TIMEOUT + 2.5)

    def inject(self) -> None:
        platform = self.rng.choice(("mastodon", "x", "bluesky"))
        if platform == "mastodon" and self.peers.mastodon_faults() == 0:
            kind, seconds = self.latency()
            mastodon_fault(
                self.peers.mastodon, "/api/v1/statuses", {"type": "latency", "delay_ms": int(seconds * 1000)}
            )
        elif platform == "x" and not self.peers.x.state()["faults"]:
            kind, seconds = self.latency()  # the stub waits before it creates the tweet
            self.peers.x.add_fault(
                match={"method": "POST", "path": "/2/tweets"}, effect={"type": "latency", "seconds": seconds}
            )
        elif platform == "bluesky" and self.peers.bsky_proxy.fault is None:
            if self.rng.random() < 0.35:
                kind = self.rng.choice(("close", "reset"))  # after the PDS wrote the record
                self.peers.bsky_proxy.arm("com.atproto.repo.createRecord", kind)
                kind = f"cut ({kind})"
            else:
                kind, seconds = self.latency()  # the answer is held back after the PDS wrote the record
                self.peers.bsky_proxy.arm("com.atproto.repo.createRecord", "delay", seconds)
        else:
            return
        self.injected[f"{platform} {kind}"] += 1


class Verdict(NamedTuple):
    platform: str
    post: str
    state: str
    copies: int
    kind: str
    error: str | None


@dataclass
class Soak:
    deliveries: int
    posts: int
    window: float
    kills: int = 0
    kills_in_flight: int = 0
    pauses: list[float] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    settled: bool = False
    settle_seconds: float = 0.0
    exit_code: int | None = None
    injected: Counter[str] = field(default_factory=Counter)
    chaos_failures: list[str] = field(default_factory=list)
    wall: float = 0.0

    def count(self, kind: str) -> int:
        return sum(1 for v in self.verdicts if v.kind == kind)


def crash_soak(peers: Peers, work: Path, deliveries: int, kills: int, rng: random.Random, daemons: Daemons) -> Soak:
    began = time.monotonic()
    folder = work / "soak"
    folder.mkdir()
    shutil.copytree(ROOT / "assets", folder / "assets")
    posts = max(1, deliveries // 4)
    window = min(75.0, max(24.0, posts * 1.5))
    spacing = window / max(1, posts - 1)
    result = Soak(posts * 4, posts, window)
    run = time.time_ns()
    start = datetime.now(UTC) + timedelta(seconds=6)
    lines = []
    for index in range(posts):
        due = start + timedelta(seconds=spacing * index)
        lines.append(f"  - id: s{index:04d}\n")
        lines.append(f'    text: {{en: "Crash soak soak-{index:04d}-{run} U.S. out of Haiti!"}}\n')
        if index % 4 == 0:  # a card on some: image uploads are killed in flight too
            lines.append('    card: {slogan: {en: "U.S. out of Haiti!"}}\n')
        lines.append(f'    at: "{local(due)}"\n')
    (folder / "posts.yaml").write_text(
        f"""timezone: America/New_York
languages: [en]
defaults: {{max_late: 1h}}
accounts:
  outbox: {{platform: outbox, languages: [en]}}
  mastodon: {{platform: mastodon, instance: "{peers.mastodon.base_url}", languages: [en]}}
  x-en: {{platform: x, api_base: "{peers.x.url}", languages: [en]}}
  bluesky: {{platform: bluesky, handle: {peers.bsky.handle}, service: "{peers.bsky_proxy.url}", languages: [en]}}
posts:
{"".join(lines)}""",
        encoding="utf-8",
    )
    env = daemon_env(
        {
            "MASTODON_ACCESS_TOKEN": "alice_token",
            "BLUESKY_APP_PASSWORD": peers.bsky.app_password,
            **x_environment("x-en"),
        }
    )
    log = folder / "daemon.log"
    ledger = Ledger(default_url(folder))
    last_due = start + timedelta(seconds=spacing * (posts - 1))
    chaos = Chaos(peers, random.Random(rng.random()))
    try:
        daemon = daemons.start(folder, env, log)
        chaos.start()
        # Kills spread over the campaign, the last ones at least 10 s before the last due instant.
        first, last = start - timedelta(seconds=3), last_due - timedelta(seconds=10)
        span = max(5.0, (last - first).total_seconds())
        moments = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(kills))
        for moment in moments:
            sleep_until(moment)
            owner = f":{daemon.pid}"
            if rng.random() < 0.6:  # most kills wait (briefly) for a delivery in flight
                give_up = time.monotonic() + 2.5
                while time.monotonic() < give_up and not any(
                    (r.owner or "").endswith(owner) for r in ledger.records(states=(CLAIMED,))
                ):
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 0.4))
            in_flight = any((r.owner or "").endswith(owner) for r in ledger.records(states=(CLAIMED,)))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            result.kills += 1
            result.kills_in_flight += in_flight
            pause = rng.uniform(0.2, 1.5)
            result.pauses.append(pause)
            time.sleep(pause)
            daemon = daemons.start(folder, env, log)
        sleep_until(last_due + timedelta(seconds=5))
        chaos.stopping.set()
        chaos.join()
        _, result.settled = wait_settled(ledger, posts * 4, last_due + timedelta(seconds=150))
        result.settle_seconds = (datetime.now(UTC) - last_due).total_seconds()
        daemon.send_signal(signal.SIGTERM)
        result.exit_code = daemon.wait(timeout=60)
    finally:
        chaos.stopping.set()
        peers.clear_faults()
    time.sleep(3)  # a request the stub was still holding (latency up to 7.5 s) lands
    result.injected = chaos.injected
    result.chaos_failures = chaos.failures
    by_key = {(r.delivery.post_id, r.delivery.account): r for r in ledger.records()}
    ledger.close()
    received = {
        "mastodon": peers.mastodon_texts(),
        "x": peers.x_texts(),
        "bluesky": peers.bluesky_texts(),
        "outbox": [
            json.loads(path.read_text(encoding="utf-8"))["parts"][0]
            for path in (folder / "outbox" / "posts").glob("*/post.json")
        ],
    }
    for index in range(posts):
        marker = f"soak-{index:04d}-{run} "
        for account, platform in PLATFORM_OF.items():
            record = by_key.get((f"s{index:04d}", account))
            state = record.state if record else "missing"
            copies = sum(marker in found for found in received[platform])
            error = record.error if record else None
            verdict = classify(platform, state, copies, error)
            result.verdicts.append(Verdict(platform, f"s{index:04d}", state, copies, verdict, error))
    result.wall = time.monotonic() - began
    return result


def print_soak(soak: Soak, kills_asked: int) -> None:
    print(
        f"1. Crash soak: {soak.deliveries} deliveries ({soak.posts} posts x outbox, mastodon, x-en, bluesky), due over "
        f"{soak.window:.0f} s, max_late 1h, request timeout {REQUEST_TIMEOUT} s"
    )
    pauses = f"{min(soak.pauses):.1f}-{max(soak.pauses):.1f} s" if soak.pauses else "-"
    print(
        f"   SIGKILLs: {soak.kills} of {kills_asked} asked, {soak.kills_in_flight} with a delivery claimed "
        f"(in flight); restarted after {pauses}"
    )
    injected = ", ".join(f"{name} {count}" for name, count in sorted(soak.injected.items())) or "none"
    print(f"   faults injected: {injected}")
    for failure in soak.chaos_failures[:5]:
        print(f"   (a fault could not be injected: {failure[:120]})")
    header = f"   {'platform':<9}" + "".join(f"{s:>12}" for s in STATES) + " |" + "".join(f"{k:>12}" for k in KINDS)
    print(header)
    print("   " + "-" * (len(header) - 3))
    rows = [*PLATFORMS, "total"]
    for platform in rows:
        chosen = [v for v in soak.verdicts if platform in (v.platform, "total")]
        states = Counter(v.state for v in chosen)
        kinds = Counter(v.kind for v in chosen)
        print(
            f"   {platform:<9}"
            + "".join(f"{states[s]:>12}" for s in STATES)
            + " |"
            + "".join(f"{kinds[k]:>12}" for k in KINDS)
        )
    for platform, post, state, copies, verdict, error in soak.verdicts:
        if verdict in ("duplicate", "silent loss"):
            print(f"   ! {verdict}: {post} {platform}: ledger {state}, {copies} copies ({error or 'no error'})")
        elif verdict in ("unconfirmed", "accounted"):
            print(f"   - {verdict}: {post} {platform}: {state}, {copies} copies: {(error or '')[:110]}")
    settled = "settled" if soak.settled else "NOT settled"
    print(
        f"   crash soak: duplicates {soak.count('duplicate')}, silent losses {soak.count('silent loss')}, "
        f"kills done {soak.kills}, wall time {soak.wall:.0f} s ({settled} {soak.settle_seconds:.0f} s after the last "
        f"due instant; the daemon's exit code on SIGTERM: {soak.exit_code})"
    )


# --- 2. two daemons, one PostgreSQL ledger ---------------------------------------------------------------


@dataclass
class TwoDaemons:
    deliveries: int = 0
    rows: int = 0
    exactly_once: int = 0
    duplicates: int = 0
    losses: int = 0
    victim: int = -1
    victim_published: int = 0
    survivor_before: int = 0
    survivor_after: int = 0
    survivor_exit: int | None = None
    settled: bool = False
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def two_daemons(peers: Peers, work: Path, daemons: Daemons) -> TwoDaemons:
    began = time.monotonic()
    result = TwoDaemons()
    folder = work / "two-daemons"
    folder.mkdir()
    shutil.copytree(ROOT / "assets", folder / "assets")
    with start_postgres() as server_url:
        with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute("CREATE DATABASE two_daemons")
        ledger_url = server_url.rsplit("/", 1)[0] + "/two_daemons"
        run = time.time_ns()
        spacing, posts = 0.5, 50
        start = datetime.now(UTC) + timedelta(seconds=6)
        lines = [
            f'  - id: p{i:03d}\n    text: {{en: "Shared delivery pair-{i:03d}-{run} ."}}\n'
            f'    at: "{local(start + timedelta(seconds=spacing * i))}"\n'
            for i in range(posts)
        ]
        (folder / "posts.yaml").write_text(
            "timezone: America/New_York\nlanguages: [en]\naccounts:\n"
            f'  mastodon: {{platform: mastodon, instance: "{peers.mastodon.base_url}", languages: [en]}}\n'
            "  outbox: {platform: outbox, languages: [en]}\nposts:\n" + "".join(lines),
            encoding="utf-8",
        )
        env = daemon_env({"MASTODON_ACCESS_TOKEN": "alice_token", "SCHEDULER_LEDGER": ledger_url})
        logs = [folder / f"daemon{i}.log" for i in range(2)]
        running = [daemons.start(folder, env, log) for log in logs]

        def published(index: int) -> int:
            return logs[index].read_text(errors="replace").count(": published")

        last_due = start + timedelta(seconds=spacing * (posts - 1))
        sleep_until(start + (last_due - start) / 2)
        result.victim = 0 if published(0) >= published(1) else 1
        survivor = 1 - result.victim
        running[result.victim].send_signal(signal.SIGKILL)
        running[result.victim].wait()
        result.victim_published = published(result.victim)
        result.survivor_before = published(survivor)
        ledger = Ledger(ledger_url)
        try:
            records, result.settled = wait_settled(ledger, posts * 2, last_due + timedelta(seconds=45))
        finally:
            running[survivor].send_signal(signal.SIGTERM)
            result.survivor_exit = running[survivor].wait(timeout=60)
            records = ledger.records()
            ledger.close()
        result.survivor_after = published(survivor)
        for index, log in enumerate(logs):
            result.errors += [
                f"daemon {index}: {line[:160]}" for line in log.read_text().splitlines() if "Error: " in line
            ]
    contents = peers.mastodon_texts()
    outbox = [
        json.loads(p.read_text(encoding="utf-8"))["parts"][0] for p in (folder / "outbox" / "posts").glob("*/post.json")
    ]
    by_key = {(r.delivery.post_id, r.delivery.account): r for r in records}
    result.deliveries, result.rows = posts * 2, len(records)
    for index in range(posts):
        marker = f"pair-{index:03d}-{run} "
        for account, found in (("mastodon", contents), ("outbox", outbox)):
            record = by_key.get((f"p{index:03d}", account))
            state = record.state if record else "missing"
            copies = sum(marker in text_ for text_ in found)
            verdict = classify(account, state, copies, record.error if record else None)
            if verdict == "ok":
                result.exactly_once += 1
            elif verdict == "duplicate":
                result.duplicates += 1
            elif verdict != "accounted":
                result.losses += 1
            if verdict != "ok":
                result.problems.append(f"p{index:03d} {account}: ledger {state}, {copies} copies ({verdict})")
    result.wall = time.monotonic() - began
    return result


def print_two_daemons(two: TwoDaemons) -> None:
    print(
        "2. Two daemons, one PostgreSQL ledger: 100 deliveries (50 posts x mastodon, outbox, due over 25 s), "
        f"the busier one (daemon {two.victim}, {two.victim_published} published) SIGKILLed midway"
    )
    print(
        f"   the survivor published {two.survivor_before} before the kill, {two.survivor_after} in all; "
        f"its exit code on SIGTERM: {two.survivor_exit}; ledger rows {two.rows}, "
        f"{'settled' if two.settled else 'NOT settled'}"
    )
    for line in two.errors[:6]:
        print(f"   ! {line}")
    for line in two.problems[:12]:
        print(f"   ! {line}")
    if len(two.problems) > 12:
        print(f"   ! ... and {len(two.problems) - 12} more")
    print(
        f"   two daemons: deliveries {two.deliveries}, each delivered exactly once {two.exactly_once}, "
        f"duplicates {two.duplicates}, losses {two.losses}, wall time {two.wall:.0f} s"
    )


# --- 3. the fault matrix ---------------------------------------------------------------------------------

FAULTS = ("429", "503", "slow", "timeout", "cut")
FAULT_NAMES = {
    "429": "429 rate limit",
    "503": "503 unavailable",
    "slow": f"slow (1 s < {MATRIX_TIMEOUT:g} s)",
    "timeout": f"timeout (3.5 s > {MATRIX_TIMEOUT:g} s)",
    "cut": "cut after sending",
}


def canned(status: str, payload: dict[str, str], headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps(payload).encode()
    lines = [
        f"HTTP/1.1 {status}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def arm(peers: Peers, mastodon_proxy: FaultProxy, platform: str, fault: str) -> None:
    """Make the next create call of `platform` meet `fault`."""
    if platform == "mastodon":
        effects: dict[str, dict[str, Any]] = {
            "429": {"type": "ratelimit"},
            "503": {"type": "status", "status": 503},
            "slow": {"type": "latency", "delay_ms": 1000},
            "timeout": {"type": "latency", "delay_ms": 3500},
        }
        if fault == "cut":
            mastodon_proxy.arm("/api/v1/statuses", "reset")  # mastodon-mock answered; the client gets an RST
        else:
            mastodon_fault(peers.mastodon, "/api/v1/statuses", effects[fault])
    elif platform == "x":
        x_effects: dict[str, dict[str, Any]] = {
            "429": {"type": "ratelimit", "reset_in": 60},
            "503": {"type": "status", "status": 503},
            "slow": {"type": "latency", "seconds": 1.0},
            "timeout": {"type": "latency", "seconds": 3.5},
            "cut": {"type": "drop_after_create"},  # the stub created the tweet; the answer is never sent
        }
        peers.x.add_fault(match={"method": "POST", "path": "/2/tweets"}, effect=x_effects[fault])
    else:
        proxy, path = peers.bsky_proxy, "com.atproto.repo.createRecord"
        if fault == "429":
            reset = str(int(time.time()) + 60)
            limits = {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": reset}
            answer = canned("429 Too Many Requests", {"error": "RateLimitExceeded", "message": "slow down"}, limits)
            proxy.arm(path, "respond", answer)
        elif fault == "503":
            proxy.arm(path, "respond", canned("503 Service Unavailable", {"error": "Unavailable", "message": "busy"}))
        elif fault == "slow":
            proxy.arm(path, "delay", 1.0)
        elif fault == "timeout":
            proxy.arm(path, "delay", 3.5)
        else:
            proxy.arm(path, "reset")


@dataclass
class Cell:
    fault: str
    platform: str
    first: str
    final: str
    copies: int
    verdict: str
    error: str


def describe(outcome: Outcome, now: datetime) -> str:
    if outcome.state == PENDING and outcome.retry_at is not None:
        return f"pending, retry in {(outcome.retry_at - now).total_seconds():.0f} s"
    return outcome.state


def fault_matrix(peers: Peers, work: Path) -> list[Cell]:
    folder = work / "matrix"
    folder.mkdir()
    shutil.copytree(ROOT / "assets", folder / "assets")
    run = time.time_ns()
    due = datetime.now(UTC).replace(microsecond=0)
    accounts = {"mastodon": "mastodon", "x": "x-en", "bluesky": "bluesky"}
    posts = "".join(
        f"  - id: m-{platform}-{fault}\n"
        f'    text: {{en: "Fault matrix {platform} {fault} cell-{platform}-{fault}-{run} ."}}\n'
        f"    accounts: [{accounts[platform]}]\n"
        f'    at: "{local(due)}"\n'
        for platform in accounts
        for fault in FAULTS
    )
    cells: list[Cell] = []
    with serving(QuietProxy(peers.mastodon.base_url)) as mastodon_proxy:
        (folder / "posts.yaml").write_text(
            f"""timezone: America/New_York
languages: [en]
defaults: {{max_late: 1h}}
accounts:
  mastodon: {{platform: mastodon, instance: "{mastodon_proxy.url}", languages: [en]}}
  x-en: {{platform: x, api_base: "{peers.x.url}", languages: [en]}}
  bluesky: {{platform: bluesky, handle: {peers.bsky.handle}, service: "{peers.bsky_proxy.url}", languages: [en]}}
posts:
{posts}""",
            encoding="utf-8",
        )
        offset = [timedelta(0)]

        def clock() -> datetime:
            return datetime.now(UTC) + offset[0]

        environ = {
            "MASTODON_ACCESS_TOKEN": "alice_token",
            "BLUESKY_APP_PASSWORD": peers.bsky.app_password,
            **x_environment("x-en"),
        }
        publisher = Publisher(
            content.load(folder / "posts.yaml", now=due),
            folder,
            Ledger(default_url(folder)),
            CardStore(folder / "state" / "cards"),
            Credentials.load(folder, environ),
            folder / "state" / "sessions",
            clock=clock,
            timeout=MATRIX_TIMEOUT,
        )
        try:
            for platform, account in accounts.items():
                publisher.platform(account).check()  # log in first: the fault is for the create call
                for fault in FAULTS:
                    offset[0] = timedelta(0)
                    peers.clear_faults()
                    delivery = Delivery(due, f"m-{platform}-{fault}", account, "en")
                    arm(peers, mastodon_proxy, platform, fault)
                    outcome = publisher.deliver(delivery)
                    first, error = describe(outcome, clock()), outcome.error or ""
                    peers.clear_faults()
                    mastodon_proxy.fault = None
                    if fault == "timeout" and platform == "x":
                        time.sleep(2.0)  # the stub finishes the request the client gave up on (nothing to retry)
                    for _ in range(4):
                        if outcome.state not in (PENDING, CLAIMED) or outcome.retry_at is None:
                            break
                        wait = (outcome.retry_at - clock()).total_seconds() + 0.2
                        if fault in ("timeout", "cut"):
                            time.sleep(max(0.0, wait))  # a lost request may still land: wait for real
                        else:
                            offset[0] += timedelta(seconds=max(0.0, wait))  # nothing in flight: skip ahead
                        outcome = publisher.deliver(delivery)
                    time.sleep(0.2)
                    marker = f"cell-{platform}-{fault}-{run} "
                    found = {
                        "mastodon": peers.mastodon_texts,
                        "x": peers.x_texts,
                        "bluesky": peers.bluesky_texts,
                    }[platform]()
                    copies = sum(marker in found_text for found_text in found)
                    verdict = classify(platform, outcome.state, copies, outcome.error)
                    cells.append(Cell(fault, platform, first, outcome.state, copies, verdict, error))
        finally:
            peers.clear_faults()
            publisher.ledger.close()
    return cells


def print_matrix(cells: list[Cell], wall: float) -> None:
    print(
        f"3. Fault matrix through Publisher.deliver (request timeout {MATRIX_TIMEOUT:g} s; the fault on the create "
        "call, then cleared and delivered again)"
    )
    print(f"   {'fault':<22}{'platform':<10}{'after the faulted attempt':<28}{'final':<13}{'copies':>6}  verdict")
    print("   " + "-" * 92)
    for cell in cells:
        print(
            f"   {FAULT_NAMES[cell.fault]:<22}{cell.platform:<10}{cell.first:<28}{cell.final:<13}{cell.copies:>6}  "
            f"{cell.verdict}"
        )
    for cell in cells:
        if cell.error:
            print(f"   - {cell.fault} {cell.platform}: {cell.error[:130]}")
    duplicates = sum(c.verdict == "duplicate" for c in cells)
    losses = sum(c.verdict == "silent loss" for c in cells)
    print(
        f"   fault matrix: {len(cells)} cells, most copies of one post {max((c.copies for c in cells), default=0)}, "
        f"duplicates {duplicates}, silent losses {losses}, wall time {wall:.0f} s"
    )


# --- 4. fuzzing ------------------------------------------------------------------------------------------


@dataclass
class Fuzz:
    tried: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    unexpected: list[str] = field(default_factory=list)
    wall: float = 0.0


def fuzz(work: Path, seed: int, structures: int = 1000, edits: int = 300, raw: int = 300) -> Fuzz:
    import yaml
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from tests.test_hostile import NOW, SHIPPED, documents

    began = time.monotonic()
    folder = work / "fuzz"
    folder.mkdir()
    shutil.copytree(ROOT / "assets", folder / "assets")
    result = Fuzz()

    def check(kind: str, data: bytes) -> None:
        (folder / "posts.yaml").write_bytes(data)
        started = time.perf_counter()
        try:
            report = content.check(folder / "posts.yaml", now=NOW)
            if report.campaign is None and not report.errors:
                result.unexpected.append(f"{kind}: no campaign and no error")
            for problem in report.problems:
                if problem.line < 1 or problem.column < 1 or not problem.message:
                    result.unexpected.append(f"{kind}: a problem without a place or message: {problem}")
        except Exception as exc:  # what the benchmark looks for: anything but a content error
            result.unexpected.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
        result.slowest = max(result.slowest, time.perf_counter() - started)
        result.tried[kind] += 1

    def configured(count: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
        return settings(
            max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=False
        )

    @hypothesis_seed(seed)
    @configured(structures)
    @given(documents)
    def any_structure(document: object) -> None:
        check("random structures", yaml.safe_dump(document, allow_unicode=True).encode())

    @hypothesis_seed(seed)
    @configured(edits)
    @given(st.data())
    def any_edit(data: st.DataObject) -> None:
        edited = SHIPPED
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(edited)))
            if data.draw(st.booleans()):
                edited = edited[:position] + edited[position + data.draw(st.integers(1, 30)) :]
            else:
                edited = edited[:position] + data.draw(st.text(min_size=1, max_size=10)) + edited[position:]
        check("edits of the shipped posts.yaml", edited.encode("utf-8", errors="surrogatepass"))

    @hypothesis_seed(seed)
    @configured(raw)
    @given(st.binary(max_size=400))
    def any_bytes(data: bytes) -> None:
        check("random bytes", data)

    any_structure()
    any_edit()
    any_bytes()
    result.wall = time.monotonic() - began
    return result


def print_fuzz(result: Fuzz) -> None:
    tried = ", ".join(f"{kind} {count:,}" for kind, count in result.tried.items())
    print(f"4. Fuzzing content.check with hypothesis: {sum(result.tried.values()):,} inputs tried ({tried})")
    for line in result.unexpected[:10]:
        print(f"   ! {line}")
    verdict = "none raised anything but content errors" if not result.unexpected else "UNEXPECTED OUTCOMES"
    print(
        f"   fuzzing: {sum(result.tried.values())} inputs, {len(result.unexpected)} unexpected ({verdict}); "
        f"the slowest took {result.slowest * 1000:.1f} ms; wall time {result.wall:.0f} s"
    )


# --- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=200, help="crash soak deliveries (4 per post; default 200)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the soak's daemon (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--skip-two-daemons", action="store_true", help="skip the two-daemon PostgreSQL run")
    parser.add_argument("--skip-matrix", action="store_true", help="skip the fault matrix")
    args = parser.parse_args()
    if args.deliveries < 4 or args.kills < 0:
        parser.error("--deliveries must be at least 4 and --kills at least 0")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    logging.basicConfig(level=logging.CRITICAL)  # the in-process pipeline of the matrix logs as it goes
    began = time.monotonic()
    print(f"Reliability benchmark (seed {seed}); loopback peers: mastodon-mock, X stub, local PDS, PostgreSQL")
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    daemons = Daemons()
    failures: list[str] = []
    try:
        with start_peers(work) as peers:
            print(f"   peers up in {time.monotonic() - began:.0f} s")
            print()
            soak = crash_soak(peers, work, args.deliveries, args.kills, rng, daemons)
            print_soak(soak, args.kills)
            if soak.count("duplicate") or soak.count("silent loss"):
                failures.append("crash soak")
            if soak.kills < args.kills:
                failures.append(f"crash soak: only {soak.kills} of {args.kills} kills")
            print()
            if not args.skip_two_daemons:
                two = two_daemons(peers, work, daemons)
                print_two_daemons(two)
                if two.duplicates or two.losses:
                    failures.append("two daemons")
                print()
            if not args.skip_matrix:
                started = time.monotonic()
                cells = fault_matrix(peers, work)
                print_matrix(cells, time.monotonic() - started)
                if any(c.verdict in ("duplicate", "silent loss") for c in cells):
                    failures.append("fault matrix")
                print()
        fuzzed = fuzz(work, seed)
        print_fuzz(fuzzed)
        if fuzzed.unexpected:
            failures.append("fuzzing")
    finally:
        daemons.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Wall time {time.monotonic() - began:.0f} s.")
    if failures:
        print(f"RESULT: FAILED ({'; '.join(failures)})")
        return 1
    print("RESULT: no duplicate, no silent loss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
