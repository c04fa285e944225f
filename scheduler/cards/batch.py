"""Rendering many cards side by side in worker processes, each file written atomically where the cache wants it.

The cache decides the file names (`Job`); this module only draws, encodes and writes. A card is drawn
once and its thumbnails are scaled from the drawn image, so a worker never reads back what it wrote.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from scheduler.cards import CARD_FILE_MODE, images
from scheduler.cards.fonts import FontFiles
from scheduler.errors import SchedulerError
from scheduler.files import write_atomic

if TYPE_CHECKING:
    from scheduler.cards import CardSpec

# Fewer missing cards than this are drawn in this process: a card takes 60 to 90 ms, and starting the
# workers costs more than they save below about 10 (bench/preview.py --threshold, 2 cores: 8 cards 0.6 s
# in process, 0.85 s in workers; 12 cards 0.9 s and 0.8 s).
PROCESS_THRESHOLD = 10


@dataclass(frozen=True)
class Job:
    """One card to draw: its PNG, and the thumbnails (width, file) to scale from it."""

    spec: CardSpec
    png: Path
    thumbnails: tuple[tuple[int, Path], ...] = ()


def write_card(path: Path, data: bytes) -> None:
    write_atomic(path, data)
    path.chmod(CARD_FILE_MODE)  # mkstemp creates 0600


def thumbnail_png(image: Image.Image, width: int) -> bytes:
    # reducing_gap: a box reduction first, then Lanczos; within a few levels of a full Lanczos at a third of the cost.
    height = round(image.height * width / image.width)
    small = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return images.png(small)


def render(job: Job) -> None:
    image = job.spec.render().image
    write_card(job.png, images.png(image))
    for width, path in job.thumbnails:
        write_card(path, thumbnail_png(image, width))


def default_workers() -> int:
    """The cores this process may use (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_many(jobs: Sequence[Job], workers: int, on_done: Callable[[Job], None]) -> None:
    """Draw every job, calling `on_done` in this process as each one's files are in place.

    On any failure (or Ctrl-C) the jobs not started are cancelled and those running are let finish,
    so no card is left half-written; the first error is raised.
    """
    if workers <= 1 or len(jobs) < PROCESS_THRESHOLD:
        for job in jobs:
            render(job)
            on_done(job)
        return
    # Paths are made absolute here: a worker's current directory is not necessarily ours.
    anchored = [_anchored(job) for job in jobs]
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=_context(), initializer=_start_worker)
    try:
        by_future: dict[Future[None], Job] = {
            pool.submit(render, sent): job for job, sent in zip(jobs, anchored, strict=True)
        }
        for future in as_completed(by_future):
            future.result()
            on_done(by_future[future])
    except BrokenProcessPool:
        raise SchedulerError(
            "a card-drawing process stopped unexpectedly (out of memory?); run the command again: "
            "the cards already drawn are kept"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _anchored(job: Job) -> Job:
    spec = job.spec
    fonts = FontFiles(spec.fonts.regular.absolute(), spec.fonts.bold.absolute(), spec.fonts.emoji.absolute())
    logo = spec.logo.absolute() if spec.logo is not None else None
    return Job(
        dataclasses.replace(spec, fonts=fonts, logo=logo),
        job.png.absolute(),
        tuple((width, path.absolute()) for width, path in job.thumbnails),
    )


def _context() -> multiprocessing.context.BaseContext:
    """forkserver: workers are forked from a clean process that already imported the drawing code (no
    threads of ours are copied, unlike fork); spawn where there is no forkserver (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Imported once by the server rather than by every worker: the drawing code, and the caller's script,
    # which a worker imports anyway (without its `if __name__ == "__main__":` part) to find its functions.
    context.set_forkserver_preload(["__main__", __name__])
    return context


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the batch, a worker finishes its card quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright never says goodbye, and a worker would wait for work forever (keeping the
    # forkserver alive too): leave with it. A card being written is left as a hidden temporary file, never
    # under its own name, and `CardStore.prune` clears it.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_after, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_after(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(1)
