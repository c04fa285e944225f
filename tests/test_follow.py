"""The daemon follows a branch with real git: a bare repository served over file:// and over HTTP
(git http-backend), the team pushing to it, a daemon fetching it every second."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.ledger import Ledger, Record, default_url
from tests.conftest import ROOT, Listener, Result
from tests.peers.git_http import serving
from tests.test_daemon import local, wait_for

AUTHOR = {
    "GIT_AUTHOR_NAME": "Rosa Team",
    "GIT_AUTHOR_EMAIL": "rosa@example.org",
    "GIT_COMMITTER_NAME": "Rosa Team",
    "GIT_COMMITTER_EMAIL": "rosa@example.org",
}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **AUTHOR, **(env or {})}, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def campaign(*posts: tuple[str, str, datetime], broken: bool = False, paused: bool = False) -> str:
    lines = [
        f"paused: {str(paused).lower()}",
        "timezone: America/New_York",
        "languages: [en]",
        "accounts:",
        "  outbox: {platform: outbox, languages: [en]}",
        "posts:",
    ]
    for post_id, text, at in posts:
        lines += [f"  - id: {post_id}", f'    text: {{en: "{text}"}}', f'    at: "{local(at)}"']
    if broken:
        lines += ["    accounts: [mastodon]"]  # no such account
    return "\n".join(lines) + "\n"


@dataclass
class Forge:
    """The team's repository: a bare one (the forge) and a clone people commit in."""

    origin: Path
    team: Path
    url: str  # what the server clones and fetches
    requests: list[str]

    def push(self, posts: str, message: str, *, sign: tuple[str, ...] = (), env: dict[str, str] | None = None) -> str:
        (self.team / "posts.yaml").write_text(posts, encoding="utf-8")
        git(self.team, "add", "posts.yaml")
        git(self.team, *sign, "commit", "--quiet", "--allow-empty", "-m", message, env=env)
        git(self.team, "push", "--quiet", "origin", "HEAD:main")
        return git(self.team, "rev-parse", "HEAD")

    def reset_to(self, sha: str) -> None:
        """A force-push of an older commit: history rewritten."""
        git(self.team, "reset", "--quiet", "--hard", sha)
        git(self.team, "push", "--quiet", "--force", "origin", "HEAD:main")


@contextlib.contextmanager
def forge_at(tmp_path: Path, transport: str) -> Iterator[Forge]:
    origin = tmp_path / "forge" / "campaign.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    team = tmp_path / "team"
    git(tmp_path, "clone", "--quiet", str(origin), str(team))
    git(team, "checkout", "--quiet", "-b", "main")
    (team / "assets" / "fonts").mkdir(parents=True)
    for name in ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"):
        shutil.copy(ROOT / "assets" / "fonts" / name, team / "assets" / "fonts" / name)
    (team / ".gitignore").write_text("state/\noutbox/\npreview/\n", encoding="utf-8")
    git(team, "add", "assets", ".gitignore")
    if transport == "file":
        yield Forge(origin, team, origin.as_uri(), [])
    else:
        with serving(origin.parent) as (base, requests):
            yield Forge(origin, team, f"{base}/campaign.git", requests)


@pytest.fixture(params=["file", "http"])
def forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Forge]:
    with forge_at(tmp_path, request.param) as found:
        yield found


@pytest.fixture
def file_forge(tmp_path: Path) -> Iterator[Forge]:
    with forge_at(tmp_path, "file") as found:
        yield found


