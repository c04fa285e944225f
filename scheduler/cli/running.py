"""The daemon command: the campaign run as a service, from posts.yaml or from a branch it follows."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.cli.common import (
    EXIT_PROBLEMS,
    _open,
    _plural,
    _Session,
    _when,
    common_options,
    ledger_option,
    now_option,
)
from scheduler.cli.group import cli
from scheduler.cli.publishing import _outcome_line
from scheduler.errors import SchedulerError
from scheduler.models import format_duration

if TYPE_CHECKING:
    from scheduler.follow import Follower, Settings


def _parse_interval(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    from scheduler.models import parse_duration

    try:
        interval = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if interval < timedelta(seconds=1):
        raise click.BadParameter(f"'{value}' is too short: give at least 1s")
    return interval


@cli.command()
@common_options
@ledger_option
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron and rehearsals).")
@now_option("Run as if it were this time (a rehearsal); the clock runs on from there.")
@click.option(
    "--git",
    "follow_git",
    is_flag=True,
    envvar="SCHEDULER_GIT",
    show_envvar=True,
    help="posts.yaml is in a git checkout this daemon owns: follow its branch, putting live each commit that passes.",
)
@click.option("--branch", default="main", show_default=True, envvar="SCHEDULER_GIT_BRANCH", show_envvar=True)
@click.option("--remote", default="origin", show_default=True, envvar="SCHEDULER_GIT_REMOTE", show_envvar=True)
@click.option(
    "--every",
    default="60s",
    show_default=True,
    callback=_parse_interval,
    envvar="SCHEDULER_GIT_EVERY",
    show_envvar=True,
    help="How often to fetch the branch.",
)
@click.option(
    "--signers",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SCHEDULER_GIT_SIGNERS",
    show_envvar=True,
    help="Run only commits signed by a key listed here (SSH allowed-signers lines, armored GPG public keys).",
)
def daemon(
    config: Path,
    verbose: bool,
    ledger_url: str | None,
    once: bool,
    now: datetime | None,
    follow_git: bool,
    branch: str,
    remote: str,
    every: timedelta,
    signers: Path | None,
) -> None:
    """Run the campaign: deliver each post when it is due, to every enabled account, exactly once.

    On start it prints which accounts are live and which are not (and why), and the next
    deliveries. It logs one line per delivery and per reload; it reloads posts.yaml when it
    changes (or on SIGHUP), keeps running on the last valid version if an edit is broken, notices
    `pause` and `resume` within a second, and stops cleanly on SIGTERM or Ctrl-C. --once exits 1
    when a delivery failed, is unconfirmed, expired, held or waits for a retry.

    With --git it follows a branch instead: it fetches it every --every (and on SIGHUP), checks
    each new commit in full (and its signature, with --signers) before putting it live, and keeps
    running the last good commit when one does not pass, logging its hash, author and problems.
    """
    import logging
    import time

    from scheduler import dispatch, health
    from scheduler.credentials import read_dotenv
    from scheduler.daemon import Daemon
    from scheduler.ledger import LedgerDamagedError

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("scheduler").setLevel(logging.INFO)  # every delivery and reload, whatever -v says
    offset = (now - datetime.now(UTC)) if now is not None else timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    settings = {**read_dotenv(config.resolve().parent), **os.environ}
    webhook = dispatch.Webhook(settings.get("SCHEDULER_WEBHOOK_URL"))
    follower = None
    if follow_git:
        from scheduler.follow import Settings

        follower = _catch_up(config, Settings(branch, every, remote, signers), webhook, clock())
    try:
        session = _open(config, ledger_url, clock(), long_running=True)
    except LedgerDamagedError as exc:
        webhook.alert("the daemon cannot start", str(exc))
        raise
    session.publisher.clock = clock
    # At start, not on the first card due: a server missing libraqm is told at once.
    session.publisher.cards.check_drawing()
    _banner(session, clock())
    if once:
        result = dispatch.step(session.publisher, clock())
        webhook.notify(result)
        for outcome in result.outcomes:
            click.echo(_outcome_line(outcome))
        for delivery in result.expired:
            click.echo(
                f"expired     {delivery.account} {delivery.language} {delivery.post_id} "
                f"(due {_when(delivery.due, session.campaign)})"
            )
        for item in result.held:
            click.echo(
                f"held        {item.delivery.account} {item.delivery.language} {item.delivery.post_id}: {item.note}"
            )
        if result.paused:
            click.echo("paused: nothing was published")
        if session.campaign.stats.collect:
            _collect_once(session)
        sys.exit(EXIT_PROBLEMS if result.troubled else 0)
    try:
        heartbeat = health.Heartbeat.from_environment(settings)
    except ValueError as exc:
        raise SchedulerError(f"SCHEDULER_HEARTBEAT_URL: {exc}") from None
    click.echo(f"Running (pid {os.getpid()}); stop with Ctrl-C or SIGTERM, reload with SIGHUP.")
    started = time.monotonic()
    code = Daemon(config, session.publisher, clock, webhook, heartbeat, follower).run()
    click.echo(f"Stopped after {time.monotonic() - started:.0f} s.")
    sys.exit(code)


def _collect_once(session: _Session) -> None:
    """What the daemon fetches on its own: the counts due a fetch (a failure is reported, not fatal)."""
    from scheduler import engagement

    fetched = engagement.fetch_due(
        session.campaign, session.ledger, session.publisher.platform, session.publisher.clock
    )
    if fetched.asked:
        click.echo(f"counts: fetched {fetched.stored} of {fetched.asked} due")
    for account in fetched.failed:
        click.echo(f"counts of {account.account} failed: {account.error}")


def _catch_up(config: Path, settings: Settings, webhook: Any, now: datetime) -> Follower:
    """Before anything runs: fetch the branch and put its tip live if it passes (a daemon restarted
    to fix a broken start picks up the fix). Unreachable, it runs the commit checked out."""
    from scheduler import files, follow, repo

    follower = follow.Follower(config, settings, files.state_dir(config.resolve().parent))
    try:
        found = follower.poll(now)
    except repo.GitError as exc:
        click.echo(f"Could not fetch {settings.branch} ({exc}); running the commit checked out.", err=True)
        found = None
    if isinstance(found, follow.Rejection):
        webhook.alert("a commit was not put live", follow.announce(found, follower.live))
    elif found is not None:
        follower.switch(found)
    if found is None or isinstance(found, follow.Rejection):
        refusal = follower.signature_problem(follower.live)  # cloned by hand: never vetted
        if refusal:
            raise SchedulerError(f"the checked-out commit {follower.live.describe()} will not run: {refusal}")
    click.echo(
        f"Following {settings.remote}/{settings.branch} every {settings.every.total_seconds():.0f} s; "
        f"live commit {follower.live.describe()}"
    )
    return follower


def _banner(session: _Session, now: datetime) -> None:
    from scheduler import dispatch, plan

    campaign = session.campaign
    click.echo(f"{session.config}: {_plural(len(campaign.posts), 'post')}, timezone {campaign.timezone.key}")
    click.echo(f"  ledger {session.ledger.url.split('@')[-1]}")
    for account_id, account in campaign.accounts.items():
        if not account.enabled:
            click.echo(f"  off   {account_id} ({account.platform}): enabled: false in {session.config.name}")
            continue
        try:
            session.publisher.credentials.for_account(account_id, account.platform)
            click.echo(f"  live  {account_id} ({account.platform})")
        except SchedulerError as exc:
            click.echo(f"  off   {account_id} ({account.platform}): {exc}")
    if campaign.stats.collect:
        after = ", ".join(format_duration(after) for after in campaign.stats.after)
        click.echo(f"  counts fetched {after} after each delivery (stats in {session.config.name})")
    else:
        click.echo(f"  counts: not fetched (stats.collect: false in {session.config.name})")
    if dispatch.paused(campaign, session.ledger, now):
        click.echo("  PAUSED: nothing will be published until resumed")
    coming = plan.upcoming(campaign, plan.Snapshot.read(session.ledger), now, 5)
    click.echo("Next deliveries:" if coming else "Next deliveries: none scheduled")
    for item in coming:
        d = item.delivery
        click.echo(f"  {_when(d.due, campaign)}  {d.post_id} {d.account} {d.language}")
