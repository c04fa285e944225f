"""Commands that bring engagement back: stats (fetch the counts now) and report (the page with charts)."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
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
    counts_json,
    ledger_option,
    now_option,
    utc,
)
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError

if TYPE_CHECKING:
    from scheduler import report as report_page
    from scheduler.engagement import Fetch
    from scheduler.ledger import Record
    from scheduler.models import Post
    from scheduler.platforms.base import Counts

    Latest = tuple[datetime, Counts]  # a delivery's last fetch: when, and what it found


@cli.command()
@common_options
@ledger_option
@click.option("--account", "accounts", multiple=True, metavar="ACCOUNT", help="Only this account (repeatable).")
@click.option("--due", "only_due", is_flag=True, help="Only what is due a fetch, as the daemon fetches it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@now_option("As of this time, for rehearsals.")
def stats(
    config: Path,
    verbose: bool,
    ledger_url: str | None,
    accounts: tuple[str, ...],
    only_due: bool,
    as_json: bool,
    now: datetime | None,
) -> None:
    """Fetch the likes, reposts, replies and quotes of the published deliveries now, store them in the
    ledger (each fetch is kept, so counts have a history), and print them.

    Mastodon counts what the account's own server has seen; Bluesky counts come from the AppView
    (accounts.*.appview); X is read only within stats.x_reads_per_month, because X charges for every
    post read, and this says what was spent. An outbox has no counts. One platform failing does not
    stop the others; the command then exits 1.
    """
    from scheduler import engagement

    moment = now or datetime.now(UTC)
    session = _open(config, ledger_url, moment)
    campaign, ledger = session.campaign, session.ledger
    unknown = sorted(set(accounts) - set(campaign.accounts))
    if unknown:
        raise click.BadParameter(f"no account {', '.join(unknown)} in {config}", param_hint="--account")
    candidates = engagement.due(campaign, ledger, moment) if only_due else _published(session)
    chosen = [r for r in candidates if r.delivery.account in (accounts or campaign.accounts)]
    result = engagement.fetch(
        campaign, ledger, session.publisher.platform, chosen, moment, lambda: now or datetime.now(UTC)
    )
    latest = ledger.latest_counts()
    month_reads = engagement.x_reads(ledger, moment)
    x_read_now = sum(a.x_reads for a in result.accounts)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "deliveries": [_row_json(r, latest.get(r.delivery.key)) for r in chosen],
                    "accounts": [
                        {**dataclasses.asdict(a), "not_before": utc(a.not_before) if a.not_before else None}
                        for a in result.accounts
                    ],
                    "x": {
                        "read_now": x_read_now,
                        "read_this_month": month_reads,
                        "budget_per_month": campaign.stats.x_reads_per_month,
                        "cost_this_month": str(engagement.x_cost(campaign, month_reads)),
                        "currency": campaign.x_prices.currency,
                    },
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        _print_stats(session, chosen, latest, result)
        if any(campaign.accounts[a].platform == "x" for a in campaign.accounts):
            prices = campaign.x_prices
            click.echo(
                f"X reads: {x_read_now} now; {month_reads} this month (budget {campaign.stats.x_reads_per_month}), "
                f"about {engagement.x_cost(campaign, month_reads):.3f} {prices.currency} at {prices.owned_read} "
                "per post read (x_prices.owned_read)"
            )
    if result.failed:
        sys.exit(EXIT_PROBLEMS)


def _published(session: _Session) -> list[Record]:
    from scheduler.ledger import PUBLISHED

    return [r for r in session.ledger.records(states=(PUBLISHED,), newest_first=False) if r.parts]


def _print_stats(session: _Session, chosen: list[Record], latest: dict[str, Latest], result: Fetch) -> None:
    from scheduler import engagement

    campaign = session.campaign
    if not chosen:
        click.echo("No published deliveries to fetch counts for.")
    for record in chosen:
        d = record.delivery
        found = latest.get(d.key)
        counts = f"{engagement.describe(found[1])} (fetched {_when(found[0], campaign)})" if found else "no counts"
        click.echo(f"{d.post_id} {d.account} {d.language}, went out {_when(record.updated_at, campaign)}: {counts}")
        click.echo(f"    {record.urls[0]}")
    for fetched in result.accounts:
        line = f"{fetched.account} ({fetched.platform}): {_plural(fetched.stored, 'post')} counted"
        if fetched.error:
            line += f"; FAILED: {fetched.error}"
            if fetched.not_before:
                line += f"; next try after {_when(fetched.not_before, campaign)}"
        elif fetched.note:
            line += f"; {fetched.note}"
        click.echo(line)


def _row_json(record: Record, latest: Latest | None) -> dict[str, Any]:
    d = record.delivery
    return {
        "post_id": d.post_id,
        "account": d.account,
        "language": d.language,
        "due_utc": utc(d.due),
        "published_utc": utc(record.updated_at),
        "url": record.urls[0],
        "counts": counts_json(latest),
    }


@cli.command()
@common_options
@ledger_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write.  [default: report/ beside posts.yaml]",
)
@click.option("--csv", "with_csv", is_flag=True, help="Also write engagement.csv, one line per delivery.")
@now_option("As of this time, for rehearsals.")
def report(
    config: Path, verbose: bool, ledger_url: str | None, out: Path | None, with_csv: bool, now: datetime | None
) -> None:
    """Write OUT/index.html: how the published posts did, from the counts stored by stats and the daemon.

    Charts of engagement per post (slogan, excerpt or text alone), per language side by side, per
    platform, by hour of day and weekday, and over time; the top posts with their cards; every
    delivery in a table. It works offline: no script, no external file. --csv also writes the numbers.
    """
    from scheduler import report as report_page

    moment = now or datetime.now(UTC)
    session = _open(config, ledger_url, moment)
    rows, skipped = _report_rows(session)
    target = out if out is not None else session.project / "report"
    index = report_page.build(
        rows, target, timezone=session.campaign.timezone, title=f"Engagement: {config.name}", now=moment, csv=with_csv
    )
    counted = sum(1 for row in rows if row.history)
    click.echo(f"Wrote {index}: {_plural(len(rows), 'delivery', 'deliveries')}, {counted} with counts")
    if with_csv:
        click.echo(f"Wrote {index.parent / 'engagement.csv'}")
    if skipped:
        click.echo(f"Left out {_plural(skipped, 'delivery', 'deliveries')} of accounts no longer in {config.name}")


def _report_rows(session: _Session) -> tuple[list[report_page.Row], int]:
    """A row per published delivery: its post's kind, text and card as they went out (while the post
    still shows what was published), and its snapshots."""
    from scheduler import report as report_page
    from scheduler import text
    from scheduler.cards import specs_for

    campaign, publisher = session.campaign, session.publisher
    posts = {post.id: post for post in campaign.posts}
    history = session.ledger.snapshots()
    rows, skipped = [], 0
    for record in _published(session):
        d = record.delivery
        account = campaign.accounts.get(d.account)
        if account is None:
            skipped += 1
            continue
        post = posts.get(d.post_id)
        words, card = "(no longer in posts.yaml)", None
        if post is not None and record.fingerprint not in (None, publisher.fingerprint(d)):
            words = "(changed in posts.yaml since it went out)"
        elif post is not None and d.language in post.text:
            words = text.compose(post, d.language)
            spec = specs_for(campaign, post, session.project).get(d.language)
            try:
                card = publisher.cards.thumbnail(spec) if spec is not None else None
            except (SchedulerError, OSError):  # the page is still worth having without the picture
                card = None
        rows.append(
            report_page.Row(
                post_id=d.post_id,
                kind=_kind(post),
                language=d.language,
                account=d.account,
                platform=account.platform,
                published=record.updated_at,
                url=record.urls[0],
                text=words,
                card=card,
                history=tuple(report_page.Snapshot(at, counts) for at, counts in history.get(d.key, [])),
            )
        )
    return rows, skipped


def _kind(post: Post | None) -> str:
    if post is None or post.card is None:
        return "text"
    return "slogan" if post.card.slogan is not None else "excerpt"