@dataclass
class Server:
    """The server's checkout, owned by the daemon, and the daemon following it."""

    checkout: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.checkout / "posts.yaml"

    def start(self, *flags: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "daemon", "--git", "--every", "1s", *flags],
            cwd=self.checkout,
            env={**os.environ, **(env or {})},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)

    def said(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def live(self) -> str:
        return git(self.checkout, "rev-parse", "HEAD")

    def records(self) -> list[Record]:
        return Ledger(default_url(self.checkout)).records()

    def published(self, post_id: str) -> list[Record]:
        return [r for r in self.records() if r.delivery.post_id == post_id and r.state == "published"]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Forge], Server]]:
    for name in ("SCHEDULER_CONFIG", "SCHEDULER_LEDGER", "SCHEDULER_WEBHOOK_URL", "SCHEDULER_HEARTBEAT_URL"):
        monkeypatch.delenv(name, raising=False)
    started: list[Server] = []

    def clone(forge: Forge) -> Server:
        checkout = tmp_path / "server"
        git(tmp_path, "clone", "--quiet", "--branch", "main", forge.url, str(checkout))
        found = Server(checkout, tmp_path / "daemon.log")
        started.append(found)
        return found

    yield clone
    for found in started:
        found.stop()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_a_pushed_post_goes_out_once_on_time(forge: Forge, server: Callable[[Forge], Server]) -> None:
    forge.push(campaign(("later", "Next week", now() + timedelta(days=7))), "Start the campaign")
    daemon = server(forge)
    daemon.start()
    wait_for(lambda: "Running (pid" in daemon.said())
    due = now() + timedelta(seconds=20)
    sha = forge.push(
        campaign(("later", "Next week", now() + timedelta(days=7)), ("soon", "U.S. out of Haiti!", due)), "Add soon"
    )
    wait_for(lambda: daemon.live() == sha, limit=15)
    wait_for(lambda: bool(daemon.published("soon")), limit=40)
    (record,) = daemon.published("soon")
    assert record.delivery.due == due
    assert timedelta(0) <= record.updated_at - due < timedelta(seconds=3)  # on time, never early
    assert f"now running commit {sha[:12]} by Rosa Team <rosa@example.org> (Add soon)" in daemon.said()
    if forge.requests:  # over HTTP, through git's smart protocol
        assert any(line.startswith("POST /campaign.git/git-upload-pack") for line in forge.requests)
    wait_for(lambda: len(daemon.records()) == 1 and daemon.records()[0].attempts == 1, limit=5)


def test_a_broken_commit_keeps_the_last_good_one_running(
    forge: Forge,
    server: Callable[[Forge], Server],
    run_cli: Callable[..., Result],
    listener: Listener,
) -> None:
    due = now() + timedelta(seconds=25)
    good = forge.push(campaign(("soon", "Still goes out", due)), "Good")
    daemon = server(forge)
    daemon.start(env={"SCHEDULER_WEBHOOK_URL": f"{listener.url}/hook"})
    wait_for(lambda: "Running (pid" in daemon.said())
    bad = forge.push(campaign(("soon", "Still goes out", due), broken=True), "Break it")
    wait_for(lambda: f"commit {bad[:12]}" in daemon.said(), limit=15)
    said = daemon.said()
    assert f"commit {bad[:12]} by Rosa Team <rosa@example.org> (Break it) was not put live: 1 problem; " in said
    assert f"still running {good[:12]}" in said
    assert "posts.yaml:" in said
    assert "mastodon" in said
    assert "Traceback" not in said
    assert daemon.live() == good
    wait_for(lambda: bool(listener.posted), limit=5)
    alert = listener.posted[0]
    assert alert["state"] == "a commit was not put live"
    assert bad[:12] in alert["error"]
    status = run_cli("status", "--config", str(daemon.config))
    assert status.exit_code == 0
    assert any(line.startswith(f"  following main: live commit {good[:12]} by Rosa Team") for line in status.lines)
    assert any(line.startswith(f"  REJECTED newer commit {bad[:12]} by Rosa Team") for line in status.lines)
    wait_for(lambda: bool(daemon.published("soon")), limit=40)  # the last good commit keeps the campaign going
    assert said.count(f"commit {bad[:12]}") == 1  # reported once, not at every fetch
    fixed = forge.push(campaign(("soon", "Still goes out", due), ("next", "Fixed", now() + timedelta(days=1))), "Fix")
    wait_for(lambda: daemon.live() == fixed, limit=15)
    wait_for(lambda: "REJECTED" not in "\n".join(run_cli("status", "--config", str(daemon.config)).lines), limit=45)
    assert len(daemon.published("soon")) == 1


