"""Reliability under load and failure: two daemons sharing one PostgreSQL ledger, one of them killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from mastodon_mock.testing import MockServer

from scheduler.ledger import Ledger
from tests.conftest import ROOT
from tests.test_daemon import local


def fresh_database(postgres_url: str, name: str) -> str:
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def test_two_daemons_one_postgres_ledger_each_delivery_once(
    tmp_path: Path, postgres_url: str, mastodon_server: MockServer
) -> None:
    ledger_url = fresh_database(postgres_url, "two_daemons")
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    stamp = time.time_ns()
    posts = []
    for index in range(50):  # 50 posts x 2 accounts = 100 deliveries, two due every 0.8 s
        due = start + timedelta(milliseconds=800 * index)
        posts.append(
            f'  - id: p{index:03d}\n    text: {{en: "Shared delivery {index} {stamp}"}}\n'
            f'    at: "{local(due)}.{due.microsecond:06d}"\n'
        )
    (tmp_path / "posts.yaml").write_text(
        "timezone: America/New_York\nlanguages: [en]\naccounts:\n"
        f'  mastodon: {{platform: mastodon, instance: "{mastodon_server.base_url}", languages: [en]}}\n'
        "  outbox: {platform: outbox, languages: [en]}\nposts:\n" + "".join(posts),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "MASTODON_ACCESS_TOKEN": "alice_token",
        "SCHEDULER_REQUEST_TIMEOUT": "5",
        "SCHEDULER_LEDGER": ledger_url,
    }
    logs = [(tmp_path / f"daemon{i}.log").open("wb") for i in range(2)]
    daemons = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "daemon", "-v"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    time.sleep(max(0.0, (start + timedelta(seconds=20) - datetime.now(UTC)).total_seconds()))

    def published(index: int) -> int:
        return (tmp_path / f"daemon{index}.log").read_text().count(": published")

    # Midway, kill the busier daemon: the other one must take over and finish the work.
    victim = 0 if published(0) >= published(1) else 1
    survivor = 1 - victim
    daemons[victim].send_signal(signal.SIGKILL)
    daemons[victim].wait()
    before = published(survivor)
    last = start + timedelta(milliseconds=800 * 49)
    time.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 15)
    daemons[survivor].send_signal(signal.SIGTERM)
    assert daemons[survivor].wait(timeout=60) == 0
    assert published(survivor) > before
    records = Ledger(ledger_url).records()
    assert len(records) == 100
    assert {r.state for r in records} == {"published"}, [
        (r.delivery, r.state, r.error) for r in records if r.state != "published"
    ]
    client = mastodon_server.client("alice")
    me = client.account_verify_credentials()
    contents = []
    max_id = None
    while True:
        page = client.account_statuses(me["id"], limit=40, max_id=max_id)
        if not page:
            break
        contents += [s["content"] for s in page]
        max_id = page[-1]["id"]
    for index in range(50):
        assert sum(f"Shared delivery {index} {stamp}<" in c for c in contents) == 1, index
    written = list((tmp_path / "outbox" / "posts").glob("*/post.json"))
    assert len(written) == 50
