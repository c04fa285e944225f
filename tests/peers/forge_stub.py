"""A faithful stub of the comment APIs of GitHub and GitLab that `review-comment` uses, standard
library only, on loopback, keeping everything in memory.

GitHub REST, under ``/github`` (what ``GITHUB_API_URL`` points at; authentication ``Authorization:
Bearer TOKEN``, an unknown ``X-GitHub-Api-Version`` -> 400):

- ``GET /repos/{owner}/{repo}/issues/{n}/comments?per_page=&page=`` -> 200, oldest first, with a
  ``Link`` header (``first``/``prev``/``next``/``last``) pointing at ``/repositories/{repo id}/...``
  as GitHub's does; that form is served too.
- ``POST`` on the same path -> 201 the comment; a body over 65,536 characters -> 422.
- ``PATCH /repos/{owner}/{repo}/issues/comments/{id}`` -> 200 the comment.
- no or a wrong token -> 401; a read-only token (a fork's) writing -> 403 "Resource not accessible
  by integration"; an unknown repository, pull request or comment -> 404.

GitLab REST v4, under ``/gitlab/api/v4`` (what ``CI_API_V4_URL`` points at; authentication
``PRIVATE-TOKEN``):

- ``GET /projects/{id}/merge_requests/{iid}/notes?sort=&order_by=&per_page=&page=`` -> 200, newest
  first unless ``sort=asc`` (GitLab's default is desc), with ``X-Page``, ``X-Per-Page``,
  ``X-Next-Page`` (empty on the last page), ``X-Prev-Page``, ``X-Total``, ``X-Total-Pages``.
- ``POST`` on the same path -> 201 the note; a body over 1,000,000 characters -> 400.
- ``PUT .../notes/{note_id}`` -> 200; by anyone but the note's author -> 403.
- ``GET /user`` -> 200 the token's user.
- no or a wrong token -> 401; an unknown project, merge request or note -> 404.

Both cap ``per_page`` at ``page_size`` (GitHub's and GitLab's cap is 100; a small one here makes
every test walk several pages). ``fail()`` makes the next matching request answer an error, before
or after doing its work (a lost answer). ``requests`` records every request's method and path.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

JSON = dict[str, Any]

GITHUB_BODY_LIMIT = 65_536
GITLAB_BODY_LIMIT = 1_000_000
GITHUB_API_VERSIONS = {"2022-11-28"}
STAMP = "2026-11-28T12:00:00Z"


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: int
    can_write: bool = True
    type: str = "User"


@dataclass(frozen=True)
class GitLabUser:
    username: str
    id: int


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    after: bool  # do the work, then answer `status`: the answer is lost


class Reply(Exception):  # noqa: N818 - raised to answer at once, returned to answer normally
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class ForgeStub:
    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.lock = threading.Lock()
        self.github_tokens: dict[str, GitHubUser] = {}
        self.gitlab_tokens: dict[str, GitLabUser] = {}
        self.repositories: dict[str, int] = {}  # owner/name -> id
        self.pull_requests: dict[tuple[str, int], list[JSON]] = {}
        self.merge_requests: dict[tuple[str, int], list[JSON]] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.link_origin: str | None = None  # where GitHub's Link header points, when not here
        self._ids = itertools.count(1001)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.github_api = f"{self.url}/github"
        self.gitlab_api = f"{self.url}/gitlab/api/v4"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # Setting up the scene.

    def add_pull_request(self, repository: str, number: int) -> None:
        with self.lock:
            self.repositories.setdefault(repository, 500_000 + len(self.repositories))
            self.pull_requests.setdefault((repository, number), [])

    def add_merge_request(self, project: str, iid: int) -> None:
        with self.lock:
            self.merge_requests.setdefault((project, iid), [])

    def add_github_comment(self, repository: str, number: int, body: str, user: GitHubUser) -> int:
        with self.lock:
            return self._github_comment(repository, number, body, user)["id"]  # type: ignore[no-any-return]

    def add_gitlab_note(self, project: str, iid: int, body: str, user: GitLabUser, *, system: bool = False) -> int:
        with self.lock:
            return self._gitlab_note(project, iid, body, user, system=system)["id"]  # type: ignore[no-any-return]

    def comments(self, repository: str, number: int) -> list[JSON]:
        with self.lock:
            return json.loads(json.dumps(self.pull_requests[(repository, number)]))  # type: ignore[no-any-return]

    def notes(self, project: str, iid: int) -> list[JSON]:
        with self.lock:
            return json.loads(json.dumps(self.merge_requests[(project, iid)]))  # type: ignore[no-any-return]

    def fail(self, method: str, path_part: str, status: int, *, after: bool = False) -> None:
        with self.lock:
            self.faults.append(Fault(method, path_part, status, after))

    # The APIs.

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self.lock:
            self.requests.append((method, target))
            fault = next((f for f in self.faults if f.method == method and f.path_part in split.path), None)
            if fault is not None:
                self.faults.remove(fault)
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                return 400, {"message": "Problems parsing JSON"}, {}
            try:
                if fault is not None and not fault.after:
                    raise Reply(fault.status, {"message": "Server Error"})
                if split.path.startswith("/github/"):
                    reply = self._github(method, split.path.removeprefix("/github"), query, headers, payload)
                elif split.path.startswith("/gitlab/api/v4/"):
                    reply = self._gitlab(method, split.path.removeprefix("/gitlab/api/v4"), query, headers, payload)
                else:
                    raise Reply(404, {"message": "Not Found"})
            except Reply as answer:
                return answer.status, answer.body, answer.headers
            if fault is not None:
                return fault.status, {"message": "Server Error"}, {}
            return reply.status, reply.body, reply.headers

    def _github(self, method: str, path: str, query: dict[str, str], headers: Any, payload: Any) -> Reply:
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version not in GITHUB_API_VERSIONS:
            raise Reply(400, {"message": f"API version {version} is not supported."})
        authorization = headers.get("Authorization") or ""
        if not authorization:
            raise Reply(401, {"message": "Requires authentication"})
        scheme, _, token = authorization.partition(" ")
        user = self.github_tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if user is None:
            raise Reply(401, {"message": "Bad credentials"})
        if method != "GET" and not user.can_write:
            raise Reply(403, {"message": "Resource not accessible by integration"})
        repository, listing = "", re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path)
        if listing:
            repository = listing.group(1)
        elif by_id := re.fullmatch(r"/repositories/(\d+)/issues/(\d+)/comments", path):
            names = [name for name, number in self.repositories.items() if number == int(by_id.group(1))]
            listing, repository = (by_id, names[0]) if names else (None, "")
        if listing:
            key = (repository, int(listing.group(2)))
            if key not in self.pull_requests:
                raise Reply(404, {"message": "Not Found"})
            if method == "GET":
                return self._github_page(key, query)
            if method == "POST":
                return Reply(201, self._github_comment(*key, _github_body(payload), user))
        edit = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", path)
        if edit and method == "PATCH":
            for (repository, _), comments in self.pull_requests.items():
                for comment in comments:
                    if repository == edit.group(1) and comment["id"] == int(edit.group(2)):
                        comment["body"] = _github_body(payload)
                        comment["updated_at"] = STAMP
                        return Reply(200, comment)
        raise Reply(404, {"message": "Not Found"})

    def _github_page(self, key: tuple[str, int], query: dict[str, str]) -> Reply:
        comments = self.pull_requests[key]
        size, page = self._page_size(query), max(int(query.get("page", "1")), 1)
        last = max((len(comments) + size - 1) // size, 1)
        origin = self.link_origin or self.url
        base = f"{origin}/github/repositories/{self.repositories[key[0]]}/issues/{key[1]}/comments"
        relations = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
        links = [
            f'<{base}?{urlencode({"per_page": query.get("per_page", "30"), "page": n})}>; rel="{rel}"'
            for rel, n in relations.items()
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last)
        ]
        headers = {"Link": ", ".join(links)} if links else {}
        return Reply(200, comments[(page - 1) * size : page * size], headers)

    def _github_comment(self, repository: str, number: int, body: str, user: GitHubUser) -> JSON:
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "html_url": f"https://github.com/{repository}/pull/{number}#issuecomment-{comment_id}",
            "body": body,
            "user": {"login": user.login, "id": user.id, "type": user.type},
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        self.pull_requests[(repository, number)].append(comment)
        return comment

    def _gitlab(self, method: str, path: str, query: dict[str, str], headers: Any, payload: Any) -> Reply:
        user = self.gitlab_tokens.get(headers.get("PRIVATE-TOKEN") or "")
        if user is None:
            raise Reply(401, {"message": "401 Unauthorized"})
        if path == "/user" and method == "GET":
            return Reply(200, {"id": user.id, "username": user.username, "bot": True})
        notes = re.fullmatch(r"/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?", path)
        if notes is None:
            raise Reply(404, {"message": "404 Not found"})
        key = (unquote(notes.group(1)), int(notes.group(2)))
        if not any(project == key[0] for project, _ in self.merge_requests):
            raise Reply(404, {"message": "404 Project Not Found"})
        if key not in self.merge_requests:
            raise Reply(404, {"message": "404 Not found"})
        if notes.group(3) is None and method == "GET":
            return self._gitlab_page(key, query)
        if notes.group(3) is None and method == "POST":
            return Reply(201, self._gitlab_note(*key, _gitlab_body(payload), user))
        if notes.group(3) is not None and method == "PUT":
            for note in self.merge_requests[key]:
                if note["id"] == int(notes.group(3)):
                    if note["author"]["id"] != user.id:
                        raise Reply(403, {"message": "403 Forbidden"})
                    note["body"] = _gitlab_body(payload)
                    note["updated_at"] = STAMP
                    return Reply(200, note)
            raise Reply(404, {"message": "404 Note Not Found"})
        raise Reply(405, {"message": "405 Method Not Allowed"})

    def _gitlab_page(self, key: tuple[str, int], query: dict[str, str]) -> Reply:
        notes = self.merge_requests[key]
        ordered = notes if query.get("sort") == "asc" else list(reversed(notes))
        size, page = self._page_size(query), max(int(query.get("page", "1")), 1)
        pages = max((len(ordered) + size - 1) // size, 1)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(size),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(len(ordered)),
            "X-Total-Pages": str(pages),
        }
        return Reply(200, ordered[(page - 1) * size : page * size], headers)

    def _gitlab_note(self, project: str, iid: int, body: str, user: GitLabUser, *, system: bool = False) -> JSON:
        note = {
            "id": next(self._ids),
            "body": body,
            "author": {"id": user.id, "username": user.username},
            "system": system,
            "noteable_type": "MergeRequest",
            "noteable_iid": iid,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        self.merge_requests[(project, iid)].append(note)
        return note

    def _page_size(self, query: dict[str, str]) -> int:
        return min(max(int(query.get("per_page", "30")), 1), self.page_size)


def _github_body(payload: Any) -> str:
    body = payload.get("body") if isinstance(payload, dict) else None
    if not isinstance(body, str):
        raise Reply(422, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'})
    if len(body) > GITHUB_BODY_LIMIT:
        error = {"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": "Body is too long"}
        raise Reply(422, {"message": "Validation Failed", "errors": [error]})
    return body


def _gitlab_body(payload: Any) -> str:
    body = payload.get("body") if isinstance(payload, dict) else None
    if not isinstance(body, str) or not body:
        raise Reply(400, {"error": "body is missing"})
    if len(body) > GITLAB_BODY_LIMIT:
        raise Reply(400, {"message": {"note": [f"is too long (maximum is {GITLAB_BODY_LIMIT} characters)"]}})
    return body


def _handler(stub: ForgeStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body, headers = stub.handle(self.command, self.path, self.headers, raw)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = _serve  # noqa: N815 - http.server's names

        def log_message(self, *_args: object) -> None:
            pass

    return Handler
