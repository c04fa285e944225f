"""Hostile files fail fast and cleanly, with a line number, in bounded time and memory."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler import source
from scheduler.source import SourceError

ROOT = Path(__file__).resolve().parent.parent


def problem_of(raw: bytes) -> tuple[int, int, str]:
    with pytest.raises(SourceError) as caught:
        source.parse(raw)
    p = caught.value.problem
    return p.line, p.column, p.message


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines).encode()


def test_alias_bomb_is_rejected_quickly_with_bounded_memory() -> None:
    # In a fresh interpreter so the memory figure is this parse's alone.
    code = (
        "import resource, time, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tests.test_source import billion_laughs\n"
        "from scheduler import source\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.process_time()\n"
        "try:\n"
        "    source.parse(billion_laughs())\n"
        "except source.SourceError as exc:\n"
        "    print(exc.problem.message)\n"
        "print(time.process_time() - start)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True)
    message, cpu_seconds, grown_kb = out.stdout.splitlines()
    assert message.startswith("aliases (*name) expand this file to")
    assert float(cpu_seconds) < 0.5
    assert int(grown_kb) < 50_000


def test_small_aliases_are_allowed() -> None:
    doc = source.parse(b"shared: &tags [Haiti, MSS]\nother: *tags\nbase: &b {x: 1}\nm: {<<: *b, y: 2}\n")
    assert doc.data["other"] == ["Haiti", "MSS"]
    assert doc.data["m"] == {"x": 1, "y": 2}


def test_huge_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "posts.yaml"
    path.write_bytes(b"# " + b"x" * (source.MAX_FILE_BYTES + 10))
    started = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        source.read(path)
    assert caught.value.problem.message.startswith("the file is 5.2 MB; a campaign file may be at most 5 MB")
    assert time.perf_counter() - started < 1.0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        source.read(tmp_path / "nope.yaml")
    assert caught.value.problem.message == "cannot read the file: No such file or directory"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a: 1\n\x00\x00\x00", (2, 1, "this is not a text file (it contains NUL bytes)")),
        (b"a: 1\nb: \xff\xfe\n", (2, 1, "not UTF-8 text (byte 0xff); save the file as UTF-8")),
        (b"a: 1\nb: \x1b[31m\n", (2, 4, "control character U+001B: this does not look like a text file")),
        (b"", (1, 1, "the file is empty; it should hold the campaign settings and posts")),
        (b"   \n\n", (1, 1, "the file is empty; it should hold the campaign settings and posts")),
        (b"a:\n  b: 1\n\tc: 2\n", (3, 1, "a tab character; indent with spaces only")),
        (b"a: 1\na: 2\n", (2, 1, "duplicate key 'a' (first written on line 1)")),
        (b"a: " + b"[" * 2000 + b"]" * 2000, (1, 1003, "the file nests lists or mappings too deeply")),
        (
            b"a: !!python/object:os.system x\n",
            (1, 4, "unsupported YAML tag tag:yaml.org,2002:python/object:os.system; write plain values"),
        ),
        (b"a: 'unterminated\n", (1, 4, "this ' is not closed: end the text with ' on the same line")),
        (b"a: [b, c\n", (2, 1, "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence")),
    ],
)
def test_hostile_input(raw: bytes, expected: tuple[int, int, str]) -> None:
    assert problem_of(raw) == expected


def test_deep_block_nesting_is_refused() -> None:
    raw = "".join(f"{'  ' * i}k{i}:\n" for i in range(200)).encode()
    line, _, message = problem_of(raw)
    assert message == "the file nests lists or mappings too deeply"
    assert line == source.MAX_DEPTH + 2  # the value under the 65th key


def test_timestamps_stay_as_written_and_positions_are_kept() -> None:
    doc = source.parse(b"timezone: UTC\nposts:\n  - id: p\n    at: 2026-12-01 09:00:00\n    n: 3\n")
    assert doc.data["posts"][0]["at"] == "2026-12-01 09:00:00"
    assert doc.data["posts"][0]["n"] == 3
    assert doc.locate(("posts", 0, "at")) == (4, 9)
    assert doc.locate(("posts", 0, "at"), key=True) == (4, 5)
    assert doc.locate(("posts", 0, "missing", "deeper")) == (3, 5)
