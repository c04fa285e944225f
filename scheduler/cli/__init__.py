"""The commands. The only package that prints or exits; each command is a thin layer over the library."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from scheduler.cli.group import cli

__all__ = ["cli", "main"]


def main() -> None:
    # No pydantic plugin sees the campaign, and none is looked for: the look reads every installed
    # package's metadata before the first model is built.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # Loading a command makes tens of thousands of objects that live as long as the process, so
    # collecting garbage meanwhile finds none. The group resumes collection once the command is loaded.
    gc.disable()
    try:
        cli(prog_name="run.py" if Path(sys.argv[0]).name == "run.py" else "slogan-scheduler")
    finally:
        # The process ends here. Its last garbage collections would walk every object still tracked
        # (what the command made and loaded, a platform's SDK say) to free memory the exit frees.
        gc.freeze()
