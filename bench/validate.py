"""Benchmark: `validate` on a generated 10,000-post campaign, and the cold start on the shipped file.

Targets: 10,000 posts in under 2 s; `python run.py validate` on the shipped file in 0.25 s or less,
with no platform SDK imported. Prints its figures; run with `.venv/bin/python bench/validate.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bytecode_cache import with_bytecode  # noqa: E402
from scheduler import content  # noqa: E402

POSTS = 10_000
COLD_RUNS = 15
EXCERPTS = [
    (
        "We assert that any U.S./UN-led armed intervention in Haiti is not only unjustifiable but also unlawful.",
        "Afirmamos que cualquier intervención armada dirigida por Estados Unidos o la ONU en Haití no sólo es "
        "injustificable, sino también ilegal.",
    ),
    (
        "…we understand that a full, long-term foreign military occupation of Haiti is the eventual goal of the "
        "U.S. and its neocolonial proxies.",
        "…entendemos que una ocupación militar extranjera completa y a largo plazo de Haití es el objetivo final "
        "de EE.UU. y sus apoderados neocoloniales.",
    ),
    (
        "There can be no “Zone of Peace” in the Americas if there is no peace and freedom for the people of Haiti.",
        "No puede haber una «Zona de Paz» en las Américas si no hay paz y libertad para el pueblo de Haití.",
    ),
]


def campaign_text(count: int) -> str:
    start = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # only its wall-clock digits are written
    lines = [
        "timezone: America/New_York",
        "languages: [en, es]",
        "accounts:",
        "  x-en: {platform: x, languages: [en], enabled: false}",
        "  x-es: {platform: x, languages: [es], enabled: false}",
        "  mastodon: {platform: mastodon, instance: https://mastodon.social, languages: [en, es]}",
        "  bluesky: {platform: bluesky, handle: team.bsky.social, languages: [en, es]}",
        "  outbox: {platform: outbox, languages: [en, es]}",
        "posts:",
    ]
    for i in range(count):
        english, spanish = EXCERPTS[i % len(EXCERPTS)]
        # Every text is distinct, as in a real campaign: nothing is counted from a cache.
        english, spanish = f"{english} ({i})", f"{spanish} ({i})"
        at = start + timedelta(hours=i)
        lines += [
            f"  - id: post-{i}",
            "    text:",
            f"      en: {json.dumps(english, ensure_ascii=False)}",
            f"      es: {json.dumps(spanish, ensure_ascii=False)}",
            "    hashtags: [Haiti]",
            f"    at: {at:%Y-%m-%d %H:%M}",
        ]
        if i % 5 == 0:  # a card on every fifth post keeps the file under the 5 MB cap
            lines += ["    card:", "      slogan: {en: U.S. out of Haiti!, es: ¡EE.UU. fuera de Haití!}"]
    return "\n".join(lines) + "\n"


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def cold_validate(env: dict[str, str]) -> float:
    return timed([sys.executable, str(ROOT / "run.py"), "validate"], env)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(ROOT / "assets" / "fonts", project / "assets" / "fonts")
        path = project / "posts.yaml"
        path.write_text(campaign_text(POSTS), encoding="utf-8")
        now = datetime(2026, 11, 28, tzinfo=UTC)
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            report = content.check(path, now=now)
            runs.append(time.perf_counter() - started)
        assert report.campaign is not None, report.problems[:3]
        size = path.stat().st_size / 1e6
        print(
            f"validate, {POSTS:,} posts ({size:.1f} MB), in process: best {min(runs):.2f} s, "
            f"median {statistics.median(runs):.2f} s (target < 2 s)"
        )
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "validate", "--config", str(path)], check=True, capture_output=True
        )
        print(f"validate, {POSTS:,} posts, whole command: {time.perf_counter() - started:.2f} s")

    with tempfile.TemporaryDirectory() as caches:
        env = with_bytecode(dict(os.environ), Path(caches))
        cold = [cold_validate(env) for _ in range(COLD_RUNS)]
        bare = [timed([sys.executable, "-c", "pass"], env) for _ in range(COLD_RUNS)]
        # A process that may not write scheduler/__pycache__ compiles the package on every run.
        shutil.rmtree(Path(caches) / ROOT.relative_to(ROOT.anchor) / "scheduler")
        uncached = [cold_validate({**env, "PYTHONDONTWRITEBYTECODE": "1"}) for _ in range(COLD_RUNS)]
    median = statistics.median(cold)
    print(
        f"cold start, run.py validate on the shipped posts.yaml: median {median:.3f} s, "
        f"best {min(cold):.3f} s (target <= 0.25 s: {'met' if median <= 0.25 else 'NOT MET'}); "
        f"bare interpreter {statistics.median(bare):.3f} s, so {median / statistics.median(bare):.1f}x it"
    )
    print(
        f"cold start without the package's bytecode (compiled from source each run): "
        f"median {statistics.median(uncached):.3f} s"
    )
    probe = (
        "import sys; sys.argv=['run.py','validate']\nfrom scheduler.cli import main\ntry: main()\n"
        "except SystemExit: pass\nsdks={'tweepy','mastodon','atproto','atproto_client'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & sdks), file=sys.stderr)"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    print(f"platform SDKs imported by validate: {found.stderr.strip()}")


if __name__ == "__main__":
    main()
