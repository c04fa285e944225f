"""Commands that describe the tool rather than run a campaign: schema."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.cli.common import common_options
from scheduler.cli.group import cli
from scheduler.errors import SchedulerError


@cli.command()
@common_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the schema to FILE instead of printing it.",
)
def schema(config: Path, verbose: bool, out: Path | None) -> None:
    """Print the JSON Schema of posts.yaml, for help while typing in an editor.

    An editor with the YAML language server (VS Code's YAML extension, and others) reads the
    shipped copy, schema/posts.schema.json, named on the first line of posts.yaml: it completes
    keys, explains each one on hover and underlines mistakes as you type. `validate` remains the
    whole check (ids, accounts, platform limits, assets, colours). After a change to the models,
    refresh the shipped copy with:

    \b
        run.py schema --out schema/posts.schema.json
    """
    from scheduler import files
    from scheduler.schema import render

    text = render()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        files.write_atomic(out, text.encode("utf-8"))
    except (FileExistsError, NotADirectoryError):  # a parent folder on the way is a file
        raise SchedulerError(f"cannot write {out}: part of that path is a file, not a folder") from None
    except OSError as exc:
        raise SchedulerError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {out}", err=True)
