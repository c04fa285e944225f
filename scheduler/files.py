"""Writing files so that a crash or a full disk never leaves one half-written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise


def digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks (a font is 11 MB: no need to hold it all)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def state_dir(project: Path) -> Path:
    """The folder beside posts.yaml holding what the scheduler keeps (ledger, card cache, sessions),
    readable by its owner only."""
    folder = project / "state"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder


def default_ledger_url(project: Path) -> str:
    """The ledger when nothing says otherwise: state/ledger.sqlite3 beside posts.yaml."""
    return f"sqlite:///{project / 'state' / 'ledger.sqlite3'}"
