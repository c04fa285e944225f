"""The daemon follows a branch: posts.yaml is a file in a git checkout the daemon owns.

At each interval the branch is fetched; a new commit is first exported to a scratch folder and
checked there in full (and its signature, when approvals are required), so the checkout itself
only ever holds a commit that passed. A commit that fails is reported once, with its hash, author
and problems, and the last good commit keeps running. A force-push is just another commit: the
ledger, not git, knows what went out, so going back to an older commit re-posts nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scheduler import content, repo
from scheduler.errors import SchedulerError
from scheduler.files import write_atomic

log = logging.getLogger(__name__)

PGP_BLOCK = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL)


@dataclass(frozen=True)
class Settings:
    branch: str = "main"
    every: timedelta = timedelta(seconds=60)
    remote: str = "origin"
    signers: Path | None = None  # approved keys: SSH allowed-signers lines and/or armored GPG public keys


@dataclass(frozen=True)
class Rejection:
    """A newer commit the daemon would not run, and why."""

    commit: str
    author: str
    subject: str
    problems: tuple[str, ...]
    seen: str  # ISO, UTC

    def summary(self) -> str:
        first = self.problems[0] if self.problems else "rejected"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.commit[:12]} by {self.author} ({self.subject}): {first}{more}"


@dataclass(frozen=True)
class Standing:
    """What a person needs to know about the branch the daemon follows (shown by `status`)."""

    branch: str
    commit: str
    author: str
    subject: str
    fetched: str | None  # ISO, UTC: the last successful fetch
    rejected: dict[str, object] | None  # a Rejection, as a mapping
    fetch_error: str | None = None


class Follower:
    def __init__(self, config: Path, settings: Settings, state: Path) -> None:
        checkout = repo.toplevel(config.resolve().parent)
        if checkout is None:
            raise SchedulerError(
                f"{config} is not in a git checkout, so there is no branch to follow: clone the team's "
                f"repository (git clone URL DIR) and give DIR/posts.yaml as --config"
            )
        self.checkout = checkout
        self.relative = config.resolve().relative_to(checkout.resolve())
        self.settings = settings
        self.scratch = state / "git"
        self.live = repo.commit(checkout, "HEAD")
        self.fetched: datetime | None = None
        self.fetch_error: str | None = None
        self.rejection: Rejection | None = None
        self._signers_digest: str | None = None

    @property
    def tracking_ref(self) -> str:
        return f"refs/remotes/{self.settings.remote}/{self.settings.branch}"

    def fetch(self, now: datetime) -> repo.Commit:
        """The branch's tip on the remote (a force-push included). GitError when it cannot be reached."""
        refspec = f"+refs/heads/{self.settings.branch}:{self.tracking_ref}"
        try:
            repo.git(self.checkout, "fetch", "--quiet", "--no-tags", self.settings.remote, refspec)
        except repo.GitError as exc:
            self.fetch_error = str(exc)
            raise
        self.fetched, self.fetch_error = now, None
        return repo.commit(self.checkout, self.tracking_ref)

    def poll(self, now: datetime) -> repo.Commit | Rejection | None:
        """Fetch the branch. A new tip that passes is returned for the caller to switch to (under its
        own lock); one that fails is rejected, once; otherwise None. GitError when the fetch fails."""
        tip = self.fetch(now)
        if tip.sha == self.live.sha:
            self.rejection = None  # the branch came back to the live commit (a revert, a force-push)
            return None
        if self.rejection is not None and self.rejection.commit == tip.sha:
            return None
        problems = self.vet(tip, now)
        return self.reject(tip, problems, now) if problems else tip

    def vet(self, commit: repo.Commit, now: datetime) -> list[str]:
        """Why `commit` must not run (its signature, then every error `validate` finds), or nothing."""
        refusal = self.signature_problem(commit)
        if refusal:
            return [refusal]
        with repo.ExportedTree(self.checkout, commit.sha, self.scratch) as root:
            candidate = root / self.relative
            if not candidate.is_file():
                return [f"{self.relative} is not in this commit"]
            report = content.check(candidate, now=now)
            return [problem.render(str(self.relative)) for problem in report.errors]

    def reject(self, commit: repo.Commit, problems: list[str], now: datetime) -> Rejection:
        self.rejection = Rejection(
            commit.sha, commit.author, commit.subject, tuple(problems), now.isoformat(timespec="seconds")
        )
        return self.rejection

    def switch(self, commit: repo.Commit) -> None:
        """Put the checkout on `commit` (detached: the daemon owns it; local edits there are discarded)."""
        repo.git(self.checkout, "checkout", "--quiet", "--force", "--detach", commit.sha)
        self.live = commit
        if self.rejection is not None and self.rejection.commit != commit.sha:
            self.rejection = None  # a later good commit supersedes the rejected one

    def edited_here(self) -> bool:
        """posts.yaml differs from the live commit in the checkout (someone edited it on the server)."""
        try:
            return bool(repo.git(self.checkout, "status", "--porcelain", "--", str(self.relative)).strip())
        except repo.GitError:
            return False

    def standing(self) -> Standing:
        return Standing(
            self.settings.branch,
            self.live.sha,
            self.live.author,
            self.live.subject,
            self.fetched.isoformat(timespec="seconds") if self.fetched else None,
            asdict(self.rejection) if self.rejection else None,
            self.fetch_error,
        )

    def signature_problem(self, commit: repo.Commit) -> str | None:
        """Why `commit` lacks an approval, when approvals are required."""
        if self.settings.signers is None:
            return None
        raw = repo.git(self.checkout, "cat-file", "commit", commit.sha)
        if "\ngpgsig " not in raw.split("\n\n", 1)[0]:
            return "the commit is not signed, and this daemon runs only commits signed by an approved key"
        allowed, gnupg = self._trusted_keys()
        try:
            repo.git(
                self.checkout,
                "-c",
                f"gpg.ssh.allowedSignersFile={allowed}",
                "verify-commit",
                commit.sha,
                env={"GNUPGHOME": str(gnupg)},
            )
        except repo.GitError:
            return f"the commit is signed, but not by a key approved in {self.settings.signers}"
        return None

    def _trusted_keys(self) -> tuple[Path, Path]:
        """The approved keys, as git reads them: an SSH allowed-signers file and a GPG keyring of
        only the listed keys (rebuilt when the signers file changes)."""
        assert self.settings.signers is not None
        try:
            listing = self.settings.signers.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchedulerError(f"cannot read the approved keys {self.settings.signers}: {exc.strerror}") from None
        keys = self.scratch / "keys"
        allowed, gnupg = keys / "allowed_signers", keys / "gnupg"
        digest = hashlib.sha256(listing.encode()).hexdigest()
        if digest == self._signers_digest and gnupg.is_dir():
            return allowed, gnupg
        shutil.rmtree(keys, ignore_errors=True)
        gnupg.mkdir(parents=True, mode=0o700)
        ssh_lines = [
            line for line in PGP_BLOCK.sub("", listing).splitlines() if line.strip() and not line.startswith("#")
        ]
        write_atomic(allowed, ("\n".join(ssh_lines) + "\n").encode())
        for block in PGP_BLOCK.findall(listing):
            _import_gpg_key(gnupg, block)
        self._signers_digest = digest
        return allowed, gnupg


def _import_gpg_key(gnupg: Path, block: str) -> None:
    try:
        subprocess.run(
            ["gpg", "--batch", "--quiet", "--no-autostart", "--import"],  # noqa: S607
            input=block.encode(),
            env={"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=60,
            check=True,
        )
    except FileNotFoundError:
        raise SchedulerError(
            "the approved keys include a GPG key, but gpg is not installed (apt-get install gpg)"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise SchedulerError(
            f"a GPG key in the approved keys could not be read: {exc.stderr.decode().strip()}"
        ) from None


def announce(rejection: Rejection, live: repo.Commit) -> str:
    """Log a rejected commit with each of its problems; the one line for the webhook."""
    log.error(
        "commit %s by %s (%s) was not put live: %d problem%s; still running %s",
        rejection.commit[:12],
        rejection.author,
        rejection.subject,
        len(rejection.problems),
        "" if len(rejection.problems) == 1 else "s",
        live.short,
    )
    for problem in rejection.problems:
        log.error("  %s", problem)
    return f"commit {rejection.summary()}; still running {live.short}"
