"""Benchmark: a cold `python run.py post` against the local peers, next to the npm tool @humanwhocodes/crosspost.

Starts a Bluesky PDS (tests/peers/pds/run.sh) and mastodon-mock (in this process), makes a project with
one post (the square "U.S. out of Haiti!" slogan card) for a fresh Bluesky account and the mock's alice,
then times separate cold processes, each several times (median wall seconds, max peak RSS):

  ours       `run.py post ID --dry-run` (the first run renders the card, the others find it cached)
  ours       `run.py post ID --account bluesky [--force]` (the first run logs in, later runs reuse
             the session saved under state/sessions)
  ours       `run.py post ID --account mastodon [--force]`
  ours       `run.py post ID --account x-en --force` against the X stub (reported; crosspost cannot use it)
  crosspost  `node --import bench/crosspost/preload.mjs .../crosspost/dist/bin.js -b|-m --image CARD
             --image-alt ALT TEXT`: the same text, card and alt text, to the same servers

Target per platform: ours no slower and no larger than crosspost (both ratios <= 1). Then profiles
our cold `post`: -X importtime, then cProfile of its run-time work (imports done beforehand) and of a
warm second run in the same process. Exit 0 whether or not the
targets are met; 1 if the benchmark itself could not run (a peer did not start, a post failed).

Run: .venv/bin/python bench/post.py [--runs 5] [--node PATH] [--no-profile]
Peak RSS is each child's maximum resident set size as GNU /usr/bin/time reports it (%M), in MiB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CROSSPOST_DIR = Path(__file__).resolve().parent / "crosspost"
CROSSPOST_BIN = CROSSPOST_DIR / "node_modules" / "@humanwhocodes" / "crosspost" / "dist" / "bin.js"
PRELOAD = CROSSPOST_DIR / "preload.mjs"
RUN_PY = ROOT / "run.py"
PYTHON = sys.executable
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)

POST_ID = "us-out-of-haiti"
TEXT_EN = "U.S. out of Haiti!"
TEXT_ES = "¡EE.UU. fuera de Haití!"
MASTODON_TOKEN = "alice_token"  # noqa: S105 - seeded by mastodon-mock's default test seed, loopback only
PLATFORMS = ("bluesky", "mastodon")
STARTUP = frozenset({"_frozen_importlib_external", "zipimport", "encodings", "_signal", "io", "site"})
POSTS_YAML = """\
timezone: America/New_York
languages: [en, es]
accounts:
  bluesky: {{platform: bluesky, handle: "{handle}", service: "{pds}", languages: [en]}}
  mastodon: {{platform: mastodon, instance: "{mastodon}", languages: [en]}}
  x-en: {{platform: x, api_base: "{x}", languages: [en]}}
posts:
  - id: {post_id}
    text: {{en: "{en}", es: "{es}"}}
    card: {{slogan: {{en: "{en}", es: "{es}"}}, size: square}}
    at: 2030-12-01 09:00
"""


def x_post(index: int) -> str:
    return f"x-copy-{index}"


def x_posts(count: int) -> str:
    """Copies of the post for X alone, each with its own text (X refuses a repeat) and the same card."""
    return "".join(
        f"  - id: {x_post(index)}\n"
        f'    text: {{en: "{TEXT_EN} ({index})"}}\n'
        f'    card: {{slogan: {{en: "{TEXT_EN}"}}, size: square}}\n'
        "    accounts: [x-en]\n"
        "    at: 2030-12-01 09:00\n"
        for index in range(count)
    )


class BenchError(Exception):
    """The benchmark itself could not run: a peer did not start, or a measured command failed."""


# --- measuring a cold process ------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    wall: float  # seconds, fork to reap
    rss_mb: float  # the child's peak RSS (/usr/bin/time %M), MiB
    code: int
    out: str
    err: str


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Run one process to the end: its wall time, and its own peak RSS as /usr/bin/time reports it.

    Not os.wait4 or RUSAGE_CHILDREN straight from here: a child forked from this (large) process starts
    with this process's RSS as its high-water mark, which exec does not reset. /usr/bin/time is small.
    """
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed = [TIME, "-f", "%M", "-o", usage.name, *command]
        started = time.perf_counter()
        code = subprocess.run(
            timed, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False
        ).returncode
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = usage.read().split()
        rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return Measured(
            wall, rss_kib / 1024, code, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        )


