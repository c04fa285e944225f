"""Drawing cards in a short-lived process of their own, for the long-running daemon.

Fonts, text shaping and image buffers take 15 to 25 MB while a card is drawn, and a long-running process
keeps much of it after the card is written (the allocator holds on to freed memory, by amounts that
vary from run to run). A process that draws the cards and exits gives all of it back; the daemon only
reads the finished files from the cache.

The daemon sends the cache folder and the cards it wants (each with the byte cap of the platform it goes
to, if any) to `python -m scheduler.cards.worker` on standard input. The worker writes each card into
the cache the way `CardStore` does in process, then exits: 0 when all are in place, else 3 with one line
saying what went wrong.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.errors import SchedulerError

if TYPE_CHECKING:
    from scheduler.cards import CardSpec

# Drawing a card takes well under a second; this only ends a worker that hangs.
TIMEOUT_SECONDS = 120.0
FAILED = 3
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent


class DrawingInterruptedError(SchedulerError):
    """The drawing process did not finish (killed, out of memory, could not start, timed out): trying
    again later may work, unlike a card that cannot be drawn."""


def draw(folder: Path, wanted: Sequence[tuple[CardSpec, int | None]]) -> None:
    """Put each (card, byte cap) in the cache at `folder` from a process of its own; an empty `wanted`
    only checks that cards can be drawn here at all. Raises `SchedulerError` with the worker's reason."""
    # This copy of the package, whether or not it is installed: the child may start in another folder.
    path = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), os.environ.get("PYTHONPATH")) if p)
    try:
        finished = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", __name__],
            input=pickle.dumps((folder, list(wanted))),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            env={**os.environ, "PYTHONPATH": path},
            process_group=0,  # Ctrl-C in a terminal stops the daemon, which waits for the cards it is drawing
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DrawingInterruptedError(f"drawing the card took longer than {TIMEOUT_SECONDS:.0f} s") from None
    except OSError as exc:
        raise DrawingInterruptedError(f"could not start a process to draw the card: {exc.strerror or exc}") from None
    if finished.returncode == 0:
        return
    said = finished.stderr.decode(errors="replace").strip().splitlines()
    if finished.returncode == FAILED and said:
        raise SchedulerError(said[-1])
    if finished.returncode < 0:
        name = signal.Signals(-finished.returncode).name
        raise DrawingInterruptedError(f"the process drawing the card was stopped by {name} (out of memory?)")
    raise DrawingInterruptedError(f"the process drawing the card ended with status {finished.returncode}")


def main() -> None:
    # Stopping the daemon (SIGTERM to the whole service) waits for the cards already being drawn.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    folder, wanted = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by our own parent process
    from scheduler.cards import CardStore, require_shaping

    problems = _attempt(require_shaping)
    if not problems:
        store = CardStore(folder)
        for spec, cap in wanted:  # one card that cannot be drawn does not keep the others from the cache
            problems += _attempt(functools.partial(store.upload, spec, cap))
    if problems:
        sys.stderr.write(" ".join(problems[0].split()) + "\n")
        sys.exit(FAILED)


def _attempt(action: Callable[[], object]) -> list[str]:
    """What went wrong, in a line, or nothing."""
    try:
        action()
    except SchedulerError as exc:
        return [str(exc)]
    except Exception as exc:  # a bug; the same card drawn by `preview --debug` shows its traceback
        return [f"unexpected {type(exc).__name__} while drawing a card: {exc}"]
    return []


if __name__ == "__main__":
    main()
