"""The review comment on a pull request (GitHub) or merge request (GitLab): one per request, found
by a hidden marker and updated in place on every push, so the thread never fills with copies.

Everything a person can fix (a missing variable, a token without permission, a wrong request
number) is a SchedulerError naming what to fix; the token never appears in any message.
"""

from __future__ import annotations

import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests

from scheduler.errors import SchedulerError

Forge = Literal["github", "gitlab"]

MARKER = "<!-- slogan-scheduler:review -->"
CUT_NOTE = "… cut: see the preview artifact"
# The longest comment each forge accepts, in characters.
LIMITS: dict[Forge, int] = {"github": 65_536, "gitlab": 1_000_000}
TIMEOUT = (10.0, 30.0)  # seconds to connect, and to wait for each answer
RETRY_PAUSE = 2.0
MAX_PAGES = 200  # 20,000 comments: beyond that a forge answering "next" forever is a fault, not a thread

GITLAB_ACCESS_HELP = (
    "create a project access token with the api scope and the Reporter role (Settings > Access tokens) "
    "and store it as the masked CI/CD variable GITLAB_TOKEN; the job's own CI_JOB_TOKEN cannot write "
    "merge request comments"
)


def detect(environ: Mapping[str, str]) -> Forge | None:
    """The forge whose CI this runs in, from the variables each sets in every job."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    return None


def compose(body: str, artifact_url: str | None, limit: int) -> str:
    """The comment: the marker, the link to the preview, then `body`, cut to `limit` characters."""
    head = f"{MARKER}\n"
    if artifact_url:
        head += f"Preview of every card and post: {artifact_url}\n"
    return head + "\n" + _cut(body.strip("\n") + "\n", limit - len(head) - 1)


def _cut(text: str, room: int) -> str:
    """`text` in at most `room` characters: whole lines, any open code block or <details> closed,
    then a note saying where the rest is."""
    if len(text) <= room:
        return text
    note = f"\n{CUT_NOTE}\n"
    kept = text[: max(room - len(note), 0)]
    while True:
        line_end = kept.rfind("\n")
        if line_end > 0:
            kept = kept[:line_end]
        tail = "\n" + _closers(kept) + note
        if len(kept) + len(tail) <= room or not kept:
            return kept + tail
        kept = kept[: max(room - len(tail), 0)]  # strictly shorter, so this ends


def _closers(markdown: str) -> str:
    """What closes the code fence and the <details> blocks left open at the end of `markdown`."""
    fence: str | None = None
    for line in markdown.splitlines():
        stripped = line.strip()
        run = re.match(r"(`{3,}|~{3,})", stripped)
        if run is None:
            continue
        if fence is None:
            fence = run.group(1)
        elif stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence = None
    closers = f"{fence}\n" if fence else ""
    open_details = len(re.findall(r"<details\b", markdown)) - markdown.count("</details>")
    return closers + "</details>\n" * max(open_details, 0)


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: int | str | None


@dataclass(frozen=True)
class Outcome:
    action: Literal["created", "updated"]
    comment_id: int
    where: str
    url: str | None


class _TransientError(SchedulerError):
    """The forge failed in a way that may pass (a 5xx answer, a lost connection)."""


class Client(ABC):
    """Requests to one forge with its token; every refusal becomes one SchedulerError saying what to fix."""

    label: str  # "GitHub"
    where: str  # "pull request #7 of owner/repo"
    variable: str
    permission_help: str
    not_found_help: str

    def __init__(self, base: str, token: str, headers: Mapping[str, str]) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "slogan-scheduler", **headers})

    def request(self, method: str, url: str, payload: dict[str, Any] | None = None) -> requests.Response:
        """The answer to one request, retried once when the forge fails and a retry cannot duplicate
        anything (every method but POST)."""
        self._same_origin(url)
        attempts = 1 if method == "POST" else 2
        for attempt in range(attempts):
            try:
                response = self.session.request(method, url, json=payload, timeout=TIMEOUT, allow_redirects=False)
            except requests.RequestException as exc:
                failure = f"cannot reach {self.label} at {self.base} ({type(exc).__name__})"
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 500:
                    raise SchedulerError(self._scrub(self._refusal(response, method, url)))
                failure = f"{self.label} failed: HTTP {response.status_code} to {method} {urlsplit(url).path}"
            if attempt + 1 < attempts:
                time.sleep(RETRY_PAUSE)
        tried = " (tried twice)" if attempts > 1 else ""
        raise _TransientError(f"{failure}{tried}; run the job again later")

    def _same_origin(self, url: str) -> None:
        # Page links come from the answers: the token goes nowhere but the API it is for.
        origin, api = urlsplit(url), urlsplit(self.base)
        if (origin.scheme, origin.netloc) != (api.scheme, api.netloc):
            raise SchedulerError(f"{self.label} pointed to {origin.scheme}://{origin.netloc}, not {self.base}; stopped")

    def _refusal(self, response: requests.Response, method: str, url: str) -> str:
        status = response.status_code
        if status == 401:
            return f"{self.label} refused the token in {self.variable} (HTTP 401): it is wrong, expired or revoked"
        if status in (403, 429) and (
            response.headers.get("X-RateLimit-Remaining") == "0" or response.headers.get("Retry-After")
        ):
            return f"{self.label} rate limit reached (HTTP {status}); run the job again later"
        if status == 403:
            return (
                f"the token in {self.variable} lacks permission to comment on {self.where} (HTTP 403): "
                f"{self.permission_help}"
            )
        if status == 404:
            return f"{self.where} was not found (HTTP 404): {self.not_found_help}"
        return f"{self.label} answered HTTP {status} to {method} {urlsplit(url).path}: {_message(response)}"

    def _scrub(self, text: str) -> str:
        return text.replace(self.token, "[secret]") if self.token else text

    def pages(self, url: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of a listing, first to last."""
        for _ in range(MAX_PAGES):
            response = self.request("GET", url)
            yield _json_list(response, self.label)
            following = self.next_page(response, url)
            if following is None:
                return
            url = following
        raise SchedulerError(f"{self.label} listed more than {MAX_PAGES} pages of comments on {self.where}; stopped")

    @abstractmethod
    def next_page(self, response: requests.Response, url: str) -> str | None:
        """The URL of the page after `response` (whose URL was `url`), or None after the last."""

    @abstractmethod
    def comments(self) -> Iterator[Comment]:
        """Every comment on the request, oldest first."""

    def own_author(self) -> int | str | None:
        """Who the token writes as, where the forge says so plainly; None where it does not."""
        return None

    @abstractmethod
    def create(self, body: str) -> Outcome:
        """Post a new comment."""

    @abstractmethod
    def update(self, comment_id: int, body: str) -> Outcome:
        """Replace the body of comment `comment_id`."""

    def marked(self) -> Comment | None:
        """The oldest comment carrying the marker (written by the token's own user, where known)."""
        own = self.own_author()
        for comment in self.comments():
            if comment.body.lstrip().startswith(MARKER) and (own is None or comment.author == own):
                return comment
        return None


