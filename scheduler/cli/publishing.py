"""Commands that publish or steer publishing: post, status, daemon, pause, resume, accounts."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from scheduler import text
from scheduler.cards import require_shaping
from scheduler.cli.common import (
    EXIT_PROBLEMS,
    _open,
    _parse_now,
    _plural,
    _Session,
    _when,
    common_options,
    ledger_option,
    now_option,
)
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError
from scheduler.models import Campaign, Delivery


@cli.command()
@common_options
@ledger_option
@click.argument("post_id", metavar="ID")
@click.option("--account", "accounts", multiple=True, metavar="ACCOUNT", help="Only this account (repeatable).")
@click.option("--lang", "languages", multiple=True, metavar="LANG", help="Only this language (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show exactly what would be posted; post nothing, record nothing.")
@click.option("--force", is_flag=True, help="Post again what the ledger holds as already published.")
def post(
    config: Path,
    verbose: bool,
    ledger_url: str | None,
    post_id: str,
    accounts: tuple[str, ...],
    languages: tuple[str, ...],
    dry_run: bool,
    force: bool,
) -> None:
    """Post one post now, to its enabled accounts in their languages, through the ledger.

    A one-off or queued post counts as its scheduled delivery, so the daemon will not post it
    again. Refuses what was already published unless --force. Exits 1 if any delivery failed,
    is still waiting for a retry, or could not be confirmed; a refusal is not a failure.
    """
    from scheduler.ledger import PUBLISHED
    from scheduler.publish import Refusal, plan_manual

    now = datetime.now(UTC)
    session = _open(config, ledger_url, now)
    unknown = [a for a in accounts if a not in session.campaign.accounts]
    if unknown:
        raise click.BadParameter(f"no account {', '.join(unknown)} in {config}", param_hint="--account")
    plans = plan_manual(session.campaign, session.ledger, post_id, accounts, languages, now, force=force)
    if not plans:
        raise SchedulerError(f"post {post_id} has nothing to deliver to the accounts and languages given")
    require_shaping()
    problems = 0
    for plan in plans:
        if isinstance(plan, Refusal):
            click.echo(f"refused     {plan.delivery.account} {plan.delivery.language}: {plan.reason}")
        elif dry_run:
            _show_dry_run(session, plan)
        else:
            outcome = session.publisher.deliver_patiently(plan, "manual", patience=timedelta(minutes=2))
            click.echo(_outcome_line(outcome))
            problems += outcome.state != PUBLISHED
    sys.exit(EXIT_PROBLEMS if problems else 0)


def _show_dry_run(session: _Session, delivery: Delivery) -> None:
    account = session.campaign.accounts[delivery.account]
    outgoing = session.publisher.outgoing(delivery)
    click.echo(
        f"would post  {delivery.account} ({account.platform}) {delivery.language}, "
        f"due {_when(delivery.due, session.campaign)}:"
    )
    for index, part in enumerate(outgoing.parts, 1):
        count = text.length(account.platform, part)
        limit = text.LIMITS.get(account.platform)
        measure = f"{count}/{limit.length}" if limit else f"{count}"
        label = f"part {index}/{len(outgoing.parts)}" if len(outgoing.parts) > 1 else "text"
        click.echo(f"  {label} ({measure}): {part}")
    if outgoing.image is not None:
        image = outgoing.image
        click.echo(f"  image: {image.mime}, {len(image.data):,} bytes, {image.width}x{image.height}")
        click.echo(f"  alt: {image.alt}")


def _outcome_line(outcome: Any) -> str:
    delivery = outcome.delivery
    where = " ".join(outcome.urls)
    detail = f" ({outcome.error})" if outcome.error else ""
    if outcome.retry_at is not None and outcome.state == "pending":
        detail += f"; next try at {outcome.retry_at:%H:%M:%S} UTC"
    note = "" if outcome.acted else " [already recorded]"
    return f"{outcome.state:<11} {delivery.account} {delivery.language} {where}{detail}{note}".rstrip()


@cli.command()
@common_options
@ledger_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", default=20, show_default=True, help="How many recent and upcoming deliveries to list.")
@now_option("As of this time, for rehearsals.")
def status(
    config: Path, verbose: bool, ledger_url: str | None, as_json: bool, limit: int, now: datetime | None
) -> None:
    """The next deliveries (local time and UTC, account, language), then the recent ones with their
    state, URLs and errors, newest first; and whether publishing is paused."""
    from scheduler import dispatch

    moment = now or datetime.now(UTC)
    session = _open(config, ledger_url, moment)
    records = session.ledger.records(limit=limit)
    coming = dispatch.upcoming(session.campaign, session.ledger, moment, limit)
    is_paused = dispatch.paused(session.campaign, session.ledger, moment)
    late = [
        r
        for r in session.ledger.records(states=("pending", "claimed"))
        if moment - r.delivery.due > dispatch.ALERT_AFTER
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "paused": is_paused,
                    "upcoming": [_delivery_json(d, session.campaign) for d in coming],
                    "late": [_record_json(r, session.campaign) for r in late],
                    "recent": [_record_json(r, session.campaign) for r in records],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if is_paused:
        click.echo("PAUSED: nothing is being published (resume with: run.py resume)")
    click.echo("Next deliveries:" if coming else "Next deliveries: none scheduled")
    for delivery in coming:
        click.echo(
            f"  {_when(delivery.due, session.campaign)}  {delivery.post_id} {delivery.account} {delivery.language}"
        )
    for record in late:
        click.echo(
            f"LATE: {record.delivery.post_id} {record.delivery.account} {record.delivery.language} was due "
            f"{_when(record.delivery.due, session.campaign)} and is still {record.state}"
        )
    click.echo("Recent deliveries:" if records else "No deliveries recorded yet.")
    for record in records:
        delivery = record.delivery
        click.echo(
            f"  {record.state:<11} {_when(delivery.due, session.campaign)}  {delivery.post_id} "
            f"{delivery.account} {delivery.language}"
        )
        for url in record.urls:
            click.echo(f"      {url}")
        if record.error:
            click.echo(f"      {record.error}")


def _delivery_json(delivery: Delivery, campaign: Campaign) -> dict[str, Any]:
    return {
        "post": delivery.post_id,
        "account": delivery.account,
        "language": delivery.language,
        "due_utc": delivery.due.isoformat().replace("+00:00", "Z"),
        "due_local": delivery.due.astimezone(campaign.timezone).isoformat(),
    }


def _record_json(record: Any, campaign: Campaign) -> dict[str, Any]:
    return {
        **_delivery_json(record.delivery, campaign),
        "state": record.state,
        "origin": record.origin,
        "attempts": record.attempts,
        "urls": record.urls,
        "error": record.error,
        "retry_at": record.retry_at.isoformat() if record.retry_at else None,
    }


@cli.command()
@common_options
@ledger_option
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron and rehearsals).")
@now_option("Run as if it were this time (a rehearsal); the clock runs on from there.")
def daemon(config: Path, verbose: bool, ledger_url: str | None, once: bool, now: datetime | None) -> None:
    """Run the campaign: deliver each post when it is due, to every enabled account, exactly once.

    On start it prints which accounts are live and which are not (and why), and the next
    deliveries. It reloads posts.yaml when it changes (or on SIGHUP), keeps running on the last
    valid version if an edit is broken, and stops cleanly on SIGTERM or Ctrl-C.
    """
    import time

    from scheduler import dispatch
    from scheduler.daemon import Daemon

    offset = (now - datetime.now(UTC)) if now is not None else timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    session = _open(config, ledger_url, clock())
    session.publisher.clock = clock
    require_shaping()
    _banner(session, clock())
    webhook = dispatch.Webhook(os.environ.get("SCHEDULER_WEBHOOK_URL"))
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
        if result.paused:
            click.echo("paused: nothing was published")
        bad = [o for o in result.outcomes if o.state in ("failed", "unconfirmed")]
        sys.exit(EXIT_PROBLEMS if bad or result.expired else 0)
    click.echo(f"Running (pid {os.getpid()}); stop with Ctrl-C or SIGTERM, reload with SIGHUP.")
    started = time.monotonic()
    Daemon(config, session.publisher, clock, webhook).run()
    click.echo(f"Stopped after {time.monotonic() - started:.0f} s.")


def _banner(session: _Session, now: datetime) -> None:
    from scheduler import dispatch

    campaign = session.campaign
    click.echo(f"{session.config}: {_plural(len(campaign.posts), 'post')}, timezone {campaign.timezone.key}")
    for account_id, account in campaign.accounts.items():
        if not account.enabled:
            click.echo(f"  off   {account_id} ({account.platform}): enabled: false in {session.config.name}")
            continue
        try:
            session.publisher.credentials.for_account(account_id, account.platform)
            click.echo(f"  live  {account_id} ({account.platform})")
        except SchedulerError as exc:
            click.echo(f"  off   {account_id} ({account.platform}): {exc}")
    if dispatch.paused(campaign, session.ledger, now):
        click.echo("  PAUSED: nothing will be published until resumed")
    coming = dispatch.upcoming(campaign, session.ledger, now, 5)
    click.echo("Next deliveries:" if coming else "Next deliveries: none scheduled")
    for delivery in coming:
        click.echo(f"  {_when(delivery.due, campaign)}  {delivery.post_id} {delivery.account} {delivery.language}")


@cli.command()
@common_options
@ledger_option
@click.option(
    "--until",
    "until",
    callback=_parse_now,
    metavar="ISO",
    help="Resume by itself at this time (e.g. 2026-12-01T18:00-05:00).",
)
def pause(config: Path, verbose: bool, ledger_url: str | None, until: datetime | None) -> None:
    """The kill switch: stop all publishing now, by every daemon sharing this ledger.

    A request already in flight finishes. What falls due while paused still goes out after
    `resume` if its max_late allows; later than that, it is expired.
    """
    from scheduler import dispatch
    from scheduler.ledger import stamp

    session = _open(config, ledger_url, datetime.now(UTC))
    session.ledger.set_setting(dispatch.PAUSE_SETTING, stamp(until) if until else dispatch.FOREVER)
    when = f" until {_when(until, session.campaign)}" if until else " until you run: run.py resume"
    click.echo(f"Paused{when}.")


@cli.command()
@common_options
@ledger_option
def resume(config: Path, verbose: bool, ledger_url: str | None) -> None:
    """Lift a pause made with `pause` (a `paused: true` in posts.yaml must be removed there)."""
    from scheduler import dispatch

    session = _open(config, ledger_url, datetime.now(UTC))
    session.ledger.set_setting(dispatch.PAUSE_SETTING, None)
    still = " but posts.yaml still says paused: true" if session.campaign.paused else ""
    click.echo(f"Resumed{still}.")


@cli.group()
def accounts() -> None:
    """The accounts in posts.yaml."""


@accounts.command("check")
@common_options
def accounts_check(config: Path, verbose: bool) -> None:
    """Log in to every enabled account and report who it is, posting nothing. Exit 1 if any fails."""
    session = _open(config, None, datetime.now(UTC))
    failed = 0
    for account_id, account in session.campaign.accounts.items():
        if not account.enabled:
            click.echo(f"disabled  {account_id} ({account.platform}): enabled: false in {config.name}")
            continue
        try:
            who = session.publisher.platform(account_id).check()
            click.echo(f"ok        {account_id} ({account.platform}): {who}")
        except SchedulerError as exc:
            failed += 1
            click.echo(f"FAILED    {account_id} ({account.platform}): {exc}")
    sys.exit(EXIT_PROBLEMS if failed else 0)
