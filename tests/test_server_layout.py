"""The server layout of "Running it as a service", end to end in a temporary root.

The layout is built as deploy/install.sh builds it (/opt/slogan-scheduler with its .venv,
/etc/slogan-scheduler/scheduler.env from deploy/scheduler.env, the unit's state directory under
/var/lib), every path moved into the test's folder. The daemon is started from the unit file
itself: its ExecStart, WorkingDirectory, Environment and EnvironmentFile lines, loaded the way
systemd loads them. Commands then run as the README says: the plain `run.py COMMAND --config ...`
(refused: it would use another ledger than the daemon's) and `sudo slogan-scheduler COMMAND`
(deploy/slogan-scheduler, which reads the unit's settings).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import LOG_LINE, ROOT
from tests.test_daemon import local, outbox_posts, write
from tests.test_follow import campaign, forge_at, git

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "slogan-scheduler.service"
WRAPPER = DEPLOY / "slogan-scheduler"
SERVER_PATHS = ("/opt/slogan-scheduler", "/etc/slogan-scheduler", "/var/lib/slogan-scheduler")
TEXT = "U.S. out of Haiti!"


@dataclass(frozen=True)
class Server:
    """A server's file system, rooted in a temporary folder."""

    root: Path

    def moved(self, text: str) -> str:
        """`text` with every server path moved under the temporary root."""
        for path in SERVER_PATHS:
            text = text.replace(path, f"{self.root}{path}")
        return text

    @property
    def home(self) -> Path:
        return self.root / "opt" / "slogan-scheduler"

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "slogan-scheduler"

    @property
    def posts(self) -> Path:
        return self.home / "posts.yaml"

    @property
    def ledger(self) -> Path:
        return self.root / "var" / "lib" / "slogan-scheduler" / "ledger.sqlite3"

    @property
    def stray_ledger(self) -> Path:
        """The ledger a command would use without the settings file: state/ beside posts.yaml."""
        return self.home / "state" / "ledger.sqlite3"


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "these tests run the server layout as the README does, as root (the wrapper deploy/slogan-scheduler "
            "refuses anyone else, and runs the command with runuser): run pytest as root"
        )


def service_section() -> list[tuple[str, str]]:
    """The [Service] entries of the unit file, in order, repeated keys kept (EnvironmentFile twice)."""
    entries: list[tuple[str, str]] = []
    section = None
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, sep, value = line.partition("=")
            assert sep, f"{UNIT.name}: {raw!r} is not Key=value"
            entries.append((key.strip(), value.strip()))
    return entries


def unit_values(key: str) -> list[str]:
    return [value for name, value in service_section() if name == key]


def unit_value(key: str) -> str:
    found = unit_values(key)
    assert len(found) == 1, f"{UNIT.name} has {len(found)} {key}= lines"
    return found[0]


def environment_file(spec: str) -> dict[str, str]:
    """An EnvironmentFile= as systemd reads it: KEY=value lines, # and ; comments, quotes removed;
    a `-` prefix makes a missing file no error."""
    optional = spec.startswith("-")
    path = Path(spec.removeprefix("-"))
    if not path.exists():
        assert optional, f"EnvironmentFile={spec} does not exist: systemd would not start the unit"
        return {}
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {raw!r} is not KEY=value"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def install(tmp_path: Path) -> Server:
    """What deploy/install.sh sets up, under tmp_path: the project (its .venv is this checkout's, where
    the package is installed), the settings file every command shares, the unit's state directory."""
    server = Server(tmp_path.resolve())
    home = server.home
    home.mkdir(parents=True)
    shutil.copy2(ROOT / "run.py", home / "run.py")
    shutil.copytree(ROOT / "assets", home / "assets")
    (home / ".venv").symlink_to(ROOT / ".venv")
    for folder in ("state", "outbox", "preview"):
        (home / folder).mkdir()
    (home / "state").chmod(0o700)
    server.etc.mkdir(parents=True)
    server.etc.chmod(0o700)
    settings = server.moved((DEPLOY / "scheduler.env").read_text(encoding="utf-8"))
    (server.etc / "scheduler.env").write_text(settings, encoding="utf-8")
    # StateDirectory=: systemd creates /var/lib/<name> with StateDirectoryMode= before starting the unit.
    state_directory = server.root / "var" / "lib" / unit_value("StateDirectory")
    state_directory.mkdir(parents=True, mode=int(unit_value("StateDirectoryMode"), 8))
    assert server.ledger.parent == state_directory, "scheduler.env puts the ledger outside the unit's StateDirectory"
    return server