def test_a_force_push_to_an_older_commit_reposts_nothing(file_forge: Forge, server: Callable[[Forge], Server]) -> None:
    due = now() + timedelta(seconds=8)
    first = file_forge.push(campaign(("slogan", "U.S. out of Haiti!", due)), "First")
    daemon = server(file_forge)
    daemon.start()
    wait_for(lambda: bool(daemon.published("slogan")), limit=30)
    # Moved later, then renamed: neither re-posts; then the branch is rewritten back to the first commit.
    second = file_forge.push(campaign(("slogan", "U.S. out of Haiti!", now() + timedelta(seconds=5))), "Move it")
    wait_for(lambda: daemon.live() == second, limit=15)
    third = file_forge.push(campaign(("renamed", "U.S. out of Haiti!", now() + timedelta(seconds=5))), "Rename it")
    wait_for(lambda: daemon.live() == third, limit=15)
    file_forge.reset_to(first)
    wait_for(lambda: daemon.live() == first, limit=15)
    wait_for(lambda: "now running commit " + first[:12] in daemon.said(), limit=5)
    # An edit made on the server itself is not what the team pushed: it is not run.
    daemon.config.write_text(campaign(("local", "Edited on the server", now() + timedelta(seconds=2))))
    wait_for(lambda: "posts.yaml was edited on this server, but this daemon runs what is pushed" in daemon.said())
    time.sleep(8)  # past every time the commits and the edit gave
    assert [r.state for r in daemon.records() if r.state == "published"] == ["published"]
    posts = list((daemon.checkout / "outbox" / "posts").glob("*/post.json"))
    assert len(posts) == 1
    assert daemon.said().count("posts.yaml was edited on this server") == 1


def test_the_kill_switch_by_commit(file_forge: Forge, server: Callable[[Forge], Server]) -> None:
    due = now() + timedelta(seconds=10)
    file_forge.push(campaign(("soon", "Held by the kill switch", due)), "Soon")
    daemon = server(file_forge)
    daemon.start()
    wait_for(lambda: "Running (pid" in daemon.said())
    paused = file_forge.push(campaign(("soon", "Held by the kill switch", due), paused=True), "Stop everything")
    wait_for(lambda: daemon.live() == paused, limit=15)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 2)
    assert daemon.published("soon") == []
    file_forge.push(campaign(("soon", "Held by the kill switch", due)), "Resume")
    wait_for(lambda: bool(daemon.published("soon")), limit=15)  # within its max_late: it goes out, once
    assert len(daemon.published("soon")) == 1


def ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, (folder / f"{name}.pub").read_text(encoding="utf-8").strip()