@dataclass
class Series:
    tool: str
    what: str
    note: str = ""
    runs: list[Measured] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.runs)


def expect(measured: Measured, label: str, must: str, must_not: str | None = None) -> Measured:
    if measured.code != 0 or must not in measured.out or (must_not and must_not in measured.out):
        raise BenchError(
            f"{label} failed (exit {measured.code}); expected {must!r} in its output\n"
            f"--- stdout\n{measured.out}--- stderr\n{measured.err}"
        )
    return measured


class Clock:
    """`post --force` makes a delivery due now, to the second: two runs in one second would be one delivery.

    So a forced run starts only in a later second than the previous one ended.
    """

    def __init__(self) -> None:
        self.last_end = 0.0

    def wait(self) -> None:
        now = time.time()
        if int(now) == int(self.last_end):
            time.sleep(int(now) + 1.01 - now)

    def ended(self) -> None:
        self.last_end = time.time()


# --- the peers -----------------------------------------------------------------------------------


@contextmanager
def mastodon(folder: Path) -> Iterator[str]:
    """mastodon-mock in this process (a uvicorn thread), seeded with alice; its media under `folder`."""
    from mastodon_mock.config import DatabaseConfig, MastodonMockConfig
    from mastodon_mock.testing import DEFAULT_TEST_SEED, MockServer

    media = folder / "mastodon-media"
    media.mkdir()
    config = MastodonMockConfig(
        database=DatabaseConfig(path=":memory:"), seed=DEFAULT_TEST_SEED, media_storage_path=str(media)
    )
    with MockServer(config=config) as server:
        yield str(server.base_url).rstrip("/")


def ensure_crosspost() -> None:
    """npm ci into bench/crosspost/node_modules when it is not there yet (a fresh clone)."""
    if CROSSPOST_BIN.is_file():
        return
    print("installing @humanwhocodes/crosspost: npm ci in bench/crosspost", flush=True)
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=CROSSPOST_DIR, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not CROSSPOST_BIN.is_file():
        raise BenchError(f"npm ci in {CROSSPOST_DIR} failed:\n{done.stdout}{done.stderr}")


# --- the runs ------------------------------------------------------------------------------------


