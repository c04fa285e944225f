"""Benchmark: the cards of a 5,000-post campaign for `preview`: one by one, in parallel, and again unchanged.

Builds a bilingual campaign (English and Spanish) of slogan and quote cards, every text distinct so
every card is, reads it as `preview` does, then measures side by side in one run:

  (a) serial: each card drawn one by one in this process, its PNG then its thumbnail
      (CardStore.png + CardStore.thumbnail, as `preview` did until now);
  (b) cold: CardStore.render_all on an empty cache, in worker processes, then every card and
      thumbnail hard-linked into a page folder (CardStore.link_into);
  (c) re-run: (b) again with nothing changed.

Prints (a)/(b), the speed-up (target >= 1.6x on 2 cores), (c) as a share of (b) (target < 10%),
and the disk the cards take, the page folder's links included. Part of the speed-up is not the
workers': (a) reads each PNG back to scale its thumbnail, render_all scales the image it drew; so
render_all in one process is also timed, on a sample, to show the workers' own share.
`--threshold` also measures, in fresh processes, from how many cards the workers pay for their start-up.
Run: .venv/bin/python bench/preview.py [--posts N] [--threshold]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler import content  # noqa: E402
from scheduler.cards import THUMBNAIL_WIDTH, CardSpec, CardStore, batch, specs_for  # noqa: E402

POSTS = 5_000
SAMPLE = 200  # cards timed with render_all in one process, to tell the workers' share of the speed-up
SLOGANS = [
    ("U.S. out of Haiti!", "¡EE.UU. fuera de Haití!"),
    ("End the occupation of Haiti!", "¡Fin a la ocupación de Haití!"),
    ("Haiti is not for sale!", "¡Haití no se vende!"),
    ("Long live a free Haiti!", "¡Que viva Haití libre!"),
]
EXCERPTS = [
    (
        "We assert that any U.S./UN-led armed intervention in Haiti is not only unjustifiable but also unlawful.",
        "Afirmamos que cualquier intervención armada dirigida por Estados Unidos o la ONU en Haití no sólo es "
        "injustificable, sino también ilegal.",
    ),
    (
        "There can be no “Zone of Peace” in the Americas if there is no peace and freedom for the people of Haiti.",
        "No puede haber una «Zona de Paz» en las Américas si no hay paz y libertad para el pueblo de Haití.",
    ),
]
HEADER = """\
timezone: America/New_York
languages: [en, es]
brand:
  background: ["#14213d", "#0b1021"]
  text_color: "#ffffff"
  accent_color: "#fca311"
  fonts: {regular: assets/fonts/NotoSans-Regular.ttf, bold: assets/fonts/NotoSans-Bold.ttf}
  logo: assets/logo.png
  footer: {en: "Black Alliance for Peace · Haiti/Americas Team", es: "Alianza Negra por la Paz · Equipo Haití/Américas"}
defaults:
  card_size: portrait
  attribution: {en: "Black Alliance for Peace, 14 October 2024", es: "Alianza Negra por la Paz, 14 de octubre de 2024"}
accounts:
  outbox: {platform: outbox, languages: [en, es]}
