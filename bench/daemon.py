"""Benchmark: how late the daemon delivers, what it costs at rest, and how fast the timeline expands.

Prints: the lateness of each delivery (due instant to arrival at the peer) with p50 and p99
(target p99 < 1 s); the daemon's RSS and CPU over 60 idle seconds with every platform client
loaded (targets: RSS < 100 MB, CPU < 1%); and the time to expand a year of hourly recurrences
for 100 posts (target < 0.5 s). Starts its own peers. Run: .venv/bin/python bench/daemon.py
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mastodon_mock.testing import MockServer  # noqa: E402

from scheduler.models import Recurrence  # noqa: E402
from scheduler.timeline import recurrence_instants  # noqa: E402
from tests.conftest import X_CREDENTIAL, new_bsky_account, start_pds, x_environment  # noqa: E402
from tests.peers.x_stub.server import XStub  # noqa: E402

DELIVERIES = 20
SPACING = 1.5  # seconds between due instants
IDLE = 60
ZONE = ZoneInfo("America/New_York")


def local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S")


def expansion() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    count = 0
    for index in range(100):
        rule = Recurrence.parse(f"{index % 60} * * * *")
        count += sum(1 for _ in recurrence_instants(rule, ZONE, start, start + timedelta(days=365)))
    print(
        f"timeline: a year of hourly recurrences for 100 posts ({count:,} instants) in "
        f"{time.perf_counter() - began:.2f} s (target < 0.5 s)"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds so far) of a process."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def main() -> None:
    expansion()
    folder = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    try:
        with start_pds(folder) as pds_url, MockServer() as mastodon, XStub(credentials=[X_CREDENTIAL]) as x_stub:
            run(folder, pds_url, mastodon, x_stub)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, pds_url: str, mastodon: MockServer, x_stub: XStub) -> None:
    shutil.copytree(ROOT / "assets", folder / "assets")
    bsky = new_bsky_account(pds_url)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=12)
    posts = []
    stamp = time.time_ns()
    for index in range(DELIVERIES):
        due = start + timedelta(seconds=SPACING * index)
        posts.append(f"""  - id: p{index:02d}
    text: {{en: "Delivery {index} of the benchmark {stamp}"}}
    accounts: [outbox]
    at: "{local(due)}.{due.microsecond:06d}"
""")
    # One post to every platform first, so that every client is loaded before the idle measurement.
    warm = start - timedelta(seconds=6)
    posts.append(f"""  - id: everywhere
    text: {{en: "Loading every client {stamp}"}}
    card: {{slogan: {{en: "U.S. out of Haiti!"}}}}
    at: "{local(warm)}"
""")
    (folder / "posts.yaml").write_text(
        f"""timezone: America/New_York
languages: [en]
accounts:
  outbox: {{platform: outbox, languages: [en]}}
  mastodon: {{platform: mastodon, instance: "{mastodon.base_url}", languages: [en]}}
  x-en: {{platform: x, api_base: "{x_stub.url}", languages: [en]}}
  bluesky: {{platform: bluesky, handle: {bsky.handle}, service: "{pds_url}", languages: [en]}}
posts:
{"".join(posts)}""",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "MASTODON_ACCESS_TOKEN": "alice_token",
        "BLUESKY_APP_PASSWORD": bsky.app_password,
        **x_environment("x-en"),
    }
    log = (folder / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "daemon", "-v"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        last_due = start + timedelta(seconds=SPACING * (DELIVERIES - 1))
        time.sleep(max(0.0, (last_due - datetime.now(UTC)).total_seconds()) + 3)
        lateness = []
        for index in range(DELIVERIES):
            due = start + timedelta(seconds=SPACING * index)
            written = list((folder / "outbox" / "posts").glob(f"p{index:02d}-*/post.json"))
            if not written:
                print(f"  p{index:02d}: NOT DELIVERED")
                continue
            lateness.append(written[0].stat().st_mtime - due.timestamp())
        print(
            f"lateness of {len(lateness)}/{DELIVERIES} deliveries (due -> written to the outbox): "
            f"p50 {statistics.median(lateness) * 1000:.0f} ms, p99 {percentile(lateness, 0.99) * 1000:.0f} ms, "
            f"max {max(lateness) * 1000:.0f} ms (target p99 < 1 s)"
        )
        everywhere = (folder / "daemon.log").read_text().count("delivery everywhere")
        _, cpu_before = proc_figures(daemon.pid)
        time.sleep(IDLE)
        rss_after, cpu_after = proc_figures(daemon.pid)
        share = (cpu_after - cpu_before) / IDLE * 100
        print(
            f"idle for {IDLE} s after delivering to all {everywhere} accounts (every platform client loaded): "
            f"RSS {rss_after:.0f} MB (target < 100 MB), CPU {share:.2f}% (target < 1%)"
        )
        delivered = (folder / "daemon.log").read_text().count("published")
        print(f"  ({delivered} deliveries published in all, to the outbox, Mastodon, X and Bluesky)")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
