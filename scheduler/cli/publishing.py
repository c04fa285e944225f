"""Commands that publish or steer publishing by hand: post, status, pause, resume, backup, accounts."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler import text
from scheduler.cli.common import (
    EXIT_PROBLEMS,
    _open,
    _parse_now,
    _Session,
    _when,
    common_options,
    counts_json,
    ledger_option,
    now_option,
    resolve_ledger_url,
    utc,
)
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError
from scheduler.models import AccountBase, Campaign, Delivery, OutboxAccount

if TYPE_CHECKING:
    from scheduler.platforms.base import Counts


@cli.command()
@common_options
@ledger_option
@click.argument("post_id", metavar="ID")
@click.option("--account", "accounts", multiple=True, metavar="ACCOUNT", help="Only this account (repeatable).")
@click.option("--lang", "languages", multiple=True, metavar="LANG", help="Only this language (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show exactly what would be posted; post nothing, record nothing.")
@click.option("--force", is_flag=True, help="Post again what already went out, or what is held as a repeat.")
@click.option("--ignore-pause", is_flag=True, help="Post even though publishing is paused (the kill switch).")
def post(
    config: Path,
    verbose: bool,
    ledger_url: str | None,
    post_id: str,
    accounts: tuple[str, ...],
    languages: tuple[str, ...],
    dry_run: bool,
    force: bool,
    ignore_pause: bool,
) -> None:
    """Post one post now, to its enabled accounts in their languages, through the ledger.

    A one-off or queued post counts as its scheduled delivery, so the daemon will not post it
    again. Refuses what was already published, or is held as a repeat of what was, unless --force;
    refuses everything while publishing is paused, unless --ignore-pause. Exits 1 if any delivery
    failed, is still waiting for a retry, or could not be confirmed; a refusal is not a failure.
    """
    from scheduler import dispatch
    from scheduler.ledger import PUBLISHED
    from scheduler.publish import Refusal, plan_manual

    now = datetime.now(UTC)
    session = _open(config, ledger_url, now, beside_daemon=True)
    unknown = [a for a in accounts if a not in session.campaign.accounts]
    if unknown:
        raise click.BadParameter(f"no account {', '.join(unknown)} in {config}", param_hint="--account")
    if not dry_run and not ignore_pause and dispatch.paused(session.campaign, session.ledger, now):
        raise SchedulerError(
            f"publishing is paused ({_pause_reason(session)}): nothing was posted. "
            "Resume first (run.py resume), or post anyway with --ignore-pause"
        )
    plans = plan_manual(
        session.campaign,
        session.ledger,
        post_id,
        accounts,
        languages,
        now,
        force=force,
        reopen=not dry_run,
        include_disabled=dry_run,
    )
    if not plans:
        raise SchedulerError(f"post {post_id} has nothing to deliver to the accounts and languages given")
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


def _pause_reason(session: _Session) -> str:
    from scheduler import dispatch

    if session.campaign.paused:
        return f"paused: true in {session.config.name}"
    until = session.ledger.setting(dispatch.PAUSE_SETTING)
    return "by run.py pause" + (f", until {until}" if until and until != dispatch.FOREVER else "")


def _show_dry_run(session: _Session, delivery: Delivery) -> None:
    account = session.campaign.accounts[delivery.account]
    outgoing = session.publisher.outgoing(delivery)
    verdict = "would post " if account.enabled else "disabled   "
    once = "" if account.enabled else " (account disabled: this is what it would get once enabled)"
    click.echo(
        f"{verdict} {delivery.account} ({account.platform}) {delivery.language}, "
        f"due {_when(delivery.due, session.campaign)}{once}:"
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
    """Which daemon is live, whether publishing is paused, the next deliveries (local time and UTC,
    account, language), what is held or late, then the recent deliveries newest first: their state,
    when they were due and when they went out, URLs and errors, and the latest engagement counts."""
    from scheduler import dispatch, engagement, plan, presence

    moment = now or datetime.now(UTC)
    session = _open(config, ledger_url, moment, beside_daemon=True)
    campaign, ledger = session.campaign, session.ledger
    snapshot = plan.Snapshot.read(ledger)
    records = ledger.records(limit=limit)
    counts = ledger.latest_counts()
    troubles = engagement.troubles(ledger)
    coming = plan.upcoming(campaign, snapshot, moment, limit)
    held = plan.held(campaign, snapshot, moment)
    daemons = presence.live_daemons(ledger.settings_named(presence.SETTING_PREFIX), datetime.now(UTC))
    is_paused = dispatch.paused(campaign, ledger, moment)
    late = [r for r in ledger.records(states=("pending", "claimed")) if moment - r.delivery.due > dispatch.ALERT_AFTER]
    if as_json:
        report = {
            "daemons": [dataclasses.asdict(d) for d in daemons],
            "paused": is_paused,
            "upcoming": [_delivery_json(p.delivery, campaign) for p in coming],
            "held": [{**_delivery_json(p.delivery, campaign), "reason": p.note} for p in held],
            "late": [_record_json(r, campaign) for r in late],
            "recent": [
                {**_record_json(r, campaign), "counts": counts_json(counts.get(r.delivery.key))} for r in records
            ],
            "counts_failing": {
                account: {"error": t.error, "next_try_utc": utc(t.not_before)} for account, t in troubles.items()
            },
        }
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for daemon in daemons:
        click.echo(f"Daemon: {daemon.describe()}, ledger {daemon.ledger}")
        if daemon.git is not None:
            _show_branch(daemon.git)
    if not daemons:
        click.echo(f"Daemon: none is running on this ledger ({presence.public_url(ledger.url)})")
    if is_paused:
        click.echo(f"PAUSED ({_pause_reason(session)}): nothing is being published (resume with: run.py resume)")
    click.echo("Next deliveries:" if coming else "Next deliveries: none scheduled")
    for item in coming:
        d = item.delivery
        click.echo(f"  {_when(d.due, campaign)}  {d.post_id} {d.account} {d.language}")
    for item in held:
        d = item.delivery
        click.echo(f"HELD: {d.post_id} {d.account} {d.language} due {_when(d.due, campaign)}: {item.note}")
    for record in late:
        click.echo(
            f"LATE: {record.delivery.post_id} {record.delivery.account} {record.delivery.language} was due "
            f"{_when(record.delivery.due, campaign)} and is still {record.state}"
        )
    click.echo("Recent deliveries:" if records else "No deliveries recorded yet.")
    for record in records:
        delivery = record.delivery
        went = (
            f", went out {_when(record.updated_at, campaign)}" if record.state in ("published", "unconfirmed") else ""
        )
        click.echo(
            f"  {record.state:<11} {delivery.post_id} {delivery.account} {delivery.language}: "
            f"due {_when(delivery.due, campaign)}{went}"
        )
        for url in record.urls:
            click.echo(f"      {url}")
        if record.error:
            click.echo(f"      {record.error}")
        if record.state == "published" and delivery.account in campaign.accounts:
            click.echo(f"      {_counts_line(counts.get(delivery.key), campaign, campaign.accounts[delivery.account])}")
    for account, trouble in troubles.items():
        click.echo(
            f"COUNTS FAILING for {account}: {trouble.error}; next try after {_when(trouble.not_before, campaign)}"
        )


def _counts_line(latest: tuple[datetime, Counts] | None, campaign: Campaign, account: AccountBase) -> str:
    from scheduler import engagement

    if isinstance(account, OutboxAccount):
        return "counts: none (an outbox is read by nobody)"
    if latest is None:
        return "counts: not fetched yet"
    fetched, found = latest
    return f"counts: {engagement.describe(found)} (fetched {_when(fetched, campaign)})"


def _show_branch(standing: dict[str, Any]) -> None:
    """The branch a daemon follows: the live commit, the last fetch, a newer commit it would not run."""
    fetched = standing.get("fetched")
    when = f"fetched {fetched[:19].replace('T', ' ')} UTC" if fetched else "not fetched yet"
    click.echo(
        f"  following {standing['branch']}: live commit {standing['commit'][:12]} by {standing['author']} "
        f"({standing['subject']}), {when}"
    )
    if standing.get("fetch_error"):
        click.echo(f"  FETCH FAILING: {standing['fetch_error']}")
    rejected = standing.get("rejected")
    if rejected:
        problems = rejected.get("problems") or ["rejected"]
        click.echo(
            f"  REJECTED newer commit {rejected['commit'][:12]} by {rejected['author']} ({rejected['subject']}), "
            f"seen {rejected['seen'][:19].replace('T', ' ')} UTC: {len(problems)} problem(s); fix them and push again:"
        )
        for problem in problems:
            click.echo(f"    {problem}")


def _delivery_json(delivery: Delivery, campaign: Campaign) -> dict[str, Any]:
    return {
        "post": delivery.post_id,
        "account": delivery.account,
        "language": delivery.language,
        "due_utc": utc(delivery.due),
        "due_local": delivery.due.astimezone(campaign.timezone).isoformat(),
    }


def _record_json(record: Any, campaign: Campaign) -> dict[str, Any]:
    went_out = record.state in ("published", "unconfirmed")
    return {
        **_delivery_json(record.delivery, campaign),
        "state": record.state,
        "origin": record.origin,
        "attempts": record.attempts,
        "published_utc": utc(record.updated_at) if went_out else None,
        "urls": record.urls,
        "error": record.error,
        "retry_at": record.retry_at.isoformat() if record.retry_at else None,
    }


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
    """The kill switch: stop all publishing now, by every daemon sharing this ledger and by `post`.

    A running daemon notices within a second; a request already in flight finishes. What falls due
    while paused still goes out after `resume` if its max_late allows; later than that, it is expired.
    """
    from scheduler import dispatch
    from scheduler.ledger import stamp

    session = _open(config, ledger_url, datetime.now(UTC), beside_daemon=True)
    session.ledger.set_setting(dispatch.PAUSE_SETTING, stamp(until) if until else dispatch.FOREVER)
    when = f" until {_when(until, session.campaign)}" if until else " until you run: run.py resume"
    click.echo(f"Paused{when}.")
    click.echo(f"  ledger {session.ledger.url.split('@')[-1]}; a running daemon stops publishing within a second")


@cli.command()
@common_options
@ledger_option
def resume(config: Path, verbose: bool, ledger_url: str | None) -> None:
    """Lift a pause made with `pause` (a `paused: true` in posts.yaml must be removed there).

    A running daemon notices within a second and sends what fell due while paused, if its max_late allows.
    """
    from scheduler import dispatch

    session = _open(config, ledger_url, datetime.now(UTC), beside_daemon=True)
    session.ledger.set_setting(dispatch.PAUSE_SETTING, None)
    still = " but posts.yaml still says paused: true" if session.campaign.paused else ""
    click.echo(f"Resumed{still}.")
    where = session.ledger.url.split("@")[-1]
    click.echo(f"  ledger {where}; what fell due while paused goes out if its max_late allows")


@cli.command()
@common_options
@ledger_option
@click.argument("destination", metavar="DEST")
def backup(config: Path, verbose: bool, ledger_url: str | None, destination: str) -> None:
    """Write a consistent copy of the ledger to DEST (a new file, or a folder), even while a daemon runs.

    The copy holds everything, including what is not yet checkpointed from SQLite's write-ahead
    log (a plain copy of ledger.sqlite3 would miss it). For a PostgreSQL ledger it says how to
    use pg_dump. Restore: stop the daemon, put the copy in the ledger's place, start it again.
    """
    from scheduler.ledger import backup as copy_ledger

    url = resolve_ledger_url(config, ledger_url)
    target = Path(destination)
    if destination.endswith("/"):
        target.mkdir(parents=True, exist_ok=True)
    written, size = copy_ledger(url, target)
    click.echo(f"Backed up the ledger {url.split('@')[-1]} to {written} ({size:,} bytes)")


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
