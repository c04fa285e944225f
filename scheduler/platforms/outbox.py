"""The outbox: a folder that receives exactly what would be posted, and a feed page to read it.

It is the default platform: with no credentials at all, the whole pipeline runs into it. Each
delivery becomes a folder holding post.json (text, thread parts, language, alt text) and the card
image; writing it twice is impossible, since the folder is named after the delivery and moved into
place whole.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.files import write_atomic
from scheduler.platforms.base import Attempt, Counts, PermanentError, Published, RemotePart


class OutboxPlatform:
    name = "outbox"
    idempotent = True

    def __init__(self, account_id: str, folder: Path) -> None:
        self.account_id = account_id
        self.folder = folder

    def check(self) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise PermanentError(f"the outbox folder {self.folder} is not writable ({exc.strerror})") from None
        return str(self.folder)

    def image_limit(self) -> int | None:
        return None

    def prepare(self) -> None:
        """Nothing to open: a folder."""

    def counts(self, ids: list[str]) -> dict[str, Counts]:
        """Nobody reads a folder: it has no counts."""
        return {}

    def publish(self, attempt: Attempt) -> Published:
        outgoing = attempt.outgoing
        entry = self.folder / "posts" / _folder_name(outgoing.key)
        try:
            if not (entry / "post.json").exists():
                self._write(entry, attempt)
            self.write_feed()
        except OSError as exc:  # an unwritable or full folder: one clear line, not a traceback
            raise PermanentError(f"cannot write to the outbox {self.folder} ({exc.strerror or exc})") from None
        parts = tuple(
            RemotePart(id=f"{entry.name}#{i}", url=(entry / "post.json").as_uri()) for i in range(len(outgoing.parts))
        )
        attempt.done[:] = list(parts)
        return Published(parts)

    def _write(self, entry: Path, attempt: Attempt) -> None:
        outgoing = attempt.outgoing
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
        try:
            record: dict[str, Any] = {
                "key": outgoing.key,
                "account": self.account_id,
                "language": outgoing.language,
                "parts": list(outgoing.parts),
                "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            if outgoing.image is not None:
                suffix = ".png" if outgoing.image.mime == "image/png" else ".jpg"
                write_atomic(staging / f"card{suffix}", outgoing.image.data)
                record["image"] = {
                    "file": f"card{suffix}",
                    "mime": outgoing.image.mime,
                    "alt": outgoing.image.alt,
                    "width": outgoing.image.width,
                    "height": outgoing.image.height,
                }
            write_atomic(staging / "post.json", json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))
            staging.rename(entry)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if (entry / "post.json").exists():
                return  # written by a concurrent attempt: the same delivery, already there
            raise PermanentError(f"cannot write to the outbox {self.folder} ({exc.strerror or exc})") from None

    def write_feed(self) -> None:
        """index.html: every post in the outbox, newest first, all text escaped."""
        entries = []
        for path in (self.folder / "posts").glob("*/post.json"):
            try:
                entries.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue
        entries.sort(key=lambda item: item[1].get("key", ""), reverse=True)
        items = "".join(_feed_item(folder, record) for folder, record in entries)
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Outbox</title>'
            f"<style>{_CSS}</style></head><body><main><h1>Outbox</h1>"
            f"<p>{len(entries)} posts written here instead of being published.</p>{items}</main></body></html>"
        )
        write_atomic(self.folder / "index.html", page.encode("utf-8"))


def _folder_name(key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:120]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _feed_item(folder: Path, record: dict[str, Any]) -> str:
    e = html.escape
    image = record.get("image")
    picture = ""
    if image:
        source = f"posts/{folder.name}/{image['file']}"
        picture = f'<img src="{e(source)}" alt="{e(image["alt"])}">'
    parts = "".join(f'<p class="text">{e(part)}</p>' for part in record.get("parts", []))
    key = str(record.get("key", ""))
    post_id, _, rest = key.partition("|")
    due = rest.split("|")[0] if rest else ""
    return (
        f'<article lang="{e(str(record.get("language", "")))}"><h2>{e(post_id)}</h2>'
        f'<p class="meta">{e(str(record.get("account", "")))} · {e(str(record.get("language", "")))} · '
        f"due {e(due)}</p>{picture}{parts}</article>"
    )


_CSS = """
body{margin:0;font:16px/1.45 system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f}
main{max-width:40rem;margin:0 auto;padding:1rem}
article{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem}
h2{font-size:1.05rem;margin:0}.meta{color:#6e6e73;font-size:.85rem;margin:.25rem 0}
img{max-width:100%;height:auto;border-radius:4px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
"""
