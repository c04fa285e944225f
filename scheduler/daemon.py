"""The daemon: APScheduler wakes the dispatch step at each due instant; reloads, signals, shutdown.

APScheduler keeps only the next wake-up, in memory: the ledger is the memory of what was done,
so a restart loses nothing. posts.yaml is watched (and SIGHUP reloads it); an invalid edit is
logged and the last good campaign keeps running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from scheduler import content, dispatch
from scheduler.publish import Publisher

log = logging.getLogger(__name__)

WATCH_EVERY = timedelta(seconds=1)
SHUTDOWN_BOUND = 30.0
RETRY_STEP = timedelta(seconds=15)  # seconds an in-flight delivery may take to finish on SIGTERM


class Daemon:
    def __init__(
        self, config: Path, publisher: Publisher, clock: Callable[[], datetime], webhook: dispatch.Webhook
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.clock = clock
        self.webhook = webhook
        self.stopping = threading.Event()
        self.stepping = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._seen = self._stamp()

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        self.scheduler.start()
        self.scheduler.add_job(self._watch, "interval", seconds=WATCH_EVERY.total_seconds(), id="watch")
        self._wake_at(self.clock())
        self.stopping.wait()
        log.info("stopping: letting the delivery in flight finish (at most %.0f s)", SHUTDOWN_BOUND)
        self.scheduler.shutdown(wait=False)
        if self.stepping.acquire(timeout=SHUTDOWN_BOUND):
            self.stepping.release()
        else:
            log.warning("a delivery was still in flight; its claim is resolved on the next start")
        log.info("stopped")

    def _step(self) -> None:
        with self.stepping:
            if self.stopping.is_set():
                return
            try:
                result = dispatch.step(self.publisher, self.clock(), self.stopping)
            except Exception:  # a ledger or network hiccup must not stop the campaign: try again soon
                log.exception("the delivery step failed; trying again in %s", RETRY_STEP)
                self._wake_at(self.clock() + RETRY_STEP)
                return
            self.webhook.notify(result)
            if result.next_wake is not None and not self.stopping.is_set():
                self._wake_at(result.next_wake)

    def _wake_at(self, moment: datetime) -> None:
        # The campaign may run on a rehearsal clock: turn its instant into a real one.
        real = datetime.now(moment.tzinfo) + (moment - self.clock())
        self.scheduler.add_job(self._step, DateTrigger(run_date=real), id="step", replace_existing=True)

    def _watch(self) -> None:
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen = stamp
            self.reload("posts.yaml changed")

    def reload(self, why: str) -> bool:
        report = content.check(self.config, now=self.clock())
        if report.campaign is None:
            for problem in report.errors:
                log.error("%s", problem.render(str(self.config)))
            log.error("%s: %d errors; still running the last valid version", why, len(report.errors))
            return False
        with self.stepping:
            self.publisher.reload(report.campaign)
        log.info("%s: reloaded %s (%d posts)", why, self.config, len(report.campaign.posts))
        self._wake_at(self.clock())
        return True

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.config.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stopping.set()

    def _on_reload(self, _signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=self.reload, args=("SIGHUP",), daemon=True).start()
