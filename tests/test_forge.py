"""review-comment against local stubs of GitHub's and GitLab's comment APIs: one marked comment per
request, created once and then updated in place, whatever page it is on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler import forge
from scheduler.cli import cli
from tests.conftest import ROOT, Result
from tests.peers.forge_stub import ForgeStub, GitHubUser, GitLabUser

REPO, PR = "team/campaign", 7
PROJECT, MR = "4242", 12
TOKEN = "ghs_stubToken0123456789abcdef"
GL_TOKEN = "glpat-stubToken0123456789"
ARTIFACT = "https://github.com/team/campaign/actions/runs/1/artifacts/2"
BOT = GitHubUser("github-actions[bot]", 41898282, type="Bot")
PEOPLE = [GitHubUser("ana", 1), GitHubUser("bea", 2)]
GL_BOT, GL_PERSON = GitLabUser("project_4242_bot", 900), GitLabUser("ana", 1)
FORGE_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITLAB_CI",
    "GITLAB_TOKEN",
    "CI_API_V4_URL",
    "CI_PROJECT_ID",
    "CI_PROJECT_URL",
    "CI_MERGE_REQUEST_IID",
    "CI_MERGE_REQUEST_PROJECT_ID",
    "CI_MERGE_REQUEST_PROJECT_URL",
)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForgeStub]:
    for name in FORGE_VARIABLES:  # the suite may itself run in a forge's CI
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(forge, "RETRY_PAUSE", 0.0)
    with ForgeStub(page_size=3) as running:
        running.github_tokens = {TOKEN: BOT, "ghs_readOnlyFork": GitHubUser("github-actions[bot]", 1, can_write=False)}
        running.gitlab_tokens = {GL_TOKEN: GL_BOT, "glpat-person": GL_PERSON}
        running.add_pull_request(REPO, PR)
        running.add_merge_request(PROJECT, MR)
        yield running


@pytest.fixture
def github(stub: ForgeStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ForgeStub:
    """The environment of a GitHub Actions job on pull request #7."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": PR, "pull_request": {"number": PR}}))
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": stub.github_api,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
    }.items():
        monkeypatch.setenv(name, value)
    return stub


@pytest.fixture
def gitlab(stub: ForgeStub, monkeypatch: pytest.MonkeyPatch) -> ForgeStub:
    """The environment of a GitLab merge request pipeline on !12."""
    for name, value in {
        "GITLAB_CI": "true",
        "GITLAB_TOKEN": GL_TOKEN,
        "CI_API_V4_URL": stub.gitlab_api,
        "CI_PROJECT_ID": PROJECT,
        "CI_PROJECT_URL": "https://gitlab.example/team/campaign",
        "CI_MERGE_REQUEST_IID": str(MR),
    }.items():
        monkeypatch.setenv(name, value)
    return stub


def body_file(tmp_path: Path, text: str, name: str = "diff.md") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def marked(comments: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in comments if str(c["body"]).startswith(forge.MARKER)]