posts:
"""


def campaign_text(count: int) -> str:
    start = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # only its wall-clock digits are written
    lines = [HEADER.rstrip("\n")]
    for i in range(count):
        slogan = i % 2 == 0
        english, spanish = (SLOGANS if slogan else EXCERPTS)[(i // 2) % (len(SLOGANS) if slogan else len(EXCERPTS))]
        # A number on every card: each is distinct, as in a real campaign, so none comes from the cache.
        english, spanish = f"{english} #{i}", f"{spanish} #{i}"
        words = f"{{en: {json.dumps(english, ensure_ascii=False)}, es: {json.dumps(spanish, ensure_ascii=False)}}}"
        card = f"{{slogan: {words}, size: square}}" if slogan else f"{{excerpt: {words}}}"
        lines += [
            f"  - id: post-{i}",
            f"    text: {words}",
            f"    card: {card}",
            f"    at: {start + timedelta(hours=i):%Y-%m-%d %H:%M}",
        ]
    return "\n".join(lines) + "\n"


def campaign_specs(project: Path, posts: int) -> list[CardSpec]:
    shutil.copytree(ROOT / "assets", project / "assets")
    path = project / "posts.yaml"
    path.write_text(campaign_text(posts), encoding="utf-8")
    report = content.check(path, now=datetime(2026, 11, 28, tzinfo=UTC))
    assert report.campaign is not None, report.problems[:3]
    campaign = report.campaign
    return [spec for post in campaign.posts for spec in specs_for(campaign, post, project).values()]


def serial(specs: list[CardSpec], folder: Path) -> float:
    store = CardStore(folder)
    started = time.perf_counter()
    for spec in {spec.key(): spec for spec in specs}.values():
        store.png(spec)
        store.thumbnail(spec, THUMBNAIL_WIDTH)
    return time.perf_counter() - started


def preview_cards(specs: list[CardSpec], store: CardStore, page: Path) -> tuple[float, float]:
    """render_all, then every card and thumbnail linked into the page: (seconds of both, of render_all alone)."""
    started = time.perf_counter()
    store.render_all(specs, on_progress=_progress)
    rendered = time.perf_counter()
    for spec in specs:
        store.link_into(spec, page)
        store.link_into(spec, page, width=THUMBNAIL_WIDTH)
    return time.perf_counter() - started, rendered - started


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r  {done:,}/{total:,} cards", end="\r" if done < total else "\n", file=sys.stderr, flush=True)


def disk_use(*folders: Path) -> int:
    """Bytes on disk of every file under `folders`, a hard-linked file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder in folders:
        for path in folder.rglob("*"):
            status = path.stat()
            if path.is_file() and (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_blocks * 512
    return total


def main(posts: int) -> None:
    print(f"{posts:,}-post campaign on {batch.default_workers()} cores (load average {os.getloadavg()[0]:.2f})")
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        specs = campaign_specs(project, posts)
        distinct = len({spec.key() for spec in specs})
        print(f"  {distinct:,} distinct cards (PNG + {THUMBNAIL_WIDTH} px thumbnail each)")

        one_by_one = serial(specs, project / "serial-cache")
        each = one_by_one / distinct * 1000
        print(f"(a) serial, one by one in one process: {one_by_one:.1f} s ({each:.0f} ms a card)")

        sample = list({spec.key(): spec for spec in specs}.values())[:SAMPLE]
        alone = CardStore(project / "in-process-cache")
        started = time.perf_counter()
        alone.render_all(sample, workers=1)
        in_process = (time.perf_counter() - started) / len(sample) * distinct
        each = in_process / distinct * 1000
        print(f"    render_all in one process, timed on {len(sample)} cards: {each:.0f} ms a card (no PNG read back)")

        store = CardStore(project / "state" / "cards")
        cold, cold_render = preview_cards(specs, store, project / "preview" / "cards")
        assert store.rendered == distinct, (store.rendered, distinct)
        print(
            f"(b) cold, render_all in parallel: {cold_render:.1f} s, {cold:.1f} s with the page's links "
            f"= {one_by_one / cold_render:.2f}x the serial speed (target >= 1.6x); "
            f"{one_by_one / cold:.2f}x with the links; {in_process / cold_render:.2f}x render_all in one process"
        )

        again = CardStore(store.folder)
        rerun, rerun_render = preview_cards(specs, again, project / "preview" / "cards")
        assert again.rendered == 0, again.rendered
        print(
            f"(c) re-run, nothing changed: {rerun:.2f} s ({rerun_render:.2f} s render_all) "
            f"= {rerun / cold:.1%} of the cold run (target < 10%); cards rendered: {again.rendered}"
        )

        cache = disk_use(store.folder)
        both = disk_use(store.folder, project / "preview")
        print(
            f"disk: cache {cache / 1e6:.0f} MB ({cache / distinct / 1e3:.0f} kB a card with its thumbnail); "
            f"the page folder's {2 * distinct:,} hard links add {(both - cache) / 1e6:.1f} MB"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine takes cores from (b))")


def threshold() -> None:
    """Fresh processes, as each `preview` is one: the workers' start-up is paid in full every time."""
    print("small batches, a fresh process each (s): cards, in process, in worker processes")
    for count in (2, 4, 8, 10, 12, 16):
        figures = []
        for workers in (1, batch.default_workers()):
            command = [sys.executable, __file__, "--one-batch", str(count), "--workers", str(workers)]
            figures.append(float(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
        print(f"  {count:3d}  {figures[0]:.2f}  {figures[1]:.2f}")
    print(f"render_all draws in process below {batch.PROCESS_THRESHOLD} missing cards")


def one_batch(count: int, workers: int) -> None:
    batch.PROCESS_THRESHOLD = 1  # measure the workers even where render_all would not use them
    with tempfile.TemporaryDirectory() as folder:
        specs = campaign_specs(Path(folder), count // 2)
        store = CardStore(Path(folder) / "cards")
        started = time.perf_counter()
        store.render_all(specs, workers=workers)
        print(f"{time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=POSTS, help=f"campaign size (default {POSTS:,})")
    parser.add_argument("--threshold", action="store_true", help="also measure small batches")
    parser.add_argument("--one-batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one_batch:
        one_batch(arguments.one_batch, arguments.workers)
    else:
        main(arguments.posts)
        if arguments.threshold:
            threshold()