class GitHub(Client):
    label = "GitHub"
    variable = "GITHUB_TOKEN"
    permission_help = (
        "give the workflow `permissions: pull-requests: write`; on a pull request from a fork the "
        "token is read-only and cannot comment"
    )

    def __init__(self, base: str, token: str, repository: str, number: int) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        super().__init__(base, token, headers)
        self.repository, self.number = repository, number
        self.where = f"pull request #{number} of {repository}"
        self.not_found_help = (
            "check GITHUB_REPOSITORY and the pull request number, and that the token can see the repository"
        )

    def next_page(self, response: requests.Response, url: str) -> str | None:
        return response.links.get("next", {}).get("url")

    def comments(self) -> Iterator[Comment]:
        # GitHub's Actions token cannot read /user and its bot has no fixed id: any author's
        # marked comment counts (only this command writes the marker first).
        url = f"{self.base}/repos/{self.repository}/issues/{self.number}/comments?per_page=100&page=1"
        for page in self.pages(url):
            for item in page:
                yield Comment(int(item["id"]), str(item.get("body") or ""), (item.get("user") or {}).get("login"))

    def create(self, body: str) -> Outcome:
        url = f"{self.base}/repos/{self.repository}/issues/{self.number}/comments"
        created = _json_object(self.request("POST", url, {"body": body}), self.label)
        return Outcome("created", int(created["id"]), self.where, created.get("html_url"))

    def update(self, comment_id: int, body: str) -> Outcome:
        url = f"{self.base}/repos/{self.repository}/issues/comments/{comment_id}"
        updated = _json_object(self.request("PATCH", url, {"body": body}), self.label)
        return Outcome("updated", comment_id, self.where, updated.get("html_url"))


class GitLab(Client):
    label = "GitLab"
    variable = "GITLAB_TOKEN"
    permission_help = GITLAB_ACCESS_HELP

    def __init__(self, base: str, token: str, project: str, iid: int, web_url: str | None) -> None:
        super().__init__(base, token, {"PRIVATE-TOKEN": token})
        self.iid = iid
        self.notes_url = f"{self.base}/projects/{quote(project, safe='')}/merge_requests/{iid}/notes"
        self.web_url = f"{web_url.rstrip('/')}/-/merge_requests/{iid}" if web_url else None
        self.where = f"merge request !{iid} of project {project}"
        self.not_found_help = "check CI_PROJECT_ID and CI_MERGE_REQUEST_IID, and that the token belongs to the project"

    def next_page(self, response: requests.Response, url: str) -> str | None:
        following = response.headers.get("X-Next-Page", "").strip()
        if not following:
            return None
        return re.sub(r"([?&]page=)\d+", rf"\g<1>{int(following)}", url)

    def own_author(self) -> int | str | None:
        # GitLab lets only a note's author edit it: another user's marked note cannot be updated.
        return int(_json_object(self.request("GET", f"{self.base}/user"), self.label)["id"])

    def comments(self) -> Iterator[Comment]:
        url = f"{self.notes_url}?sort=asc&order_by=created_at&per_page=100&page=1"
        for page in self.pages(url):
            for item in page:
                yield Comment(int(item["id"]), str(item.get("body") or ""), (item.get("author") or {}).get("id"))

    def create(self, body: str) -> Outcome:
        created = _json_object(self.request("POST", self.notes_url, {"body": body}), self.label)
        return self._outcome("created", int(created["id"]))

    def update(self, comment_id: int, body: str) -> Outcome:
        self.request("PUT", f"{self.notes_url}/{comment_id}", {"body": body})
        return self._outcome("updated", comment_id)

    def _outcome(self, action: Literal["created", "updated"], note_id: int) -> Outcome:
        return Outcome(action, note_id, self.where, f"{self.web_url}#note_{note_id}" if self.web_url else None)


