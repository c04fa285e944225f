"""What every command shares: options, logging, error handling, opening the campaign and its ledger."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scheduler import content, files
from scheduler.errors import SchedulerError
from scheduler.models import Campaign

if TYPE_CHECKING:  # the publishing machinery loads only for the commands that publish
    from scheduler.credentials import Credentials
    from scheduler.ledger import Ledger
    from scheduler.plan import Snapshot
    from scheduler.platforms.base import Counts
    from scheduler.publish import Publisher

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PROBLEMS = 1


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
        if not debug:
            handler.addFilter(_without_traceback)
        logging.basicConfig(
            level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
            handlers=[handler],
            force=True,
        )
        ours = logging.getLogger("scheduler")
        ours.setLevel(logging.NOTSET)  # the daemon command raises it to INFO, for as long as it runs
        # APScheduler narrates every wake-up at INFO: only its problems are news.
        logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.WARNING)
        try:
            return command(*args, verbose=verbose, **kwargs)
        except SchedulerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_PROBLEMS)
        except click.ClickException:
            raise  # a usage error found while running: click says it, with the usage line, and exits 2
        except Exception as exc:  # a bug: say so in one line unless asked for the traceback
            if debug:
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)", err=True)
            sys.exit(EXIT_PROBLEMS)
        finally:
            ours.setLevel(logging.NOTSET)  # a command run inside another program leaves its logging as it was

    return wrapper  # type: ignore[return-value]


def _without_traceback(record: logging.LogRecord) -> bool:
    """Without --debug a log line is one line, whatever went wrong (the daemon's journal included)."""
    record.exc_info = None
    record.exc_text = None
    return True


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


def _request_timeout(credentials: Credentials) -> float:
    """Seconds each platform request may take ($SCHEDULER_REQUEST_TIMEOUT, default 30)."""
    raw = credentials.get("SCHEDULER_REQUEST_TIMEOUT") or "30"
    try:
        seconds = float(raw)
    except ValueError:
        raise SchedulerError(f"SCHEDULER_REQUEST_TIMEOUT is '{raw}'; give a number of seconds") from None
    if not 1 <= seconds <= 600:
        raise SchedulerError(f"SCHEDULER_REQUEST_TIMEOUT is {raw}; give between 1 and 600 seconds")
    return seconds


def resolve_ledger_url(config: Path, given: str | None) -> str:
    """Where the ledger is, the same for every command: --ledger or $SCHEDULER_LEDGER, else
    SCHEDULER_LEDGER in the .env beside posts.yaml, else state/ledger.sqlite3 beside posts.yaml."""
    from scheduler.credentials import read_dotenv

    project = config.resolve().parent
    return given or read_dotenv(project).get("SCHEDULER_LEDGER") or files.default_ledger_url(project)


def existing_ledger(config: Path, ledger_url: str | None) -> tuple[Snapshot | None, str | None]:
    """The ledger's rows when there is a ledger (a command that only reads never creates one), or
    why it could not be read."""
    url = resolve_ledger_url(config, ledger_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None, None
    from scheduler.ledger import Ledger
    from scheduler.plan import Snapshot

    try:
        ledger = Ledger(url)
    except SchedulerError as exc:
        return None, str(exc)
    try:
        return Snapshot.read(ledger), None
    except SchedulerError as exc:
        return None, str(exc)
    finally:
        ledger.close()


def _open(
    config: Path, ledger_url: str | None, now: datetime, *, beside_daemon: bool = False, long_running: bool = False
) -> _Session:
    """The campaign and its ledger. `beside_daemon`: refuse when a live daemon of this posts.yaml
    uses another ledger (checked before the ledger is opened, so no stray ledger is created).
    `long_running`: cards are drawn in short-lived processes, so drawing leaves no memory behind."""
    from scheduler import presence
    from scheduler.cards import CardStore
    from scheduler.credentials import Credentials, install_redaction
    from scheduler.ledger import Ledger
    from scheduler.publish import Publisher

    report = content.check(config, now=now)
    campaign = _campaign_or_exit(report, str(config))
    project = config.resolve().parent
    state = files.state_dir(project)
    credentials = Credentials.load(project, os.environ)
    install_redaction(credentials.secrets_of((a, acc.platform) for a, acc in campaign.accounts.items()))
    url = resolve_ledger_url(config, ledger_url)
    if beside_daemon:
        presence.require_same_ledger(state, url, datetime.now(UTC))
    ledger = Ledger(url)
    publisher = Publisher(
        campaign,
        project,
        ledger,
        CardStore(state / "cards", separate_process=long_running),
        credentials,
        state / "sessions",
        clock=lambda: datetime.now(UTC),
        timeout=_request_timeout(credentials),
    )
    return _Session(config, report, campaign, project, ledger, publisher)


def _when(instant: datetime, campaign: Campaign) -> str:
    return f"{instant.astimezone(campaign.timezone):%a %Y-%m-%d %H:%M %Z} ({instant.astimezone(UTC):%H:%M} UTC)"


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


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def utc(instant: datetime) -> str:
    """An instant as the JSON output writes it: 2026-12-01T14:00:00Z."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def counts_json(latest: tuple[datetime, Counts] | None) -> dict[str, Any] | None:
    """A delivery's latest counts and when they were fetched, as the JSON output writes them."""
    if latest is None:
        return None
    fetched, found = latest
    return {**dataclasses.asdict(found), "engagement": found.engagement, "fetched_utc": utc(fetched)}
