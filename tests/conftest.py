"""Shared fixtures: a project folder holding the bundled fonts, and the CLI run as a user runs it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from atproto import Client, models
from click.testing import CliRunner
from mastodon_mock.testing import MockServer

from scheduler.cli import cli
from tests.peers.x_stub.server import XStub

ROOT = Path(__file__).resolve().parent.parent
PDS_DIR = ROOT / "tests" / "peers" / "pds"
NOW = "2026-11-28T00:00:00+00:00"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder (the current directory) with the bundled fonts in assets/."""
    shutil.copytree(ROOT / "assets" / "fonts", tmp_path / "assets" / "fonts")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDULER_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the current directory) with the bundled assets, nothing inherited from the shell."""
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "alice_token")
    monkeypatch.setenv("SCHEDULER_REQUEST_TIMEOUT", "5")
    for name in ("SCHEDULER_CONFIG", "SCHEDULER_LEDGER", "SCHEDULER_WEBHOOK_URL", "SCHEDULER_HEARTBEAT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
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


def mastodon_fault(
    server: MockServer, path: str, effect: dict[str, Any], count: int = 1, methods: tuple[str, ...] = ("POST",)
) -> None:
    """`path` may hold * wildcards."""
    body = {"match": {"methods": list(methods), "path": path}, "effect": effect, "count": count}
    requests.post(f"{server.base_url}/api/v1/_mock/faults", json=body, timeout=5).raise_for_status()


X_CREDENTIAL = {
    "api_key": "test-api-key-1",
    "api_secret": "test-api-secret-1",
    "access_token": "1-test-access-token",
    "access_secret": "test-access-secret-1",
    "user": {"id": "2244994945", "username": "campaign_en", "name": "Campaign"},
}


@pytest.fixture(scope="session")
def x_stub() -> Iterator[XStub]:
    """The stub of X's v2 API (no X server exists to run), on loopback."""
    with XStub(credentials=[X_CREDENTIAL]) as running:
        yield running


def x_environment(account_id: str) -> dict[str, str]:
    prefix = account_id.upper().replace("-", "_")
    return {f"{prefix}_{name.upper()}": str(value) for name, value in X_CREDENTIAL.items() if name != "user"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def start_pds(folder: Path) -> Iterator[str]:
    """The local Bluesky PDS (tests/peers/pds/run.sh) on free loopback ports; stopped afterwards."""
    pidfile = folder / "pds.pid"
    port = free_port()
    env = {**os.environ, "PDS_PORT": str(port), "PLC_PORT": str(free_port()), "PDS_LOG": str(folder / "pds.log")}
    try:
        started = subprocess.run(
            ["bash", str(PDS_DIR / "run.sh"), str(pidfile)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,  # a fresh machine builds the PDS first (about a minute)
            check=False,
        )
        if started.returncode != 0:
            raise RuntimeError(
                f"the local PDS did not start (run.sh exit {started.returncode}):\n{started.stdout}{started.stderr}"
            )
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(PDS_DIR / "stop.sh"), str(pidfile)], check=False, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def pds_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("PDS_URL"):
        yield os.environ["PDS_URL"].rstrip("/")
        return
    try:
        with start_pds(tmp_path_factory.mktemp("pds")) as url:
            yield url
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.fail(str(exc))


@dataclass(frozen=True)
class PdsAccount:
    url: str
    handle: str
    did: str
    app_password: str


def new_bsky_account(pds_url: str) -> PdsAccount:
    """A fresh account on the PDS with an app password, as a person would set one up."""
    handle = f"slogan-{secrets.token_hex(4)}.test"
    password = secrets.token_urlsafe(18)
    created = Client(base_url=pds_url).com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(handle=handle, email=f"{handle}@example.test", password=password)
    )
    main = Client(base_url=pds_url)
    main.login(handle, password, fetch_bsky_profile=False)
    app = main.com.atproto.server.create_app_password(models.ComAtprotoServerCreateAppPassword.Data(name="tests"))
    return PdsAccount(pds_url, handle, str(created.did), str(app.password))


def _postgres_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    assert found, f"PostgreSQL's {name} is missing: apt-get install postgresql (tests/run.sh does)"
    return str(found)


@contextlib.contextmanager
def start_postgres() -> Iterator[str]:
    """A real PostgreSQL server in a temporary cluster, on loopback only (run as `postgres` under root);
    yields its URL and stops it afterwards. Outside pytest too (bench/reliability.py)."""
    # In /tmp itself, not under $TMPDIR (the tests point it at a folder private to root): the
    # server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="scheduler-postgres-", dir="/tmp"))
    data, port = folder / "data", free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)

    run(_postgres_tool("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    run(_postgres_tool("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(_postgres_tool("pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server in a temporary cluster, on loopback only (run as `postgres` under root)."""
    with start_postgres() as url:
        yield url


class Listener:
    """A local HTTP server standing for the webhook (POSTed JSON) and the heartbeat monitor (GETs)."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.gets: list[tuple[float, str]] = []  # (time.monotonic(), path)
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                listener.posted.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:
                listener.gets.append((time.monotonic(), self.path))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Listener]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener().running() as running:
        yield running


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
        # Log lines (on stderr, interleaved here) are not the command's answer.
        lines = [line for line in output.splitlines() if not LOG_LINE.match(line)]
        return Result(result.exit_code, output, lines)

    return run
