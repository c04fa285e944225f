"""What the team's HTML pages (the preview, the report) share: escaping, counting words, the document around
a page's body. Every page is one self-contained file: its CSS inline, no script, no external file."""

from __future__ import annotations

import html
from pathlib import Path

from scheduler.files import write_atomic

PAGE_MODE = 0o644  # the team reads the pages; state/ stays private


def escape(value: object) -> str:
    """Any value as HTML text or an attribute value: nothing in it is ever markup."""
    return html.escape(str(value), quote=True)


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def document(title: str, css: str, body: list[str]) -> str:
    """A phone-first page: the viewport set for small screens, `css` inline, `body` in <main>."""
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{css}</style></head><body><main>",
            *body,
            "</main></body></html>",
        ]
    )


def write_page(path: Path, data: bytes) -> None:
    """A page (or a file it links to), written whole and readable by the team."""
    write_atomic(path, data)
    path.chmod(PAGE_MODE)
