"""The one error family the CLI turns into an `Error: ...` line, and the located problems of a file."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SchedulerError(Exception):
    """A problem a person can fix; its message is shown as it is, without a traceback."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with posts.yaml, at a line and column, under a key path like `posts[3].text.es`."""

    line: int
    column: int
    path: str
    message: str
    severity: Severity = Severity.ERROR

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}:{self.column}: "
        path = f"{self.path}: " if self.path else ""
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{path}{tag}{self.message}"


class ContentError(SchedulerError):
    """posts.yaml could not be used; carries every problem found, each located."""

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.filename = filename
        self.problems = sorted(problems)
        super().__init__("\n".join(p.render(filename) for p in self.problems))
