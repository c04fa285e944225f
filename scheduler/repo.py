"""posts.yaml in git: reading a file as it was at a revision, and the checkout a daemon follows.

Everything goes through the `git` command itself (fetch over SSH or HTTP, signature checks), so
whatever git can reach and verify, the scheduler can.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scheduler.errors import SchedulerError

GIT_TIMEOUT = 120.0  # seconds one git command may take (a fetch over a slow link included)


class GitError(SchedulerError):
    """A git command failed; the message is git's own last line of complaint."""


def git(repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = GIT_TIMEOUT) -> str:
    """Run `git -C repo ARGS` without a terminal prompt; its output, or GitError."""
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    environment.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    try:
        done = subprocess.run(  # noqa: S603 - git with fixed subcommands, no shell
            ["git", "-C", str(repo), *args],  # noqa: S607
            capture_output=True,
            env=environment,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise GitError(f"git {args[0]}: {lines[-1] if lines else f'exit status {done.returncode}'}")
    return done.stdout.decode(errors="replace")


def toplevel(path: Path) -> Path | None:
    """The root of the git work tree holding `path`, or None outside one."""
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").strip())
    except GitError:
        return None


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str  # "Name <email>"
    date: str  # ISO 8601, the committer's date
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]

    def describe(self) -> str:
        return f"{self.short} by {self.author} ({self.subject})"


def commit(repo: Path, revision: str) -> Commit:
    """The commit a revision names (a branch, tag, hash, `HEAD~1`...)."""
    if revision.startswith("-"):  # git would read it as one of its options
        raise GitError(f"'{revision}' is not a revision")
    shown = git(repo, "show", "-s", "--format=%H%x00%an <%ae>%x00%cI%x00%s", f"{revision}^{{commit}}", "--")
    sha, author, date, subject = shown.rstrip("\n").split("\x00", 3)
    return Commit(sha, author, date, subject)


def export(repo: Path, revision: str, destination: Path) -> None:
    """Write the whole tree of `revision` into `destination` (which must exist), as `git archive` gives it."""
    with tempfile.TemporaryFile() as archive:
        try:
            subprocess.run(  # noqa: S603 - git with fixed subcommands, no shell
                ["git", "-C", str(repo), "archive", "--format=tar", f"{revision}^{{tree}}"],  # noqa: S607
                stdout=archive,
                stderr=subprocess.PIPE,
                timeout=GIT_TIMEOUT,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            lines = exc.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git archive {revision}: {lines[-1] if lines else 'failed'}") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git archive {revision} took longer than {GIT_TIMEOUT:.0f} s") from None
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(destination, filter="data")


class ExportedTree:
    """A revision's tree exported to a scratch folder, removed on exit:
    `with ExportedTree(repo, "main") as root: content.check(root / "posts.yaml")`."""

    def __init__(self, repo: Path, revision: str, parent: Path | None = None) -> None:
        self.repo, self.revision, self.parent = repo, revision, parent
        self.root: Path | None = None

    def __enter__(self) -> Path:
        if self.parent is not None:
            self.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="revision-", dir=self.parent))
        try:
            export(self.repo, self.revision, self.root)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self.root

    def __exit__(self, *_exc: object) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
