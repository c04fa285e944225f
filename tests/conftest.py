"""Shared fixtures: a project folder holding the bundled fonts, and the CLI run as a user runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from mastodon_mock.testing import MockServer

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


@pytest.fixture(scope="session")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """mastodon-mock, a real Mastodon API server, in this process; its media in a temp folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("mastodon-media")))
        with MockServer() as running:
            yield running


@pytest.fixture(autouse=True)
def _clear_mastodon_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "mastodon_server" in request.fixturenames:
        server = request.getfixturevalue("mastodon_server")
        requests.delete(f"{server.base_url}/api/v1/_mock/faults", timeout=5)


def mastodon_fault(server: MockServer, path: str, effect: dict[str, Any], count: int = 1) -> None:
    body = {"match": {"methods": ["POST"], "path": path}, "effect": effect, "count": count}
    requests.post(f"{server.base_url}/api/v1/_mock/faults", json=body, timeout=5).raise_for_status()


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
