"""Benchmark: card rendering speed, and the cost of a second `preview` with nothing changed.

Prints, for a 1080x1350 bilingual card: cards per second on one core, and the ratio of
(layout + draw + encode) to (encode alone of the same finished image), target at most 1.3.
Then times `preview` of the shipped campaign twice in a fresh folder: the second run should take
at most 10% of the first and render no card. Run: .venv/bin/python bench/cards.py
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler.cards import CardSpec, FontFiles, images  # noqa: E402

ROUNDS = 30


def card(index: int) -> CardSpec:
    fonts = FontFiles(ROOT / "assets/fonts/NotoSans-Regular.ttf", ROOT / "assets/fonts/NotoSans-Bold.ttf")
    # A different text each round, so no layout is ever reused.
    return CardSpec(
        template="bilingual",
        size="portrait",
        language="en",
        texts=(f"U.S. out of Haiti! {index}", f"¡EE.UU. fuera de Haití! {index}"),
        attribution="",
        footer="Black Alliance for Peace · Haiti/Americas Team",
        background=("#14213d", "#0b1021"),
        text_color="#ffffff",
        accent_color="#fca311",
        fonts=fonts,
        logo=None,
    )


def render_figures() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    images.png(card(-1).render().image)  # warm the font caches
    whole, encode_only = [], []
    for index in range(ROUNDS):
        spec = card(index)
        started = time.perf_counter()
        finished = spec.render().image
        images.png(finished)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        images.png(finished)
        encode_only.append(time.perf_counter() - started)
    total, encode = statistics.median(whole), statistics.median(encode_only)
    print(
        f"bilingual 1080x1350 card: {1 / total:.1f} cards/s on one core "
        f"(layout+draw+encode {total * 1000:.1f} ms, encode alone {encode * 1000:.1f} ms)"
    )
    print(f"ratio (layout + draw + encode) / (encode alone): {total / encode:.2f} (target <= 1.3)")


def preview_figures() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(ROOT / "assets", project / "assets")
        shutil.copy(ROOT / "posts.yaml", project / "posts.yaml")
        command = [sys.executable, str(ROOT / "run.py"), "preview", "--config", str(project / "posts.yaml")]
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append((time.perf_counter() - started, out.strip()))
        (first, first_out), (second, second_out) = runs
        rendered = re.search(r"\((\d+) rendered", second_out)
        print(
            f"preview of the shipped campaign: first {first:.2f} s, second {second:.2f} s "
            f"= {second / first:.1%} of the first (target <= 10%); "
            f"cards rendered the second time: {rendered.group(1) if rendered else '?'}"
        )
        print(f"  first:  {first_out}")
        print(f"  second: {second_out}")


if __name__ == "__main__":
    preview_figures()
    render_figures()
