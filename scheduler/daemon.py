"""The daemon: APScheduler wakes the dispatch step at each due instant; reloads, signals, health, shutdown.

APScheduler keeps only the next wake-up, in memory: the ledger is the memory of what was done,
so a restart loses nothing. posts.yaml is watched (and SIGHUP reloads it); an invalid edit is
logged and the last good campaign keeps running. Following a branch instead (follow.py), the
daemon fetches it at an interval (and on SIGHUP) and puts each commit that passes live. The kill
switch in the ledger is read every second. The deliveries of the next minute are prepared ahead
(clients loaded, sessions opened, cards rendered) so that each goes out on time. A live daemon
advertises itself (presence.py), pings its heartbeat URL and systemd's watchdog while healthy, and
exits non-zero on a damaged ledger so that systemd restarts it and a person hears of it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from scheduler import content, dispatch, engagement, follow, health, plan, presence, repo
from scheduler.ledger import LedgerDamagedError, stamp
from scheduler.platforms.base import Platform
from scheduler.publish import Publisher

log = logging.getLogger(__name__)

WATCH_EVERY = timedelta(seconds=1)
SHUTDOWN_BOUND = 30.0  # seconds an in-flight delivery may take to finish on SIGTERM
RETRY_STEP = timedelta(seconds=15)
PREPARE_AHEAD = timedelta(seconds=60)
HUNG_AFTER = 600.0  # seconds one step may run before the watchdog stops vouching for the daemon
COLLECT_CLEAR_OF_STEP = timedelta(seconds=90)  # counts are not fetched this close to a due post


class Daemon:
    def __init__(
        self,
        config: Path,
        publisher: Publisher,
        clock: Callable[[], datetime],
        webhook: dispatch.Webhook,
        heartbeat: health.Heartbeat | None = None,
        follower: follow.Follower | None = None,
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.clock = clock
        self.webhook = webhook
        self.heartbeat = heartbeat
        self.follower = follower
        self.exit_code = 0
        self.stopping = threading.Event()
        self.stepping = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._seen = self._stamp()
        self._pause_seen: str | None = None
        self._pause_seen = self._pause_setting()
        self._step_began: float | None = None
        self._last_step_ok = True
        self._counters: dict[str, Platform] = {}  # the collector's own adapters: it runs beside the step
        self._state = publisher.project / "state"
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self._advert = presence.Advert(
            os.getpid(),
            socket.gethostname(),
            presence.public_url(publisher.ledger.url),
            str(config.resolve()),
            started,
            started,
        )

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        self._beat()
        self.scheduler.start()
        self.scheduler.add_job(self._watch, "interval", seconds=WATCH_EVERY.total_seconds(), id="watch")
        self.scheduler.add_job(self._beat, "interval", seconds=presence.BEAT_EVERY.total_seconds(), id="beat")
        if self.follower is not None:
            every = self.follower.settings.every.total_seconds()
            self.scheduler.add_job(self._follow, "interval", seconds=every, id="follow")
        if self.heartbeat is not None:
            self.scheduler.add_job(
                self._ping, "interval", seconds=self.heartbeat.interval, id="heartbeat", next_run_time=datetime.now(UTC)
            )
        self._wake_at(self.clock())
        self._collect_at(self.clock())
        health.ready()
        self.stopping.wait()
        health.stopping()
        log.info("stopping: letting the delivery in flight finish (at most %.0f s)", SHUTDOWN_BOUND)
        self.scheduler.shutdown(wait=False)
        if self.stepping.acquire(timeout=SHUTDOWN_BOUND):
            self.stepping.release()
        else:
            log.warning("a delivery was still in flight; its claim is resolved on the next start")
        presence.withdraw(self._state, os.getpid())
        log.info("stopped")
        return self.exit_code

    def _step(self) -> None:
        with self.stepping:
            if self.stopping.is_set():
                return
            self._step_began = time.monotonic()
            try:
                result = dispatch.step(self.publisher, self.clock(), self.stopping)
            except LedgerDamagedError as exc:
                self._give_up(str(exc))
                return
            except Exception as exc:  # a ledger or network hiccup must not stop the campaign: try again soon
                log.error("the delivery step failed (%s); trying again in %s", exc, RETRY_STEP, exc_info=True)
                self._last_step_ok = False
                self._ping()
                self._wake_at(self.clock() + RETRY_STEP)
                return
            finally:
                self._step_began = None
            self._last_step_ok = True
            if any(outcome.state == "published" for outcome in result.outcomes):
                self._collect_at(None)
            self.webhook.notify(result)
            if result.next_wake is not None and not self.stopping.is_set():
                self._wake_at(result.next_wake)
                self._prepare_before(result.next_wake)

    def _give_up(self, why: str) -> None:
        """A damaged ledger cannot be worked around: say so once, tell a person, exit non-zero."""
        log.critical("%s", why)
        self.webhook.alert("the daemon stopped", why)
        self._last_step_ok = False
        self._ping()
        self.exit_code = 1
        self.stopping.set()

    def _wake_at(self, moment: datetime) -> None:
        self.scheduler.add_job(self._step, DateTrigger(run_date=self._real(moment)), id="step", replace_existing=True)

    def _real(self, moment: datetime) -> datetime:
        """The campaign may run on a rehearsal clock: its instant as a real one."""
        return datetime.now(UTC) + (moment - self.clock())

    def _prepare_before(self, wake: datetime) -> None:
        at = max(self.clock(), wake - PREPARE_AHEAD)
        self.scheduler.add_job(
            self._prepare, DateTrigger(run_date=self._real(at)), args=(at,), id="prepare", replace_existing=True
        )

    def _prepare(self, moment: datetime) -> None:
        """Connect the accounts and render the cards of what falls due within the next minute or so."""
        try:
            snapshot = plan.Snapshot.read(self.publisher.ledger)
            coming = plan.deliveries(
                self.publisher.campaign, snapshot, moment, moment + 2 * PREPARE_AHEAD, self.clock()
            )
            self.publisher.prepare(p.delivery for p in coming if p.goes_out)
        except Exception as exc:  # only a head start: the step itself meets any real problem
            log.debug("preparing ahead failed: %s", exc)

    def _collect_at(self, moment: datetime | None) -> None:
        """Fetch engagement counts at `moment`, or (None) when the next falls due."""
        campaign, ledger = self.publisher.campaign, self.publisher.ledger
        if not campaign.stats.collect or self.stopping.is_set():
            return
        if moment is None:
            try:
                moment = engagement.next_due(campaign, ledger, self.clock())
            except Exception as exc:  # the step reports ledger trouble
                log.debug("could not plan the next fetch of counts: %s", exc)
                moment = self.clock() + RETRY_STEP
            if moment is None:
                return
        self.scheduler.add_job(
            self._collect, DateTrigger(run_date=self._real(moment)), id="collect", replace_existing=True
        )

    def _collect(self) -> None:
        """Fetch the counts that fell due, in a thread of their own and never close to a due post."""
        campaign, ledger = self.publisher.campaign, self.publisher.ledger
        if not campaign.stats.collect:  # turned off since this was planned
            return
        step = self.scheduler.get_job("step")
        until_step = step.next_run_time - datetime.now(UTC) if step is not None and step.next_run_time else None
        if until_step is not None and until_step < COLLECT_CLEAR_OF_STEP:
            self._collect_at(self.clock() + until_step + COLLECT_CLEAR_OF_STEP)
            return
        try:
            fetched = engagement.fetch_due(campaign, ledger, self._counter, self.clock)
            if fetched.asked:
                log.info("fetched the counts of %d of %d published deliveries", fetched.stored, fetched.asked)
        except Exception as exc:  # counts can wait; a due post must not
            log.error("fetching counts failed (%s); trying again in %s", exc, RETRY_STEP, exc_info=True)
            self._collect_at(self.clock() + RETRY_STEP)
            return
        self._collect_at(None)

    def _counter(self, account_id: str) -> Platform:
        platform = self._counters.get(account_id)  # a reload may clear them meanwhile
        if platform is None:
            platform = self._counters[account_id] = self.publisher.connect(account_id)
        return platform

    def _follow(self) -> None:
        """Fetch the followed branch; put a new commit live if it passes, else report it once."""
        assert self.follower is not None
        follower = self.follower
        troubled = follower.fetch_error  # the last fetch's failure, already reported
        try:
            found = follower.poll(datetime.now(UTC))
        except repo.GitError as exc:
            if str(exc) != troubled:  # once per new trouble, not every minute
                log.warning(
                    "could not fetch %s (%s); still running %s", follower.settings.branch, exc, follower.live.short
                )
                self._beat()  # `status` says so now, not at the next beat
            return
        except Exception as exc:  # a scratch folder, a key file: the campaign runs on regardless
            log.error(
                "could not check the branch %s (%s); still running %s",
                follower.settings.branch,
                exc,
                follower.live.short,
                exc_info=True,
            )
            return
        if troubled is not None:
            log.info("fetching %s works again", follower.settings.branch)
            self._beat()
        if isinstance(found, follow.Rejection):
            self.webhook.alert("a commit was not put live", follow.announce(found, follower.live))
            self._beat()
        elif found is not None:
            self._go_live(found)

    def _go_live(self, commit: repo.Commit) -> None:
        assert self.follower is not None
        with self.stepping:  # no step renders a card while the checkout changes under it
            self.follower.switch(commit)
            report = content.check(self.config, now=self.clock())
            if report.campaign is not None:
                self.publisher.reload(report.campaign)
                self._counters.clear()
        self._seen = self._stamp()
        self._beat()
        if report.campaign is None:  # it passed in a scratch copy: only a change on this disk explains this
            for problem in report.errors:
                log.error("%s", problem.render(str(self.config)))
            log.error("commit %s does not load here; still running the last valid version", commit.short)
            return
        log.warning("now running commit %s (%d posts)", commit.describe(), len(report.campaign.posts))
        self._wake_at(self.clock())
        self._collect_at(None)

    def _watch(self) -> None:
        stamp_now = self._stamp()
        if stamp_now != self._seen:
            self._seen = stamp_now
            if self.follower is None:
                self.reload("posts.yaml changed")
            elif self.follower.edited_here():
                log.warning(
                    "posts.yaml was edited on this server, but this daemon runs what is pushed to %s: "
                    "commit the change there (the edit here is replaced by the next commit)",
                    self.follower.settings.branch,
                )
        setting = self._pause_setting()
        if setting != self._pause_seen:
            self._pause_seen = setting
            log.info("the kill switch changed: %s", "paused" if setting else "resumed")
            self._wake_at(self.clock())
        if self._healthy():
            health.watchdog()

    def _healthy(self) -> bool:
        began = self._step_began
        return began is None or time.monotonic() - began < HUNG_AFTER

    def _pause_setting(self) -> str | None:
        try:
            return self.publisher.ledger.setting(dispatch.PAUSE_SETTING)
        except Exception as exc:  # the step reports ledger trouble; the watch only looks
            log.debug("could not read the kill switch: %s", exc)
            return self._pause_seen

    def _beat(self) -> None:
        """Tell commands (state/daemon.json) and other daemons (the ledger) that this one is alive."""
        now = datetime.now(UTC)
        advert = dataclasses.replace(
            self._advert,
            beat=now.isoformat(timespec="seconds"),
            git=dataclasses.asdict(self.follower.standing()) if self.follower else None,
        )
        try:
            presence.advertise(self._state, advert)
            self.publisher.ledger.set_setting(f"{presence.SETTING_PREFIX}{advert.host}:{advert.pid}", advert.to_json())
        except Exception as exc:  # the step reports ledger trouble; a missed beat is not news
            log.debug("could not record the daemon's beat: %s", exc)
        health.status(f"live since {self._advert.started[:16]} UTC; last beat {stamp(now)}")

    def _ping(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.ping(self._last_step_ok and self._healthy())

    def reload(self, why: str) -> bool:
        report = content.check(self.config, now=self.clock())
        if report.campaign is None:
            for problem in report.errors:
                log.error("%s", problem.render(str(self.config)))
            log.error("%s: %d errors; still running the last valid version", why, len(report.errors))
            return False
        with self.stepping:
            self.publisher.reload(report.campaign)
            self._counters.clear()
        log.warning("%s: reloaded %s (%d posts)", why, self.config, len(report.campaign.posts))
        self._wake_at(self.clock())
        self._collect_at(None)
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
        """Reload posts.yaml; when following a branch, fetch it now."""
        if self.follower is None:
            threading.Thread(target=self.reload, args=("SIGHUP",), daemon=True).start()
        else:
            self.scheduler.modify_job("follow", next_run_time=datetime.now(UTC))
