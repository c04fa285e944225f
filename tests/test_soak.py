"""The reliability benchmark (bench/reliability.py) at a small size: a crash soak with SIGKILLs and peer
faults, two daemons on one PostgreSQL ledger, the fault matrix and the fuzzing; no duplicate, no silent loss."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def figure(pattern: str, output: str) -> tuple[int, ...]:
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"{pattern!r} is not in the benchmark's output:\n{output}"
    return tuple(int(group) for group in found.groups())


def test_the_reliability_benchmark_finds_no_duplicate_and_no_silent_loss() -> None:
    command = [
        sys.executable,
        str(ROOT / "bench" / "reliability.py"),
        "--deliveries",
        "40",
        "--kills",
        "5",
        "--seed",
        "1",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    # The soak's table, total row: 7 ledger states (the last: no row) | ok, unconfirmed, accounted, duplicate, loss.
    total = re.search(r"^\s+total\s+([\d\s|]+)$", output, re.MULTILINE)
    assert total, output
    states, kinds = ([int(n) for n in half.split()] for half in total.group(1).split("|"))
    assert len(states) == 7
    assert len(kinds) == 5
    assert sum(states) == 40
    assert states[4:] == [0, 0, 0], output  # none left pending, claimed, or without a ledger row
    assert sum(kinds[:3]) == 40  # ok, unconfirmed (X only), accounted for
    assert kinds[3:] == [0, 0], output  # duplicates, silent losses

    duplicates, losses, kills = figure(r"crash soak: duplicates (\d+), silent losses (\d+), kills done (\d+)", output)
    assert (duplicates, losses) == (0, 0)
    assert kills == 5
    deliveries, once, duplicates, losses = figure(
        r"two daemons: deliveries (\d+), each delivered exactly once (\d+), duplicates (\d+), losses (\d+)", output
    )
    assert (deliveries, once, duplicates, losses) == (100, 100, 0, 0), output
    cells, most, duplicates, losses = figure(
        r"fault matrix: (\d+) cells, most copies of one post (\d+), duplicates (\d+), silent losses (\d+)", output
    )
    assert (cells, most, duplicates, losses) == (15, 1, 0, 0), output
    inputs, unexpected = figure(r"fuzzing: (\d+) inputs, (\d+) unexpected", output)
    assert inputs >= 1000
    assert unexpected == 0
    assert "RESULT: no duplicate, no silent loss" in output