@dataclass
class Bench:
    project: Path
    work: Path
    node: str
    runs: int
    ours_env: dict[str, str]
    crosspost_env: dict[str, dict[str, str]]
    clock: Clock = field(default_factory=Clock)
    posted: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    series: list[Series] = field(default_factory=list)
    baselines: list[Series] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)
    alt: str = ""

    def ours(self, *args: str, python_flags: tuple[str, ...] = (), post_id: str = POST_ID) -> list[str]:
        return [PYTHON, *python_flags, str(RUN_PY), "post", post_id, *args]

    def ours_post(
        self, platform: str, *, force: bool, python_flags: tuple[str, ...] = (), post_id: str = POST_ID
    ) -> Measured:
        self.clock.wait()
        flags = ("--account", platform, *(["--force"] if force else []))
        command = self.ours(*flags, python_flags=python_flags, post_id=post_id)
        measured = measure(command, self.project, self.ours_env)
        self.clock.ended()
        expect(measured, f"ours post --account {platform}", f"published   {platform} en ", "[already recorded]")
        self.posted[("ours", platform)] += 1
        return measured

    def crosspost(self, platform: str) -> Measured:
        flag = "--bluesky" if platform == "bluesky" else "--mastodon"
        image = self.images[platform]
        command = [
            self.node,
            "--import",
            PRELOAD.as_uri(),
            str(CROSSPOST_BIN),
            flag,
            "--image",
            str(image),
            "--image-alt",
            self.alt,
            TEXT_EN,
        ]
        measured = measure(command, self.work, self.crosspost_env[platform])
        expect(measured, f"crosspost {flag}", "succeeded.")
        self.posted[("crosspost", platform)] += 1
        return measured

    def run(self) -> None:
        runs = self.runs
        print(f"baselines: interpreter start-up ({runs} runs each)", flush=True)
        for label, command in (
            ("python -c pass", [PYTHON, "-c", "pass"]),
            ("python -c 'import scheduler.cli'", [PYTHON, "-c", "import scheduler.cli"]),
            ("node -e 0", [self.node, "-e", "0"]),
            ("node crosspost --version", [self.node, str(CROSSPOST_BIN), "--version"]),
        ):
            series = Series("baseline", label)
            series.runs = [expect(measure(command, self.project, self.ours_env), label, "") for _ in range(runs)]
            self.baselines.append(series)

        print(f"ours: post --dry-run, all accounts (1 + {runs} runs)", flush=True)
        dry = [
            expect(measure(self.ours("--dry-run"), self.project, self.ours_env), "dry-run", "would post  bluesky")
            for _ in range(runs + 1)
        ]
        self.series.append(Series("ours", "dry-run", "first run: card rendered", dry[:1]))
        self.series.append(Series("ours", "dry-run", "card cached", dry[1:]))
        self.prepare_card(dry[0].out)

        print("ours: first real post per platform (Bluesky logs in and saves its session)", flush=True)
        for platform in PLATFORMS:
            note = "first run: logs in" if platform == "bluesky" else "first run"
            self.series.append(Series("ours", platform, note, [self.ours_post(platform, force=False)]))

        print(f"ours: X against the stub of its API ({runs} runs; crosspost cannot be pointed at a stub)", flush=True)
        # X refuses a repeat of the same text: each run posts its own copy of the post, with the same card.
        self.ours_post("x-en", force=False, post_id=x_post(0))
        x_runs = [self.ours_post("x-en", force=False, post_id=x_post(index)) for index in range(1, runs + 1)]
        self.series.append(Series("ours", "x-en", "X stub; one post each", x_runs))

        print(f"ours and crosspost, interleaved: {runs} runs per tool and platform", flush=True)
        warm = {
            platform: (
                Series("ours", platform, "session reused" if platform == "bluesky" else "--force"),
                Series("crosspost", platform, "logs in every run" if platform == "bluesky" else ""),
            )
            for platform in PLATFORMS
        }
        for index in range(runs):
            for platform in PLATFORMS:
                ours, theirs = warm[platform]
                ours.runs.append(self.ours_post(platform, force=True))
                theirs.runs.append(self.crosspost(platform))
            print(f"  round {index + 1}/{runs} done", flush=True)
        for platform in PLATFORMS:
            self.series.extend(warm[platform])

    def prepare_card(self, dry_run_output: str) -> None:
        """The exact image and alt text our `post` uploads, for crosspost to upload too (from the card cache)."""
        from datetime import UTC, datetime

        from scheduler import content
        from scheduler.cards import CardStore, alt_text, specs_for
        from scheduler.models import image_cap

        report = content.check(self.project / "posts.yaml", now=datetime.now(UTC))
        campaign = report.campaign
        if campaign is None:
            raise BenchError(
                "posts.yaml does not validate:\n" + "\n".join(p.render("posts.yaml") for p in report.problems)
            )
        post = next(p for p in campaign.posts if p.id == POST_ID)
        spec = specs_for(campaign, post, self.project)["en"]
        store = CardStore(self.project / "state" / "cards")
        reported = [int(n.replace(",", "")) for n in re.findall(r"image: \S+, ([\d,]+) bytes", dry_run_output)]
        for platform in PLATFORMS:
            cap = image_cap(campaign.accounts[platform], platform)
            data, mime = store.upload(spec, cap) if cap is not None else (store.png(spec).read_bytes(), "image/png")
            if len(data) not in reported:
                raise BenchError(f"the {platform} card is {len(data)} bytes; the dry run reported {reported}")
            path = self.work / f"card-{platform}.{mime.split('/')[1]}"
            path.write_bytes(data)
            self.images[platform] = path
        self.alt = alt_text(campaign, post, "en")
        if store.rendered:
            raise BenchError("the card was not in the cache after the dry run")


