"""The command CI runs on a pull or merge request: review-comment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import click

from scheduler.cli.common import common_options
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError

if TYPE_CHECKING:
    from scheduler.forge import Forge


def _web_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        raise click.BadParameter(f"'{value}' is not an http(s) URL")
    return value


@cli.command("review-comment")
@common_options
@click.argument("body_file", metavar="BODY_FILE", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--artifact-url", callback=_web_url, metavar="URL", help="Link the preview artifact at URL.")
@click.option(
    "--forge",
    type=click.Choice(["github", "gitlab"]),
    help="The forge to comment on.  [default: the CI it runs in, from GITHUB_ACTIONS or GITLAB_CI]",
)
@click.option(
    "--pr",
    type=click.IntRange(min=1),
    metavar="N",
    help="The pull or merge request number.  [default: from the CI job]",
)
@click.option("--dry-run", is_flag=True, help="Print the comment and send nothing.")
def review_comment(
    config: Path,
    verbose: bool,
    body_file: Path,
    artifact_url: str | None,
    forge: str | None,
    pr: int | None,
    dry_run: bool,
) -> None:
    """Post BODY_FILE (Markdown; - for stdin) as the review comment on the pull or merge request.

    There is one such comment per request, found by a hidden marker and updated in place on
    every push. On GitHub it uses GITHUB_TOKEN, GITHUB_REPOSITORY and the pull request of the
    workflow's event; on GitLab, GITLAB_TOKEN (a project access token with the api scope: the
    job's CI_JOB_TOKEN cannot comment), CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID.
    A body longer than the forge allows is cut, pointing to the preview. deploy/ci/ has ready-made
    jobs for both forges.
    """
    from scheduler import forge as forges
    from scheduler.credentials import install_redaction

    body = _read(body_file)
    chosen = cast("Forge", forge) if forge else forges.detect(os.environ)
    limit = forges.LIMITS[chosen] if chosen else min(forges.LIMITS.values())
    comment = forges.compose(body, artifact_url, limit)
    if dry_run:
        click.echo(comment, nl=False)
        return
    if chosen is None:
        raise SchedulerError("not in GitHub Actions (GITHUB_ACTIONS=true) nor GitLab CI (GITLAB_CI=true): give --forge")
    client = forges.client(chosen, os.environ, pr)
    install_redaction([client.token])
    outcome = forges.publish(client, comment)
    link = f": {outcome.url}" if outcome.url else ""
    click.echo(f"{outcome.action.capitalize()} the review comment on {outcome.where}{link}")


def _read(body_file: Path) -> str:
    try:
        with click.open_file(str(body_file), encoding="utf-8") as stream:  # "-" is stdin
            text: str = stream.read()
            return text
    except UnicodeDecodeError:
        raise SchedulerError(f"{body_file} is not UTF-8 text") from None
    except OSError as exc:
        raise SchedulerError(f"cannot read {body_file}: {exc.strerror or exc}") from None
