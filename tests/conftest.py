"""Shared fixtures: a project folder holding the bundled fonts, and the CLI run as a user runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-28T00:00:00+00:00"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (the current directory) with the bundled fonts in assets/."""
    shutil.copytree(ROOT / "assets" / "fonts", tmp_path / "assets" / "fonts")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDULER_CONFIG", raising=False)
    return tmp_path


@dataclass
class Result:
    exit_code: int
    output: str
    lines: list[str]


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), prog_name="run.py")
        output = result.output
        return Result(result.exit_code, output, output.splitlines())

    return run
