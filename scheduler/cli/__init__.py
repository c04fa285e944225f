"""The commands. The only package that prints or exits; each command is a thin layer over the library."""

from __future__ import annotations

import sys
from pathlib import Path

from scheduler.cli.group import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="run.py" if Path(sys.argv[0]).name == "run.py" else "slogan-scheduler")