# --- checking what reached the servers ------------------------------------------------------------


def verify(pds_url: str, did: str, mastodon_url: str, alt: str, posted: dict[tuple[str, str], int]) -> list[str]:
    """Every post the runs made is on its server with the text, one image and its alt text."""
    import requests

    lines = []
    records = requests.get(
        f"{pds_url}/xrpc/com.atproto.repo.listRecords",
        params={"repo": did, "collection": "app.bsky.feed.post", "limit": 100},
        timeout=10,
    ).json()["records"]
    good = [
        r
        for r in records
        if r["value"]["text"] == TEXT_EN and [i["alt"] for i in r["value"].get("embed", {}).get("images", [])] == [alt]
    ]
    by_langs = defaultdict(int)
    for record in good:
        by_langs[tuple(record["value"].get("langs") or ())] += 1
    expected = posted[("ours", "bluesky")] + posted[("crosspost", "bluesky")]
    lines.append(
        f"bluesky:  {len(records)} records on the PDS, {len(good)} with the text and the card with its alt text "
        f"(ours, langs [en]: {by_langs[('en',)]}; crosspost, no langs: {by_langs[()]}); expected {expected}"
    )
    headers = {"Authorization": f"Bearer {MASTODON_TOKEN}"}
    me = requests.get(f"{mastodon_url}/api/v1/accounts/verify_credentials", headers=headers, timeout=10).json()
    statuses: list[dict[str, Any]] = []
    url: str | None = f"{mastodon_url}/api/v1/accounts/{me['id']}/statuses?limit=40"
    while url:
        page = requests.get(url, headers=headers, timeout=10)
        statuses += page.json()
        url = page.links.get("next", {}).get("url") if page.json() else None
    good_statuses = [
        s
        for s in statuses
        if TEXT_EN in s["content"] and [m.get("description") for m in s.get("media_attachments") or []] == [alt]
    ]
    expected = posted[("ours", "mastodon")] + posted[("crosspost", "mastodon")]
    lines.append(
        f"mastodon: {len(statuses)} statuses of alice, {len(good_statuses)} with the text and the card with its "
        f"alt text; expected {expected}"
    )
    if len(good) != posted[("ours", "bluesky")] + posted[("crosspost", "bluesky")] or len(good_statuses) != expected:
        lines.append("MISMATCH: not every run's post is on its server as expected")
    return lines


# --- profiles --------------------------------------------------------------------------------------


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)


def parse_importtime(stderr: str) -> list[ImportNode]:
    """The import tree of `-X importtime` (a module is printed after its children, indented by depth)."""
    pending: dict[int, list[ImportNode]] = defaultdict(list)
    pattern = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
    for line in stderr.splitlines():
        found = pattern.match(line)
        if not found:
            continue
        depth = (len(found.group(3)) - 1) // 2
        node = ImportNode(found.group(4), int(found.group(1)), int(found.group(2)), pending.pop(depth + 1, []))
        pending[depth].append(node)
    return pending[0]


