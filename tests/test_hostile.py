"""Hostile input and a full disk: posts.yaml fuzzed, the outbox, the card cache and the ledger
filling up. Nothing raises but a content error, nothing is left half-written."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import content
from scheduler.cards import CardStore
from scheduler.errors import SchedulerError
from scheduler.ledger import Ledger
from scheduler.models import Delivery
from tests.cards_support import spec
from tests.conftest import ROOT

SHIPPED = (ROOT / "posts.yaml").read_text(encoding="utf-8")
NOW = datetime(2026, 11, 28, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["2026-02-30 09:00", "mon 09:00", "0 9 * * *", "#zzzzzz", "x", "outbox", "en"]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "timezone",
            "languages",
            "accounts",
            "posts",
            "brand",
            "id",
            "text",
            "at",
            "every",
            "card",
            "platform",
            "slogan",
            "excerpt",
            "queue",
            "slots",
            "max_late",
            "api_key",
            "<<",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)),
    max_leaves=40,
)


def check_survives(project: Path, text: bytes) -> None:
    (project / "posts.yaml").write_bytes(text)
    report = content.check(project / "posts.yaml", now=NOW)
    assert report.campaign is not None or report.errors
    for problem in report.problems:
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "assets", folder / "assets")
    return folder


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_structure_gives_content_errors_only(fuzz_project: Path, document: object) -> None:
    check_survives(fuzz_project, yaml.safe_dump(document, allow_unicode=True).encode())


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_edit_of_the_shipped_file_gives_content_errors_only(fuzz_project: Path, data: st.DataObject) -> None:
    text = SHIPPED
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:position] + text[position + data.draw(st.integers(1, 30)) :]
        else:
            text = text[:position] + data.draw(st.text(min_size=1, max_size=10)) + text[position:]
    check_survives(fuzz_project, text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=100, deadline=2000)
@given(st.binary(max_size=400))
def test_any_bytes_give_content_errors_only(fuzz_project: Path, raw: bytes) -> None:
    check_survives(fuzz_project, raw)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[object]:
    """Mount small tmpfs file systems at chosen folders (root only), unmounted afterwards."""
    assert os.geteuid() == 0, "the full-disk tests mount a tmpfs and need root (CI runs as root)"
    mounted: list[Path] = []

    def mount(folder: Path, size_kb: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill_until_error(action: Callable[[int], object]) -> tuple[int, Exception]:
    """Run action(0), action(1), ... until it raises; how many succeeded, and what it raised."""
    for index in range(100_000):
        try:
            action(index)
        except Exception as exc:
            return index, exc
    raise AssertionError("the disk never filled up")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name != ".write-test")


def test_full_card_cache_leaves_no_partial_card(tmp_path: Path, tiny_disk: object) -> None:
    folder = tiny_disk(tmp_path / "cards", 40)  # type: ignore[operator]
    store = CardStore(folder)
    with pytest.raises(OSError, match="No space left"):
        store.png(spec("quote", "es", "portrait"))
    assert list(folder.iterdir()) == []


def test_full_outbox_leaves_no_half_written_post(tmp_path: Path, tiny_disk: object) -> None:
    from scheduler.platforms.base import Attempt, Image, Outgoing, PermanentError
    from scheduler.platforms.outbox import OutboxPlatform

    folder = tiny_disk(tmp_path / "outbox", 200)  # type: ignore[operator]
    outbox = OutboxPlatform("outbox", folder)
    card = Image((ROOT / "assets" / "logo.png").read_bytes() * 4, "image/png", "alt", 256, 256)
    written, error = fill_until_error(
        lambda i: outbox.publish(Attempt(Outgoing(f"p{i}|2026-12-01T14:00:00Z|outbox|en", "en", ("text",), card)))
    )
    assert isinstance(error, PermanentError)
    assert "cannot write to the outbox" in str(error)
    assert written > 0
    entries = list((folder / "posts").iterdir())
    assert len([e for e in entries if not e.name.startswith(".")]) == written
    assert leftovers(folder / "posts") == []
    for entry in (folder / "posts").glob("*/post.json"):
        record = json.loads(entry.read_text(encoding="utf-8"))
        assert (entry.parent / record["image"]["file"]).stat().st_size == len(card.data)


def test_full_disk_under_the_ledger_is_an_error_and_the_ledger_survives(tmp_path: Path, tiny_disk: object) -> None:
    folder = tiny_disk(tmp_path / "state", 256)  # type: ignore[operator]
    ledger = Ledger(f"sqlite:///{folder / 'ledger.sqlite3'}")
    ballast = folder / "ballast"
    ballast.write_bytes(b"\0" * 32_768)  # freed afterwards, as an operator would free space
    due = datetime(2026, 12, 1, tzinfo=UTC)
    written, error = fill_until_error(
        lambda i: ledger.ensure(Delivery(due, f"post-{i:06d}-" + "x" * 40, "outbox", "en"), NOW)
    )
    assert isinstance(error, SchedulerError)
    assert "cannot be used" in str(error)
    ledger.close()
    ballast.unlink()
    survivor = Ledger(f"sqlite:///{folder / 'ledger.sqlite3'}")
    with contextlib.closing(sqlite3.connect(folder / "ledger.sqlite3")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(survivor.records()) == written
    survivor.close()