def ssh_signing(key: Path) -> tuple[str, ...]:
    return ("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "-c", "commit.gpgsign=true")


def test_only_commits_signed_by_an_approved_key_go_live(
    file_forge: Forge, server: Callable[[Forge], Server], tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    approved, approved_public = ssh_key(keys, "approved")
    stranger, _ = ssh_key(keys, "stranger")
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    subprocess.run(
        [
            "gpg",
            "--batch",
            "--quiet",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Ana <ana@example.org>",
            "ed25519",
            "sign",
        ],
        env={**os.environ, "GNUPGHOME": str(gnupg)},
        check=True,
        capture_output=True,
    )
    armored = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", "ana@example.org"],
        env={**os.environ, "GNUPGHOME": str(gnupg)},
        check=True,
        capture_output=True,
    ).stdout.decode()
    signers = tmp_path / "approvers"
    signers.write_text(
        f"# who may put a post on the air\nrosa@example.org {approved_public}\n{armored}", encoding="utf-8"
    )

    later = now() + timedelta(days=3)
    first = file_forge.push(campaign(("a", "One", later)), "Signed", sign=ssh_signing(approved))
    daemon = server(file_forge)
    daemon.start("--signers", str(signers))
    wait_for(lambda: "Running (pid" in daemon.said())

    unsigned = file_forge.push(campaign(("a", "One", later), ("b", "Two", later)), "Unsigned")
    wait_for(lambda: f"commit {unsigned[:12]}" in daemon.said(), limit=15)
    assert "the commit is not signed, and this daemon runs only commits signed by an approved key" in daemon.said()
    assert daemon.live() == first

    foreign = file_forge.push(
        campaign(("a", "One", later), ("c", "Three", later)), "Other key", sign=ssh_signing(stranger)
    )
    wait_for(lambda: f"commit {foreign[:12]}" in daemon.said(), limit=15)
    assert f"the commit is signed, but not by a key approved in {signers}" in daemon.said()
    assert daemon.live() == first
    status = run_cli("status", "--config", str(daemon.config))
    assert any(line.startswith(f"  REJECTED newer commit {foreign[:12]}") for line in status.lines)

    # Ana signs with GPG from her own keyring; the daemon trusts only the keys in the approvers file.
    gpg_signed = file_forge.push(
        campaign(("a", "One", later), ("d", "Four", later)),
        "GPG signed",
        sign=("-c", "user.signingkey=ana@example.org", "-c", "commit.gpgsign=true"),
        env={"GNUPGHOME": str(gnupg)},
    )
    wait_for(lambda: daemon.live() == gpg_signed, limit=15)
    assert "REJECTED" not in "\n".join(run_cli("status", "--config", str(daemon.config)).lines)


def test_an_unsigned_checkout_does_not_start_when_approval_is_required(
    file_forge: Forge, server: Callable[[Forge], Server], tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    _, public = ssh_key(tmp_path, "approved")
    signers = tmp_path / "approvers"
    signers.write_text(f"rosa@example.org {public}\n", encoding="utf-8")
    unsigned = file_forge.push(campaign(("a", "One", now() + timedelta(days=1))), "Unsigned")
    daemon = server(file_forge)
    result = run_cli("daemon", "--git", "--once", "--signers", str(signers), "--config", str(daemon.config))
    assert result.exit_code == 1
    assert f"Error: the checked-out commit {unsigned[:12]} by Rosa Team <rosa@example.org> (Unsigned) " in result.output
    assert "is not signed" in result.output
    assert not (daemon.checkout / "state" / "ledger.sqlite3").exists()


def test_git_needs_a_checkout(folder: Path, run_cli: Callable[..., Result]) -> None:
    (folder / "posts.yaml").write_text(campaign(("a", "One", now() + timedelta(days=1))), encoding="utf-8")
    result = run_cli("daemon", "--git", "--once")
    assert result.exit_code == 1
    assert "is not in a git checkout, so there is no branch to follow" in result.output


def test_an_unreachable_remote_is_reported_once_and_the_campaign_runs_on(
    file_forge: Forge, server: Callable[[Forge], Server], run_cli: Callable[..., Result]
) -> None:
    file_forge.push(campaign(("later", "Next week", now() + timedelta(days=7))), "Start")
    daemon = server(file_forge)
    daemon.start()
    wait_for(lambda: "Running (pid" in daemon.said())
    hidden = file_forge.origin.with_name("moved.git")
    file_forge.origin.rename(hidden)  # the forge is down
    wait_for(lambda: "could not fetch main" in daemon.said(), limit=15)
    time.sleep(3)  # three more failed fetches
    assert daemon.said().count("could not fetch main") == 1
    status = run_cli("status", "--config", str(daemon.config))
    assert any(line.startswith("  FETCH FAILING: git fetch: ") for line in status.lines), status.lines
    hidden.rename(file_forge.origin)
    wait_for(lambda: "fetching main works again" in daemon.said(), limit=15)
    assert daemon.process is not None
    assert daemon.process.poll() is None
