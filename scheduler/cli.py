"""The commands. The only module that prints or exits; each command is a thin layer over the library."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scheduler import content, files, text, timeline
from scheduler.cards import CardStore, require_shaping
from scheduler.errors import SchedulerError
from scheduler.models import Campaign, Delivery

if TYPE_CHECKING:  # the publishing machinery loads only for the commands that publish
    from scheduler.ledger import Ledger
    from scheduler.publish import Publisher

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PROBLEMS = 1
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO time such as 2026-12-01T09:00-05:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"'{value}' has no UTC offset; add one, e.g. {value}-05:00 or {value}Z")
    return moment


def now_option(help_text: str) -> Callable[[F], F]:
    return click.option("--now", callback=_parse_now, metavar="ISO", help=help_text)


def common_options(command: F) -> F:
    """--config, -v and --debug, which every command takes, and the error handling they share."""

    @click.option(
        "--config",
        "config",
        type=click.Path(path_type=Path),
        default=Path("posts.yaml"),
        envvar="SCHEDULER_CONFIG",
        show_default=True,
        show_envvar=True,
        help="The campaign file.",
    )
    @click.option("-v", "--verbose", is_flag=True, help="Say more.")
    @click.option("--debug", is_flag=True, help="Show the full traceback of an unexpected error.")
    @click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per log line, for log collectors.",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, verbose: bool, debug: bool, log_format: str, **kwargs: Any) -> Any:
        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter()
            if log_format == "json"
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        logging.basicConfig(
            level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
            handlers=[handler],
            force=True,
        )
        # APScheduler narrates every wake-up at INFO: only its problems are news.
        logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.WARNING)
        try:
            return command(*args, verbose=verbose, **kwargs)
        except SchedulerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_PROBLEMS)
        except Exception as exc:  # a bug: say so in one line unless asked for the traceback
            if debug:
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)", err=True)
            sys.exit(EXIT_PROBLEMS)

    return wrapper  # type: ignore[return-value]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="slogan-scheduler")
def cli() -> None:
    """Render bilingual slogan cards and post statement excerpts on a schedule, exactly once.

    Everything is driven by one file, posts.yaml. Start with `validate`.
    """


@cli.command()
@common_options
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@now_option("Check as if it were this time (e.g. 2026-12-01T09:00-05:00), for rehearsals.")
def validate(config: Path, verbose: bool, strict: bool, now: datetime | None) -> None:
    """Check posts.yaml and print every problem at once, as FILE:LINE:COL: KEY.PATH: MESSAGE.

    Exits 1 when there are errors (or warnings, with --strict), else 0. With -v it also prints
    when each post goes out, in local time and UTC.
    """
    moment = now or datetime.now(UTC)
    report = content.check(config, now=moment)
    name = str(config)
    for problem in report.problems:
        click.echo(problem.render(name))
    errors, warnings = len(report.errors), len(report.warnings)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    campaign = report.campaign
    if campaign is None:
        click.echo(f"{name}: {counts}")
        sys.exit(EXIT_PROBLEMS)
    enabled = sum(1 for a in campaign.accounts.values() if a.enabled)
    click.echo(
        f"{name}: {_plural(len(campaign.posts), 'post')}, {_plural(len(campaign.accounts), 'account')} "
        f"({enabled} enabled), languages {', '.join(campaign.languages)}; {counts}"
    )
    if verbose:
        _print_schedule(campaign, moment)
    if strict and warnings:
        sys.exit(EXIT_PROBLEMS)


@cli.command()
@common_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the preview to.  [default: preview/ beside posts.yaml]",
)
@now_option("Preview the campaign as of this time.")
def preview(config: Path, verbose: bool, out: Path | None, now: datetime | None) -> None:
    """Render every card and write OUT/index.html: the campaign as each platform will get it.

    The page shows a calendar, then each post in time order with its local time and UTC, each
    account's exact text counted against its platform's limit (over-limit in red), every card
    with its alt text, and every warning. It works offline.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scheduler import preview as preview_page

    moment = now or datetime.now(UTC)
    report = content.check(config, now=moment)
    campaign = _campaign_or_exit(report, str(config))
    require_shaping()
    root = config.resolve().parent
    store = CardStore(files.state_dir(root) / "cards")
    target = out if out is not None else root / "preview"
    columns = (TextColumn("Rendering cards"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_stderr_console(), transient=True) as progress:
        task = progress.add_task("cards", total=None)
        result = preview_page.build(
            campaign,
            root,
            target,
            store,
            moment,
            report.problems,
            config.name,
            on_card=lambda done, total: progress.update(task, completed=done, total=total),
        )
    click.echo(
        f"Wrote {result.index}: {_plural(result.occurrences, 'post occurrence')}, "
        f"{_plural(result.deliveries, 'delivery', 'deliveries')}, {_plural(result.cards, 'card')} "
        f"({result.rendered} rendered, {result.cards - result.rendered} from the cache); "
        f"{_plural(len(report.warnings), 'warning')}"
    )


def ledger_option(command: F) -> F:
    option = click.option(
        "--ledger",
        "ledger_url",
        envvar="SCHEDULER_LEDGER",
        show_envvar=True,
        metavar="URL",
        help="Ledger database URL.  [default: sqlite:///state/ledger.sqlite3 beside posts.yaml]",
    )
    return option(command)


@dataclass
class _Session:
    """What the publishing commands share: the campaign, its ledger, its cards and credentials."""

    config: Path
    report: content.Report
    campaign: Campaign
    project: Path
    ledger: Ledger
    publisher: Publisher


def _request_timeout() -> float:
    """Seconds each platform request may take ($SCHEDULER_REQUEST_TIMEOUT, default 30)."""
    raw = os.environ.get("SCHEDULER_REQUEST_TIMEOUT", "30")
    try:
        seconds = float(raw)
    except ValueError:
        raise SchedulerError(f"SCHEDULER_REQUEST_TIMEOUT is '{raw}'; give a number of seconds") from None
    if not 1 <= seconds <= 600:
        raise SchedulerError(f"SCHEDULER_REQUEST_TIMEOUT is {raw}; give between 1 and 600 seconds")
    return seconds


def _open(config: Path, ledger_url: str | None, now: datetime) -> _Session:
    from scheduler.credentials import Credentials, install_redaction
    from scheduler.ledger import Ledger, default_url
    from scheduler.publish import Publisher

    report = content.check(config, now=now)
    campaign = _campaign_or_exit(report, str(config))
    project = config.resolve().parent
    state = files.state_dir(project)
    credentials = Credentials.load(project, os.environ)
    install_redaction(credentials.secrets_of((a, acc.platform) for a, acc in campaign.accounts.items()))
    ledger = Ledger(ledger_url or default_url(project))
    publisher = Publisher(
        campaign,
        project,
        ledger,
        CardStore(state / "cards"),
        credentials,
        state / "sessions",
        clock=lambda: datetime.now(UTC),
        timeout=_request_timeout(),
    )
    return _Session(config, report, campaign, project, ledger, publisher)


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


def _when(instant: datetime, campaign: Campaign) -> str:
    return f"{instant.astimezone(campaign.timezone):%a %Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%H:%M} UTC)"


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


# Checked in callbacks, not in the command, so a usage error exits 2 like click's own.
def _one_or_two_files(ctx: click.Context, files: tuple[Path, ...]) -> tuple[Path, ...]:
    if len(files) > 2:
        ctx.fail("give one statement file, or one file per language")
    return files


def _two_languages(ctx: click.Context, value: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in value.split(",") if code.strip())
    if len(codes) != 2 or codes[0] == codes[1]:
        ctx.fail(f"--langs: '{value}' is not two different language codes, such as en,es")
    return codes


@cli.command()
@common_options
@click.argument(
    "statement_files",
    nargs=-1,
    required=True,
    metavar="STATEMENT [STATEMENT_ES]",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=lambda ctx, _param, files: _one_or_two_files(ctx, files),
)
@click.option(
    "--langs",
    default="en,es",
    show_default=True,
    help="The statement's two languages, in file order.",
    callback=lambda ctx, _param, value: _two_languages(ctx, value),
)
@click.option("--write", is_flag=True, help="Append the drafts to the posts list of the --config file.")
def excerpts(
    config: Path, verbose: bool, statement_files: tuple[Path, ...], langs: tuple[str, str], write: bool
) -> None:
    """Propose draft posts from a bilingual statement: its closing slogans and its strongest excerpts.

    STATEMENT holds both languages one after the other, or give one file per language. The
    languages are aligned paragraph by paragraph and sentence by sentence; every pair the tool is
    unsure of is a warning and is left out. Drafts take queue slots. Prints posts.yaml entries, or
    with --write appends them to posts.yaml, skipping any already there, and validates the result.
    """
    from scheduler import excerpts as drafting

    languages = langs
    campaign = _campaign_or_exit(content.check(config), str(config)) if config.exists() or write else None
    alignment = drafting.read_statement(statement_files, languages)
    platforms = drafting.platforms_of(campaign, languages)
    has_attribution = campaign is not None and all(lang in campaign.defaults.attribution for lang in languages)
    attribution = None if has_attribution else drafting.attribution_from(alignment)
    drafts = drafting.propose(alignment, platforms, attribution)
    warnings = list(alignment.warnings)
    if campaign is None:
        warnings.append(f"no {config}: counting against X 280, Mastodon 500 and Bluesky 300")
    no_queue = campaign is not None and campaign.queue is None
    if no_queue:
        warnings.append(f"{config} has no queue: drafts have no time, so add a queue (or an `at` to each)")
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not write:
        slogans = sum(1 for d in drafts if "slogan" in d.card)
        header = [
            f"Draft posts from {', '.join(p.name for p in statement_files)}: {_plural(slogans, 'slogan')}, "
            f"{_plural(len(drafts) - slogans, 'excerpt')}. Proofread, then paste under `posts:`",
            "(or run again with --write). Without `at` or `every`, each takes the next queue slot.",
        ]
        if no_queue:
            header.append(f"{config.name} has no queue: add one, or give each post an `at`, or validate rejects them.")
        click.echo(drafting.render(drafts, header), nl=False)
        return
    if no_queue:
        raise SchedulerError(f"{config}: nothing written; add a queue first (see README.md, `queue:`)")
    result = drafting.write(config, drafts)
    for post_id, why in result.skipped:
        click.echo(f"skipped {post_id}: {why}")
    added = ", ".join(result.added) or "nothing"
    click.echo(f"Added {_plural(len(result.added), 'post')} to {config}: {added}")
    report = content.check(config)
    for problem in report.problems:
        click.echo(problem.render(str(config)))
    click.echo(f"{config}: {_plural(len(report.errors), 'error')}, {_plural(len(report.warnings), 'warning')}")
    if report.errors:
        sys.exit(EXIT_PROBLEMS)


def _campaign_or_exit(report: content.Report, name: str) -> Campaign:
    """The campaign, or every error printed and exit 1."""
    if report.campaign is None:
        for problem in report.problems:
            click.echo(problem.render(name), err=True)
        click.echo(f"{name}: {_plural(len(report.errors), 'error')}; fix them first (run validate)", err=True)
        sys.exit(EXIT_PROBLEMS)
    return report.campaign


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _print_schedule(campaign: Campaign, now: datetime) -> None:
    zone = campaign.timezone
    slots = timeline.assign_slots(campaign, now)
    horizon = now + timedelta(days=366)
    click.echo(f"\nSchedule (times in {zone.key}, then UTC):")
    for post in campaign.posts:
        if post.at is not None:
            how = "at"
            instants = [post.at]
        elif post.every is not None:
            how = f"every {post.every.text}"
            instants = list(itertools.islice(timeline.post_instants(campaign, post, now, horizon, slots), 3))
        else:
            how = "queue slot"
            instants = [slots[post.id]] if post.id in slots else []
        when = (
            "; ".join(f"{i.astimezone(zone):%a %Y-%m-%d %H:%M %Z} ({i.astimezone(UTC):%H:%M} UTC)" for i in instants)
            or "no time left in the coming year"
        )
        targets = ", ".join(
            f"{a}[{','.join(lang for lang in campaign.accounts[a].languages if lang in post.text)}]"
            for a in campaign.accounts_of(post)
        )
        click.echo(f"  {post.id}: {how}: {when} -> {targets}")


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def main() -> None:
    cli(prog_name="run.py" if Path(sys.argv[0]).name == "run.py" else "slogan-scheduler")