def client(forge: Forge, environ: Mapping[str, str], number: int | None = None) -> Client:
    """The client for `forge`, configured from its CI variables; `number` overrides the request's."""
    if forge == "github":
        token = _required(
            environ, "GITHUB_TOKEN", "pass it to the step: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"
        )
        repository = _required(environ, "GITHUB_REPOSITORY", "set it to OWNER/REPO")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise SchedulerError(f"GITHUB_REPOSITORY is '{repository}'; set it to OWNER/REPO")
        base = environ.get("GITHUB_API_URL") or "https://api.github.com"
        return GitHub(base, token, repository, number or _pull_request_number(environ))
    token = _required(environ, "GITLAB_TOKEN", GITLAB_ACCESS_HELP)
    base = _required(environ, "CI_API_V4_URL", "set it to the API root, e.g. https://gitlab.com/api/v4")
    # A merge request from a fork may run in the fork: the request belongs to the target project.
    project = environ.get("CI_MERGE_REQUEST_PROJECT_ID") or _required(
        environ, "CI_PROJECT_ID", "set it to the project's numeric id"
    )
    if number is None:
        raw = _required(
            environ,
            "CI_MERGE_REQUEST_IID",
            'run the job in a merge request pipeline (rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"), '
            "or give --pr N",
        )
        if not raw.isdigit():
            raise SchedulerError(f"CI_MERGE_REQUEST_IID is '{raw}', not a merge request number")
        number = int(raw)
    web_url = environ.get("CI_MERGE_REQUEST_PROJECT_URL") or environ.get("CI_PROJECT_URL")
    return GitLab(base, token, project, number, web_url)


def _required(environ: Mapping[str, str], name: str, help_text: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SchedulerError(f"{name} is not set: {help_text}")
    return value


def _pull_request_number(environ: Mapping[str, str]) -> int:
    path = environ.get("GITHUB_EVENT_PATH", "").strip()
    if not path:
        raise SchedulerError("GITHUB_EVENT_PATH is not set, so the pull request is unknown: give --pr N")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not JSON"
        raise SchedulerError(f"cannot read the event file GITHUB_EVENT_PATH={path} ({reason}): give --pr N") from None
    pull_request = event.get("pull_request") if isinstance(event, dict) else None
    number = pull_request.get("number") if isinstance(pull_request, dict) else None
    if not isinstance(number, int):
        name = environ.get("GITHUB_EVENT_NAME") or "this"
        raise SchedulerError(f"the {name} event is not a pull request: run on pull_request, or give --pr N")
    return number


def publish(forge: Client, body: str) -> Outcome:
    """Update the marked comment, or create it when there is none yet."""
    existing = forge.marked()
    if existing is not None:
        return forge.update(existing.id, body)
    try:
        return forge.create(body)
    except _TransientError:
        # The comment may have been made even though the answer was lost: look again before
        # creating it a second time.
        existing = forge.marked()
        return forge.update(existing.id, body) if existing is not None else forge.create(body)


def _message(response: requests.Response) -> str:
    """The forge's own reason for a refusal, in one short line."""
    try:
        answer = response.json()
    except ValueError:
        return response.reason or "no reason given"
    if isinstance(answer, dict):
        reasons = [answer.get("message"), answer.get("error"), *(e.get("message") for e in answer.get("errors") or [])]
        text = "; ".join(r if isinstance(r, str) else json.dumps(r) for r in reasons if r)
        return " ".join(text.split())[:300] or response.reason
    return response.reason


def _json_list(response: requests.Response, label: str) -> list[dict[str, Any]]:
    answer = _json(response, label)
    if not isinstance(answer, list):
        raise SchedulerError(f"{label} answered {urlsplit(response.url).path} with something other than a list")
    return [item for item in answer if isinstance(item, dict)]


def _json_object(response: requests.Response, label: str) -> dict[str, Any]:
    answer = _json(response, label)
    if not isinstance(answer, dict) or "id" not in answer:
        raise SchedulerError(f"{label} answered {urlsplit(response.url).path} without the comment")
    return answer


def _json(response: requests.Response, label: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SchedulerError(f"{label} answered {urlsplit(response.url).path} with something other than JSON") from None