def command_environment() -> dict[str, str]:
    """The environment of a person's shell on the server: no scheduler settings of its own."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SCHEDULER_", "WATCHDOG_")) and key != "NOTIFY_SOCKET"
    }


def unit_environment(server: Server, notify_socket: Path | None) -> dict[str, str]:
    """What systemd gives the unit's process: a bare environment, then Environment=, then each
    EnvironmentFile= in order (later ones win)."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(server.home),
        "USER": "root",
        "LOGNAME": "root",
        "SHELL": "/bin/sh",
    }
    for assignments in unit_values("Environment"):
        for assignment in shlex.split(assignments):
            key, _, value = assignment.partition("=")
            env[key] = value
    files = unit_values("EnvironmentFile")
    assert files, f"{UNIT.name} names no EnvironmentFile"
    for spec in files:
        env.update(environment_file(server.moved(spec)))
    if notify_socket is not None:  # Type=notify with WatchdogSec=: systemd passes both
        assert unit_value("Type") == "notify"
        env["NOTIFY_SOCKET"] = str(notify_socket)
        env["WATCHDOG_USEC"] = str(int(unit_value("WatchdogSec")) * 1_000_000)
    return env


@contextlib.contextmanager
def unit_running(server: Server, log: Path, notify_socket: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The daemon started as the unit starts it; SIGTERM (then SIGKILL) if still running at the end."""
    argv = shlex.split(server.moved(unit_value("ExecStart")))
    assert Path(argv[0]).is_absolute(), argv
    with log.open("ab") as output:
        daemon = subprocess.Popen(
            argv,
            cwd=server.moved(unit_value("WorkingDirectory")),
            env=unit_environment(server, notify_socket),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=40)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def wrapper(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """`sudo slogan-scheduler ARGS`, with the wrapper's paths moved into the temporary root."""
    env = {
        **command_environment(),
        "SLOGAN_SCHEDULER_HOME": str(server.home),
        "SLOGAN_SCHEDULER_ETC": str(server.etc),
        "SLOGAN_SCHEDULER_USER": "root",
    }
    return subprocess.run(
        ["/bin/sh", str(WRAPPER), *args],
        cwd=server.root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def plain(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """The README's plain form, without the settings file: /opt/slogan-scheduler/.venv/bin/python
    /opt/slogan-scheduler/run.py ARGS --config /opt/slogan-scheduler/posts.yaml"""
    return subprocess.run(
        [
            str(server.home / ".venv" / "bin" / "python"),
            str(server.home / "run.py"),
            *args,
            "--config",
            str(server.posts),
        ],
        cwd=server.root,
        env=command_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(condition: Callable[[], bool], limit: float, what: str) -> float:
    """Polls until `condition` holds; returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if condition():
            return time.monotonic() - began
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit} s")


def advertised(server: Server, daemon: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    """state/daemon.json once the daemon wrote it (its pid in it)."""
    advert = server.home / "state" / "daemon.json"

    def ready() -> bool:
        assert daemon.poll() is None, f"the daemon exited {daemon.returncode}:\n{log.read_text()}"
        with contextlib.suppress(OSError, ValueError):
            return bool(json.loads(advert.read_text(encoding="utf-8"))["pid"] == daemon.pid)
        return False

    wait_for(ready, 30, "the daemon advertised itself in state/daemon.json")
    found: dict[str, object] = json.loads(advert.read_text(encoding="utf-8"))
    return found


def messages(log: Path) -> list[str]:
    """The daemon's log messages (--log-format json: one JSON object a line)."""
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            found.append(json.loads(line)["message"])
    return found


def test_the_unit_and_the_commands_the_readme_gives_share_one_ledger(tmp_path: Path) -> None:
    require_root()
    server = install(tmp_path)
    daemon_url = f"sqlite:///{server.ledger}"
    stray_url = f"sqlite:///{server.stray_ledger}"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
    write(server.home, [{"id": "p", "text": TEXT, "at": local(due)}])
    log = tmp_path / "daemon.log"
    with unit_running(server, log) as daemon:
        advert = advertised(server, daemon, log)
        assert advert["ledger"] == daemon_url
        assert advert["config"] == str(server.posts)

        # The kill switch through the wrapper, before the post falls due.
        paused = wrapper(server, "pause")
        assert paused.returncode == 0, paused.stdout + paused.stderr
        assert paused.stdout.splitlines()[0] == "Paused until you run: run.py resume."
        assert f"  ledger {daemon_url}; " in paused.stdout
        assert datetime.now(UTC) < due, "the test machine took too long: the pause came after the post was due"

        # The plain form reads no settings file: it would use state/ledger.sqlite3 beside posts.yaml,
        # a ledger the daemon never reads. Each command refuses, naming both, and creates nothing.
        for args in (("pause",), ("status",), ("resume",), ("post", "p")):
            refused = plain(server, *args)
            assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
            assert daemon_url in refused.stderr, (args, refused.stderr)
            assert stray_url in refused.stderr, (args, refused.stderr)
            assert refused.stderr.startswith("Error: "), (args, refused.stderr)
            assert "Traceback" not in refused.stdout + refused.stderr
            assert not server.stray_ledger.exists(), f"`{' '.join(args)}` created {server.stray_ledger}"

        # Paused: nothing goes out when the post falls due.
        time.sleep(max(0.0, (due + timedelta(seconds=3) - datetime.now(UTC)).total_seconds()))
        assert outbox_posts(server.home) == {}
        status = wrapper(server, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith(f"Daemon: pid {daemon.pid} on "), lines
        assert f", running {server.posts} since " in lines[0], lines
        assert lines[0].endswith(f" UTC, ledger {daemon_url}"), lines
        assert "PAUSED (by run.py pause): nothing is being published (resume with: run.py resume)" in lines

        # Resumed: what fell due while paused goes out at once (max_late allows), exactly once.
        resumed = wrapper(server, "resume")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert resumed.stdout.splitlines()[0] == "Resumed."
        took = wait_for(lambda: "p" in outbox_posts(server.home), 10, "the post went out after resume")
        assert took <= 3.0, f"the post went out {took:.1f} s after `resume` returned"
        (written,) = (server.home / "outbox" / "posts").glob("*/post.json")
        assert datetime.fromisoformat(json.loads(written.read_text(encoding="utf-8"))["written_at"]) >= due
        status = wrapper(server, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith(f"Daemon: pid {daemon.pid} on "), lines
        assert not any(line.startswith("PAUSED") for line in lines), lines
        published = [line for line in lines if re.match(r"\s+published\s+p outbox en: due .+, went out .+", line)]
        assert len(published) == 1, lines
        report = json.loads(wrapper(server, "status", "--json").stdout)
        assert [d["pid"] for d in report["daemons"]] == [daemon.pid]
        (record,) = report["recent"]
        assert record["state"] == "published"
        assert record["published_utc"] >= record["due_utc"] == due.isoformat().replace("+00:00", "Z")

        # `post` of what the daemon already published: refused, nothing sent again.
        again = wrapper(server, "post", "p")
        assert again.returncode == 0, again.stdout + again.stderr  # a refusal is not a failure
        assert re.search(r"^refused\s+outbox en: already published", again.stdout, re.M), again.stdout
        assert outbox_posts(server.home) == {"p": [TEXT]}

        # systemctl reload: SIGHUP.
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: any(m.startswith("SIGHUP: reloaded ") for m in messages(log)), 10, "the SIGHUP reload line")
        assert outbox_posts(server.home) == {"p": [TEXT]}
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0, log.read_text()

    assert server.ledger.is_file()
    assert not server.stray_ledger.exists()
    output = log.read_text(encoding="utf-8")
    assert "Traceback" not in output
    assert f"  ledger {daemon_url}\n" in output  # the banner: the unit's ledger
    assert not [line for line in output.splitlines() if LOG_LINE.match(line)], "a log line not in JSON"
    logged = messages(log)
    deliveries = [m for m in logged if m.startswith("delivery ")]
    assert len(deliveries) == 1, logged
    assert deliveries[0].startswith("delivery p outbox en: published file://"), logged
    assert len([m for m in logged if m.startswith("SIGHUP: reloaded ")]) == 1, logged


def test_the_daemon_speaks_systemds_notify_protocol(tmp_path: Path) -> None:
    require_root()
    server = install(tmp_path)
    write(server.home, [{"id": "later", "text": TEXT, "at": local(datetime.now(UTC) + timedelta(hours=1))}])
    address = tmp_path.resolve() / "notify.sock"
    assert len(str(address)) < 100, f"{address} is too long for an AF_UNIX socket: use a shorter temporary folder"
    log = tmp_path / "daemon.log"
    received: list[tuple[float, int | None, str]] = []  # (monotonic, sender pid, assignment)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(address))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # as systemd does, to check NotifyAccess=main

        def receive_until(condition: Callable[[], bool], limit: float, what: str) -> None:
            deadline = time.monotonic() + limit
            while not condition():
                left = deadline - time.monotonic()
                assert left > 0, f"{what}: not within {limit} s; received {[m for _, _, m in received]}"
                sock.settimeout(left)
                try:
                    data, ancillary, _flags, _address = sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
                except TimeoutError:
                    continue
                sender = None
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                        sender = struct.unpack("3i", payload[: struct.calcsize("3i")])[0]
                now = time.monotonic()
                received.extend((now, sender, line) for line in data.decode().splitlines() if line)

        def seen(message: str) -> list[float]:
            return [at for at, _, line in received if line == message]

        with unit_running(server, log, notify_socket=address) as daemon:
            receive_until(lambda: bool(seen("READY=1")), 30, "READY=1")
            ready_at = seen("READY=1")[0]
            receive_until(
                lambda: len([at for at in seen("WATCHDOG=1") if at > ready_at]) >= 2, 4, "two WATCHDOG=1 after READY=1"
            )
            assert not [at for at in seen("WATCHDOG=1") if at < ready_at], "WATCHDOG=1 before READY=1"
            assert not seen("STOPPING=1")
            daemon.send_signal(signal.SIGTERM)
            receive_until(lambda: bool(seen("STOPPING=1")), 10, "STOPPING=1 after SIGTERM")
            assert daemon.wait(timeout=40) == 0, log.read_text()
    assert seen("READY=1") == [ready_at], "READY=1 more than once"
    # NotifyAccess=main: systemd drops what any other process sends.
    assert {sender for _, sender, _ in received} == {daemon.pid}
    assert "Traceback" not in log.read_text(encoding="utf-8")


def test_the_unit_follows_the_teams_repository(tmp_path: Path) -> None:
    """install.sh --git: git.env after scheduler.env; the checkout in the state directory; a push goes
    live on `systemctl reload` (SIGHUP: fetch now) and the wrapper's `status` names the live commit."""
    require_root()
    server = install(tmp_path)
    (server.etc / "git.env").write_text(server.moved((DEPLOY / "git.env").read_text(encoding="utf-8")))
    checkout = server.root / "var" / "lib" / "slogan-scheduler" / "campaign"
    with forge_at(tmp_path, "file") as forge:
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=12)
        first = forge.push(campaign(("later", TEXT, due + timedelta(days=1))), "Start")
        git(tmp_path, "clone", "--quiet", "--branch", "main", forge.url, str(checkout))
        log = tmp_path / "daemon.log"
        with unit_running(server, log) as daemon:
            wait_for(lambda: "Running (pid" in log.read_text(encoding="utf-8"), 30, "the daemon started")
            assert f"live commit {first[:12]} by Rosa Team" in log.read_text(encoding="utf-8")
            second = forge.push(campaign(("later", TEXT, due + timedelta(days=1)), ("soon", TEXT, due)), "Soon")
            daemon.send_signal(signal.SIGHUP)  # systemctl reload: fetch now, not in a minute
            wait_for(lambda: git(checkout, "rev-parse", "HEAD") == second, 10, "the pushed commit went live")
            status = wrapper(server, "status")
            assert status.returncode == 0, status.stdout + status.stderr
            assert f"  following main: live commit {second[:12]} by Rosa Team <rosa@example.org> (Soon), fetched " in (
                status.stdout
            )
            assert f", running {checkout / 'posts.yaml'} since " in status.stdout
            wait_for(lambda: "soon" in outbox_posts(checkout), 30, "the pushed post went out")
            local_edit = wrapper(server, "validate")
            assert local_edit.returncode == 0, local_edit.stdout + local_edit.stderr
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=40) == 0, log.read_text()
    assert server.ledger.is_file()  # the unit's ledger, not one in the checkout
    assert not (checkout / "state" / "ledger.sqlite3").exists()
    assert "Traceback" not in log.read_text(encoding="utf-8")


def test_commands_on_the_server_read_the_bytecode_install_sh_writes(tmp_path: Path) -> None:
    """The service user may not write /opt/slogan-scheduler (root's, and read-only to the unit), so
    Python cannot cache the package's bytecode there: install.sh writes it as root. Without it, every
    command compiles the package from source before doing anything."""
    require_root()
    server = install(tmp_path)
    shutil.copytree(ROOT / "scheduler", server.home / "scheduler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "posts.yaml", server.posts)

    def compiled_from_source() -> list[str]:
        """The package's modules a command compiles from source, as the service user runs it (here
        root, with Python kept from writing bytecode, as the user is kept from writing the folder)."""
        done = subprocess.run(
            [str(server.home / ".venv" / "bin" / "python"), "-v", str(server.home / "run.py"), "validate"],
            cwd=server.home,
            env={**command_environment(), "PYTHONDONTWRITEBYTECODE": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        loaded = re.findall(r"^# code object from '?(\S+?)'?$", done.stderr, re.MULTILINE)
        ours = [path for path in loaded if path.startswith(f"{server.home / 'scheduler'}/")]
        assert any(path.endswith("models.py") or "models.cpython" in path for path in ours), ours
        return [path for path in ours if path.endswith(".py")]

    assert compiled_from_source(), "the package came from bytecode before install.sh wrote any"
    script = (DEPLOY / "install.sh").read_text(encoding="utf-8")
    (step,) = [line for line in script.splitlines() if "compileall" in line]
    installed = subprocess.run(
        ["/bin/bash", "-c", step], env={**os.environ, "target": str(server.home)}, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr
    assert compiled_from_source() == []