def test_github_creates_one_comment_then_updates_it_in_place_on_any_page(
    github: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    for n in range(7):
        github.add_github_comment(REPO, PR, f"comment {n}", PEOPLE[n % 2])
    first = run_cli("review-comment", body_file(tmp_path, "## Changes\n\n- one\n"), "--artifact-url", ARTIFACT)
    assert first.exit_code == 0, first.output
    [created] = marked(github.comments(REPO, PR))
    assert created["body"] == (f"{forge.MARKER}\nPreview of every card and post: {ARTIFACT}\n\n## Changes\n\n- one\n")
    assert first.lines == [
        f"Created the review comment on pull request #{PR} of {REPO}: "
        f"https://github.com/{REPO}/pull/{PR}#issuecomment-{created['id']}"
    ]
    # Every page was read by following GitHub's Link header, not by guessing URLs.
    pages = [path for method, path in github.requests if method == "GET"]
    assert pages[0].startswith(f"/github/repos/{REPO}/issues/{PR}/comments?per_page=100&page=1")
    assert len(pages) == 3
    assert all("/repositories/" in path for path in pages[1:])

    # Now the marked comment sits on page 3 of 5.
    for n in range(5):
        github.add_github_comment(REPO, PR, f"later {n}", PEOPLE[n % 2])
    before = {c["id"]: c["body"] for c in github.comments(REPO, PR) if c["id"] != created["id"]}
    second = run_cli("review-comment", body_file(tmp_path, "## Changes\n\n- two\n"))
    assert second.exit_code == 0, second.output
    assert second.lines[0].startswith(f"Updated the review comment on pull request #{PR} of {REPO}")
    comments = github.comments(REPO, PR)
    assert marked(comments) == [{**created, "body": f"{forge.MARKER}\n\n## Changes\n\n- two\n"}]
    assert {c["id"]: c["body"] for c in comments if c["id"] != created["id"]} == before
    assert len(comments) == 13
    assert not any(method == "POST" for method, _ in github.requests[len(pages) + 1 :])


def test_github_pull_request_from_option_and_body_from_stdin(
    github: ForgeStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.add_pull_request(REPO, 8)
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    result = CliRunner().invoke(cli, ["review-comment", "-", "--pr", "8"], input="from stdin\n")
    assert result.exit_code == 0, result.output
    assert [c["body"] for c in github.comments(REPO, 8)] == [f"{forge.MARKER}\n\nfrom stdin\n"]
    assert github.comments(REPO, PR) == []


def test_gitlab_creates_then_updates_its_own_note(
    gitlab: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    gitlab.add_gitlab_note(PROJECT, MR, "added 1 commit", GL_PERSON, system=True)
    # A person quoting the comment is not the comment: GitLab would refuse to let the bot edit it anyway.
    quoted = gitlab.add_gitlab_note(PROJECT, MR, f"{forge.MARKER}\nlooks good", GL_PERSON)
    for n in range(6):
        gitlab.add_gitlab_note(PROJECT, MR, f"note {n}", GL_PERSON)
    link = "https://gitlab.example/team/campaign/-/jobs/9/artifacts/file/preview/index.html"
    first = run_cli("review-comment", body_file(tmp_path, "first\n"), "--artifact-url", link)
    assert first.exit_code == 0, first.output
    ours = [n for n in marked(gitlab.notes(PROJECT, MR)) if n["id"] != quoted]
    assert [n["body"] for n in ours] == [f"{forge.MARKER}\nPreview of every card and post: {link}\n\nfirst\n"]
    note_id = ours[0]["id"]
    assert first.lines == [
        f"Created the review comment on merge request !{MR} of project {PROJECT}: "
        f"https://gitlab.example/team/campaign/-/merge_requests/{MR}#note_{note_id}"
    ]
    for n in range(4):
        gitlab.add_gitlab_note(PROJECT, MR, f"reply {n}", GL_PERSON)
    second = run_cli("review-comment", body_file(tmp_path, "second\n"))
    assert second.exit_code == 0, second.output
    assert second.lines[0].startswith("Updated the review comment")
    notes = gitlab.notes(PROJECT, MR)
    assert [(n["id"], n["body"]) for n in marked(notes)] == [
        (quoted, f"{forge.MARKER}\nlooks good"),
        (note_id, f"{forge.MARKER}\n\nsecond\n"),
    ]
    assert len(notes) == 13
    # Pages were followed through X-Next-Page, oldest first; the second run stopped at page 3 of 5,
    # where its note is.
    pages = [path for method, path in gitlab.requests if method == "GET" and "/notes" in path]
    assert len(pages) == 3 + 3
    assert all("sort=asc" in path for path in pages)


@pytest.mark.parametrize(
    ("fixture", "missing", "message"),
    [
        ("github", "GITHUB_TOKEN", "Error: GITHUB_TOKEN is not set: pass it to the step"),
        ("github", "GITHUB_REPOSITORY", "Error: GITHUB_REPOSITORY is not set: set it to OWNER/REPO"),
        ("github", "GITHUB_EVENT_PATH", "Error: GITHUB_EVENT_PATH is not set, so the pull request is unknown"),
        ("gitlab", "GITLAB_TOKEN", "Error: GITLAB_TOKEN is not set: create a project access token"),
        ("gitlab", "CI_API_V4_URL", "Error: CI_API_V4_URL is not set"),
        ("gitlab", "CI_PROJECT_ID", "Error: CI_PROJECT_ID is not set"),
        ("gitlab", "CI_MERGE_REQUEST_IID", "Error: CI_MERGE_REQUEST_IID is not set: run the job in a merge request"),
    ],
)
def test_a_missing_variable_is_named(
    fixture: str,
    missing: str,
    message: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run_cli: Callable[..., Result],
) -> None:
    stub: ForgeStub = request.getfixturevalue(fixture)
    monkeypatch.delenv(missing)
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 1
    assert len(result.lines) == 1, result.output
    assert result.lines[0].startswith(message)
    assert stub.requests == []


def test_the_gitlab_token_message_says_the_job_token_will_not_do(
    gitlab: ForgeStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", "job-token")
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert "CI_JOB_TOKEN cannot write merge request comments" in result.lines[0]


def test_outside_ci_the_forge_must_be_given(stub: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 1
    assert result.lines == [
        "Error: not in GitHub Actions (GITHUB_ACTIONS=true) nor GitLab CI (GITLAB_CI=true): give --forge"
    ]


def test_an_event_that_is_not_a_pull_request(
    github: ForgeStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Result]
) -> None:
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.lines == ["Error: the push event is not a pull request: run on pull_request, or give --pr N"]


@pytest.mark.parametrize(
    ("fixture", "variable", "wrong", "message"),
    [
        (
            "github",
            "GITHUB_TOKEN",
            "ghs_wrongSecretValue42",
            "Error: GitHub refused the token in GITHUB_TOKEN (HTTP 401): it is wrong, expired or revoked",
        ),
        (
            "gitlab",
            "GITLAB_TOKEN",
            "glpat-wrongSecretValue42",
            "Error: GitLab refused the token in GITLAB_TOKEN (HTTP 401): it is wrong, expired or revoked",
        ),
    ],
)
def test_a_refused_token_is_named_never_shown(
    fixture: str,
    variable: str,
    wrong: str,
    message: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    request.getfixturevalue(fixture)
    # A real process with every log line on (requests and urllib3 included): the token is in none.
    env = {**os.environ, variable: wrong}
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "review-comment", body_file(tmp_path, "body\n"), "-v", "--debug"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert message in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_a_read_only_token_is_told_what_permission_it_needs(
    github: ForgeStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_readOnlyFork")
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 1
    assert result.lines == [
        f"Error: the token in GITHUB_TOKEN lacks permission to comment on pull request #{PR} of {REPO} (HTTP 403): "
        "give the workflow `permissions: pull-requests: write`; on a pull request from a fork the token is "
        "read-only and cannot comment"
    ]


def test_gitlab_refuses_to_let_another_user_edit_our_note(
    gitlab: ForgeStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    gitlab.add_gitlab_note(PROJECT, MR, f"{forge.MARKER}\n\nold", GL_BOT)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-person")  # another token: it makes its own note
    assert run_cli("review-comment", body_file(tmp_path, "new\n")).exit_code == 0
    assert [(n["author"]["id"], n["body"]) for n in marked(gitlab.notes(PROJECT, MR))] == [
        (GL_BOT.id, f"{forge.MARKER}\n\nold"),
        (GL_PERSON.id, f"{forge.MARKER}\n\nnew\n"),
    ]


@pytest.mark.parametrize(
    ("fixture", "args", "message"),
    [
        (
            "github",
            ["--pr", "99"],
            f"Error: pull request #99 of {REPO} was not found (HTTP 404): check GITHUB_REPOSITORY",
        ),
        (
            "gitlab",
            ["--pr", "99"],
            f"Error: merge request !99 of project {PROJECT} was not found (HTTP 404): check CI_PROJECT_ID",
        ),
    ],
)
def test_an_unknown_request_is_a_404_naming_what_to_check(
    fixture: str,
    args: list[str],
    message: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    run_cli: Callable[..., Result],
) -> None:
    request.getfixturevalue(fixture)
    result = run_cli("review-comment", body_file(tmp_path, "body\n"), *args)
    assert result.exit_code == 1
    assert len(result.lines) == 1, result.output
    assert result.lines[0].startswith(message)


def test_dry_run_prints_the_comment_and_sends_nothing(
    github: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("review-comment", body_file(tmp_path, "## Changes\n"), "--artifact-url", ARTIFACT, "--dry-run")
    assert result.exit_code == 0
    assert result.output == f"{forge.MARKER}\nPreview of every card and post: {ARTIFACT}\n\n## Changes\n"
    assert github.requests == []


@pytest.mark.parametrize(("fixture", "limit"), [("github", 65_536), ("gitlab", 1_000_000)])
def test_a_body_over_the_limit_is_cut_cleanly(
    fixture: str, limit: int, request: pytest.FixtureRequest, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    stub: ForgeStub = request.getfixturevalue(fixture)
    lines = [f"+ posts[{n}].text.en: U.S. out of Haiti! ¡EE.UU. fuera de Haití! 🇭🇹" for n in range(limit // 40)]
    text = (
        "## Changes\n\n<details><summary>Every change</summary>\n\n```diff\n" + "\n".join(lines) + "\n```\n</details>\n"
    )
    result = run_cli("review-comment", body_file(tmp_path, text), "--artifact-url", ARTIFACT)
    assert result.exit_code == 0, result.output
    comments = stub.comments(REPO, PR) if fixture == "github" else stub.notes(PROJECT, MR)
    [comment] = marked(comments)
    body = str(comment["body"])
    assert limit - 200 < len(body) <= limit
    assert body.endswith("\n```\n</details>\n\n… cut: see the preview artifact\n")
    kept = body.split("```diff\n", 1)[1].split("\n```\n", 1)[0].splitlines()
    assert kept == lines[: len(kept)]  # whole lines only


def test_cut_closes_only_what_is_open() -> None:
    text = "intro\n```\ncode\n```\n" + "word " * 100
    cut = forge.compose(text, None, 200)
    assert len(cut) <= 200
    assert cut.endswith("code\n```\n\n… cut: see the preview artifact\n")


def test_a_failing_forge_is_retried_and_a_lost_answer_makes_no_second_comment(
    github: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    github.fail("GET", "/comments", 502)
    github.fail("POST", "/comments", 502, after=True)  # created, but the answer never came back
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 0, result.output
    assert len(marked(github.comments(REPO, PR))) == 1
    assert result.lines[0].startswith("Updated the review comment")


def test_a_forge_that_keeps_failing_is_one_error_line(
    gitlab: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    gitlab.fail("POST", "/notes", 503)
    gitlab.fail("POST", "/notes", 503)
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 1
    assert result.lines == [
        f"Error: GitLab failed: HTTP 503 to POST /gitlab/api/v4/projects/{PROJECT}/merge_requests/{MR}/notes; "
        "run the job again later"
    ]
    assert gitlab.notes(PROJECT, MR) == []


def test_the_token_is_never_sent_where_a_page_link_points_elsewhere(
    github: ForgeStub, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    for n in range(4):
        github.add_github_comment(REPO, PR, f"comment {n}", PEOPLE[0])
    github.link_origin = "http://127.0.0.2:9"
    result = run_cli("review-comment", body_file(tmp_path, "body\n"))
    assert result.exit_code == 1
    assert result.lines == [f"Error: GitHub pointed to http://127.0.0.2:9, not {github.github_api}; stopped"]
