"""Benchmark: `report` and `status` on a campaign that has run for a while.

A campaign of 500 posts (every fifth with a slogan card) to a Mastodon and a Bluesky account in English
and Spanish: 2,000 published deliveries, each with the three fetches the daemon makes (1 h, 24 h, 7 d).
Prints the wall time and peak RSS of `run.py report --csv` and `run.py status`, and the page's size.
Targets: the report in under 10 s and 300 MB, status in under 1 s (no platform is asked: the counts
are read from the ledger). Run: .venv/bin/python bench/report.py
"""

from __future__ import annotations

import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler.ledger import PUBLISHED, Ledger, default_url  # noqa: E402
from scheduler.models import Delivery  # noqa: E402
from scheduler.platforms.base import Counts  # noqa: E402

POSTS = 500
ACCOUNTS = ("mastodon", "bluesky")
LANGUAGES = ("en", "es")
START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def campaign_text() -> str:
    lines = [
        "timezone: America/New_York",
        "languages: [en, es]",
        "accounts:",
        "  mastodon: {platform: mastodon, instance: https://mastodon.social, languages: [en, es]}",
        "  bluesky: {platform: bluesky, handle: team.bsky.social, languages: [en, es]}",
        "posts:",
    ]
    for i in range(POSTS):
        lines += [
            f"  - id: post-{i}",
            f"    text: {{en: 'U.S. out of Haiti! ({i})', es: '¡EE.UU. fuera de Haití! ({i})'}}",
            f"    at: {START + timedelta(hours=6 * i):%Y-%m-%d %H:%M}+00:00",
        ]
        if i % 5 == 0:
            lines.append("    card: {slogan: {en: U.S. out of Haiti!, es: ¡EE.UU. fuera de Haití!}}")
    return "\n".join(lines) + "\n"


def fill(ledger: Ledger) -> int:
    rng = random.Random(7)
    deliveries = 0
    for i in range(POSTS):
        due = START + timedelta(hours=6 * i)
        fetched = []
        for account in ACCOUNTS:
            for language in LANGUAGES:
                delivery = Delivery(due, f"post-{i}", account, language)
                ledger.ensure(delivery, due)
                ledger.claim(delivery, "bench", due, timedelta(minutes=2))
                url = f"https://example.social/{account}/{i}/{language}"
                ledger.finish(delivery, "bench", PUBLISHED, due, parts=[{"id": f"{i}-{language}", "url": url}])
                fetched.append(delivery)
                deliveries += 1
        for after in (timedelta(hours=1), timedelta(days=1), timedelta(days=7)):
            scale = after / timedelta(hours=1)
            ledger.add_snapshots(
                [(d, Counts(*(int(rng.random() * scale) for _ in range(4)))) for d in fetched], due + after
            )
    return deliveries


def timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, the child's peak RSS in MB (ru_maxrss of this run alone: a fresh child each time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(ROOT / "assets", project / "assets")
        (project / "posts.yaml").write_text(campaign_text(), encoding="utf-8")
        ledger = Ledger(default_url(project))
        started = time.perf_counter()
        deliveries = fill(ledger)
        ledger.close()
        print(f"ledger: {deliveries:,} published deliveries, 3 fetches each ({time.perf_counter() - started:.1f} s)")
        now = (START + timedelta(hours=6 * POSTS + 24 * 7)).isoformat()
        run = [sys.executable, str(ROOT / "run.py")]
        wall, peak, _ = timed([*run, "report", "--csv", "--now", now], project)
        size = sum(p.stat().st_size for p in (project / "report").rglob("*") if p.is_file()) / 1e6
        print(f"report --csv: {wall:.2f} s, peak RSS {peak:.0f} MB, {size:.1f} MB written (target < 10 s, 300 MB)")
        # ru_maxrss of children is the largest so far: status's own peak only shows when it is the larger.
        wall, _, output = timed([*run, "status", "--now", now], project)
        assert "counts: " in output, output
        print(f"status: {wall:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