def import_report(label: str, measured: Measured) -> list[str]:
    roots = parse_importtime(measured.err)
    total = sum(node.cumulative_us for node in roots)
    by_package: dict[str, int] = defaultdict(int)
    edges: dict[tuple[str, str], int] = defaultdict(int)

    def walk(node: ImportNode, importer: str | None) -> None:
        """Self time per package; and the cumulative time of each import a scheduler module makes itself."""
        by_package[node.name.split(".")[0]] += node.self_us
        ours = node.name.startswith("scheduler")
        if not ours and importer is not None:
            edges[(importer, node.name.split(".")[0])] += node.cumulative_us
        for child in node.children:
            walk(child, node.name if ours else None)

    for root in roots:
        if root.name.startswith("scheduler"):
            walk(root, None)
        elif root.name in STARTUP:
            by_package["(python start-up: site, encodings, io)"] += root.cumulative_us
        else:  # imported by a function of ours as it ran: a lazy import
            walk(root, "(lazy, at run time)")
    lines = [
        f"{label}: wall {measured.wall:.2f} s, imports {total / 1e6:.2f} s "
        f"({100 * total / 1e6 / measured.wall:.0f}% of the wall)",
        "  self time by top-level package (ms):",
    ]
    for package, micros in sorted(by_package.items(), key=lambda kv: -kv[1])[:14]:
        lines.append(f"    {micros / 1000:8.1f}  {package}")
    lines.append("  which import statement pulls each package in, cumulative (ms), and who imports it:")
    for (importer, package), micros in sorted(edges.items(), key=lambda kv: -kv[1])[:16]:
        if micros >= 5000:
            lines.append(f"    {micros / 1000:8.1f}  {package:<22} <- {importer}")
    return lines


def profile_child(platform: str, modules_file: str, out_prefix: str) -> None:
    """In a child process: cProfile two `post --account PLATFORM --force` runs in this one process.

    First every module a cold `post` imports (listed in `modules_file`) is imported, unprofiled; then
    "cold" is the first run (what a cold process does besides importing: first-use caches, TLS set-up,
    the session file, ...), and "warm" a second run in the same process (imports and caches warm).
    """
    import contextlib
    import cProfile
    import importlib

    for name in Path(modules_file).read_text().split():
        with contextlib.suppress(Exception):  # some were only tried (brotli, winreg, ...)
            importlib.import_module(name)
    from scheduler.cli import cli

    for label in ("cold", "warm"):
        time.sleep(max(0.0, int(time.time()) + 1.01 - time.time()))  # each forced run a new delivery
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        try:
            cli.main(["post", POST_ID, "--account", platform, "--force"], prog_name="run.py", standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        finally:
            profiler.disable()
        print(f"PROFILED_{label.upper()}={time.perf_counter() - started:.3f}")
        profiler.dump_stats(f"{out_prefix}-{label}.prof")


def where(filename: str, function: str) -> str:
    """A short label for a profiled function: its package, scheduler/<module>, stdlib:<module> or the builtin."""
    if filename.startswith("<frozen"):
        return "import machinery"
    if filename == "~":
        method = re.match(r"<method '(\w+)' of '([\w.]+)' objects>", function)
        if method:
            return f"{method.group(2)}.{method.group(1)}"
        return function.removeprefix("<built-in method ").removesuffix(">")
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "scheduler" in parts:
        return "scheduler/" + "/".join(parts[parts.index("scheduler") + 1 :])
    return f"stdlib:{Path(filename).stem}"


def cprofile_report(title: str, stats_file: Path, own: int, calls: int) -> list[str]:
    import pstats

    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    total = sum(tottime for _, _, tottime, _, _ in stats.values())
    grouped: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, _) in stats.items():
        grouped[where(filename, function)] += tottime
    lines = [f"{title} (profiled {1000 * total:.0f} ms):", "  own time by package, module or builtin (ms):"]
    for label, seconds in sorted(grouped.items(), key=lambda kv: -kv[1])[:own]:
        lines.append(f"    {1000 * seconds:8.1f}  {label}")
    lines.append("  cumulative time of our functions (ms):")
    ours = [
        (ct, where(filename, function), line, function)
        for (filename, line, function), (_, _, _, ct, _) in stats.items()
        if "scheduler" in Path(filename).parts and function not in ("<module>", "wrapper")
    ]
    for ct, label, line, function in sorted(ours, reverse=True)[:calls]:
        lines.append(f"    {1000 * ct:8.1f}  {label}:{line} {function}")
    return lines


def profiles(bench: Bench) -> list[str]:
    lines: list[str] = []
    imported: dict[str, list[str]] = {}
    for platform in PLATFORMS:
        print(f"profile: -X importtime of a cold `post --account {platform} --force`", flush=True)
        measured = bench.ours_post(platform, force=True, python_flags=("-X", "importtime"))
        lines += import_report(f"cold `post --account {platform} --force` with -X importtime", measured)
        lines.append("")
        imported[platform] = re.findall(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", measured.err, re.MULTILINE)
    for platform in PLATFORMS:
        print(f"profile: cProfile of `post --account {platform} --force`, cold and warm, in one process", flush=True)
        modules = bench.work / f"{platform}-modules.txt"
        modules.write_text("\n".join(imported[platform]))
        prefix = bench.work / platform
        bench.clock.wait()
        child = measure(
            [PYTHON, str(Path(__file__).resolve()), "--profile-child", platform, str(modules), str(prefix)],
            bench.project,
            bench.ours_env,
        )
        bench.clock.ended()
        expect(child, f"profiled post --account {platform}", "PROFILED_WARM=")
        bench.posted[("ours", platform)] += 2
        walls = dict(re.findall(r"PROFILED_(COLD|WARM)=([\d.]+)", child.out))
        lines += cprofile_report(
            f"`post --account {platform} --force` in a fresh process, its imports done beforehand "
            f"(cProfile; wall {walls['COLD']} s)",
            Path(f"{prefix}-cold.prof"),
            own=12,
            calls=16,
        )
        lines.append("")
        lines += cprofile_report(
            f"the same again in that process: a warm in-process run (cProfile; wall {walls['WARM']} s)",
            Path(f"{prefix}-warm.prof"),
            own=8,
            calls=10,
        )
        lines.append("")
    return lines


# --- the report --------------------------------------------------------------------------------------


def table(bench: Bench, node_version: str) -> list[str]:
    lines = [
        f"{'tool':<10} {'platform':<9} {'runs':>4} {'median wall s':>13} {'max RSS MB':>10}  note / every run's wall s",
    ]
    for series in bench.series + bench.baselines:
        walls = " ".join(f"{r.wall:.2f}" for r in series.runs)
        lines.append(
            f"{series.tool:<10} {series.what:<9} {len(series.runs):>4} {series.wall:>13.3f} {series.rss:>10.1f}"
            f"  {series.note}{'; ' if series.note else ''}[{walls}]"
            if series.tool != "baseline"
            else f"{series.tool:<10} {'-':<9} {len(series.runs):>4} {series.wall:>13.3f} {series.rss:>10.1f}"
            f"  {series.what}"
        )
    lines.append(
        f"(python {sys.version.split()[0]} {PYTHON}, bytecode cached; node {node_version} {bench.node}; "
        f"RSS in MiB; {os.cpu_count()} CPUs)"
    )
    return lines


def targets(bench: Bench) -> list[str]:
    def find(tool: str, platform: str, note_start: str = "") -> Series:
        return next(s for s in bench.series if s.tool == tool and s.what == platform and s.note.startswith(note_start))

    def verdict(ratio: float) -> str:
        return "met" if ratio <= 1.0 else "NOT MET"

    lines = ["Targets: ours / crosspost per platform, no slower and no larger (ratio <= 1.00 is met)"]
    met = total = 0
    for platform in PLATFORMS:
        theirs = find("crosspost", platform)
        for ours, label in (
            (find("ours", platform, "session reused" if platform == "bluesky" else "--force"), "steady state"),
            (find("ours", platform, "first run"), "first run"),
        ):
            wall, rss = ours.wall / theirs.wall, ours.rss / theirs.rss
            counted = label == "steady state"
            if counted:
                met += (wall <= 1.0) + (rss <= 1.0)
                total += 2
            lines.append(
                f"  {platform:<9} {label:<13} wall {ours.wall:6.3f} / {theirs.wall:6.3f} s = {wall:5.2f}x "
                f"{verdict(wall):<8} peak RSS {ours.rss:6.1f} / {theirs.rss:6.1f} MB = {rss:5.2f}x {verdict(rss)}"
                + ("" if counted else "  (one run; not counted)")
            )
    x = find("ours", "x-en")
    lines.append(
        f"  x-en      against the stub: wall {x.wall:6.3f} s, peak RSS {x.rss:6.1f} MB (reported; no X to compare)"
    )
    lines.append(f"  {met} of {total} steady-state targets met")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per tool and platform (default 5)")
    parser.add_argument("--node", default=shutil.which("node") or "node", help="the Node that runs crosspost")
    parser.add_argument("--no-profile", action="store_true", help="skip the import-time and cProfile profiles")
    parser.add_argument("--profile-child", nargs=3, metavar=("PLATFORM", "MODULES", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.profile_child:
        profile_child(*args.profile_child)
        return 0
    sys.path.insert(0, str(ROOT))
    try:
        return benchmark(args.runs, args.node, profile=not args.no_profile)
    except BenchError as exc:
        print(f"benchmark failed: {exc}")
        return 1


def benchmark(runs: int, node: str, *, profile: bool) -> int:
    from bench.bytecode_cache import with_bytecode
    from tests.conftest import X_CREDENTIAL, new_bsky_account, start_pds, x_environment
    from tests.peers.x_stub.server import XStub

    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if not Path(TIME).is_file():
        raise BenchError(f"{TIME} is missing: apt-get install time")
    ensure_crosspost()
    with tempfile.TemporaryDirectory(prefix="bench-post-") as folder:
        work = Path(folder)
        print("starting the peers: the Bluesky PDS (tests/peers/pds/run.sh) and mastodon-mock", flush=True)
        with start_pds(work) as pds_url, mastodon(work) as mastodon_url, XStub(credentials=[X_CREDENTIAL]) as x_stub:
            account = new_bsky_account(pds_url)
            project = work / "project"
            shutil.copytree(ROOT / "assets", project / "assets")
            (project / "posts.yaml").write_text(
                POSTS_YAML.format(
                    handle=account.handle,
                    pds=pds_url,
                    mastodon=mastodon_url,
                    x=x_stub.url,
                    post_id=POST_ID,
                    en=TEXT_EN,
                    es=TEXT_ES,
                )
                + x_posts(runs + 1),
                encoding="utf-8",
            )
            base = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SCHEDULER_", "BLUESKY_", "MASTODON_", "CROSSPOST_"))
            }
            print("compiling Python bytecode into a temporary PYTHONPYCACHEPREFIX (unmeasured)", flush=True)
            bench = Bench(
                project=project,
                work=work,
                node=node,
                runs=runs,
                ours_env={
                    **with_bytecode(base, work / "pycache"),
                    "BLUESKY_APP_PASSWORD": account.app_password,
                    "MASTODON_ACCESS_TOKEN": MASTODON_TOKEN,
                    **x_environment("x-en"),
                },
                crosspost_env={
                    "bluesky": {
                        **base,
                        "BLUESKY_HOST": pds_url.split("://", 1)[1],
                        "BLUESKY_IDENTIFIER": account.handle,
                        "BLUESKY_PASSWORD": account.app_password,
                    },
                    "mastodon": {
                        **base,
                        "MASTODON_HOST": mastodon_url.split("://", 1)[1],
                        "MASTODON_ACCESS_TOKEN": MASTODON_TOKEN,
                    },
                },
            )
            print(f"PDS {pds_url} (account @{account.handle}), mastodon-mock {mastodon_url}", flush=True)
            bench.run()
            found = profiles(bench) if profile else []
            checked = verify(pds_url, account.did, mastodon_url, bench.alt, bench.posted)
    report: list[str] = [
        "",
        f"post {POST_ID}: text {TEXT_EN!r} (en), square slogan card, alt text {bench.alt!r}",
        *table(bench, node_version),
        "",
        *targets(bench),
        "",
        "What reached the servers:",
        *(f"  {line}" for line in checked),
    ]
    if found:
        report += ["", "Profiles of our `post`:", *found]
    print("\n".join(report))
    return 1 if any(line.startswith("MISMATCH") for line in checked) else 0


if __name__ == "__main__":
    sys.exit(main())
