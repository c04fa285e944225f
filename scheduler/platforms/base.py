"""The one small protocol every platform implements, and the one error taxonomy they all raise.

An adapter turns an `Attempt` into a `Published` post or raises one of the errors below; no
exception of a platform SDK ever leaves an adapter. Attempts carry what earlier attempts of the
same delivery already did (`done` parts, and the adapter's own `memo`, saved by `save()` before
any call that might create something), so a retry resumes instead of posting again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scheduler.errors import SchedulerError


@dataclass(frozen=True)
class Image:
    data: bytes
    mime: str
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class Outgoing:
    """What one delivery publishes: one post, or a thread of parts with the image on the first."""

    key: str  # the delivery's stable key: the base of every idempotency key
    language: str
    parts: tuple[str, ...]
    image: Image | None = None


@dataclass(frozen=True)
class RemotePart:
    id: str
    url: str


@dataclass(frozen=True)
class Published:
    parts: tuple[RemotePart, ...]

    @property
    def url(self) -> str:
        return self.parts[0].url


@dataclass
class Attempt:
    outgoing: Outgoing
    done: list[RemotePart] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)
    # Persist `done` and `memo` now (before a call that may create something); set by the ledger.
    save: Callable[[], None] = lambda: None
    # True when an earlier attempt may have reached the platform: adapters look before creating.
    resuming: bool = False


@dataclass(frozen=True)
class Counts:
    """What a platform reports of one published post, at one moment. None: the platform does not count it."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    impressions: int | None = None  # views, where the platform counts them (X)

    @classmethod
    def read(cls, **values: object) -> Counts:
        """Counts from a platform's answer: anything but a whole number from 0 up (a string, a float, a
        negative or absurd number from a broken or hostile server) is taken as not counted."""
        return cls(**{name: _count(value) for name, value in values.items()})

    def named(self) -> tuple[tuple[str, str, int | None], ...]:
        """Each count with its name for one and for many, as a person reads them (impressions are views)."""
        return (
            ("like", "likes", self.likes),
            ("repost", "reposts", self.reposts),
            ("reply", "replies", self.replies),
            ("quote", "quotes", self.quotes),
            ("view", "views", self.impressions),
        )

    @property
    def engagement(self) -> int:
        """Likes, reposts, replies and quotes together: what people did with the post (views excluded)."""
        return sum(n for n in (self.likes, self.reposts, self.replies, self.quotes) if n is not None)


def _count(value: object) -> int | None:
    return value if type(value) is int and 0 <= value < 2**53 else None


class Platform(Protocol):
    name: str

    def check(self) -> str:
        """Log in without posting; return who we are (a handle or URL)."""

    def publish(self, attempt: Attempt) -> Published:
        """Publish every part not yet in `attempt.done`, recording each as it is created."""

    def image_limit(self) -> int | None:
        """The largest image the server itself accepts, when it says (None: the configured cap)."""

    def prepare(self) -> None:
        """Load the client and open a session ahead of a due time, so the post is not late."""

    def counts(self, ids: list[str]) -> dict[str, Counts]:
        """The current counts of these published posts (their first parts' ids), by id; a post the
        platform no longer has is left out."""


class PlatformError(SchedulerError):
    """A delivery did not complete; the subclass says what may be done about it."""


class RetryableError(PlatformError):
    """Nothing was created (network failure, rate limit, server error): try again later."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AmbiguousError(PlatformError):
    """The create call may have succeeded (a timeout or reset during it): never resend blindly."""


class UnconfirmedError(PlatformError):
    """An earlier attempt may have created the post and the platform cannot tell: a person must look."""


class PermanentError(PlatformError):
    """The platform refused the post (validation, duplicate content): a person must fix it."""


class AuthError(PermanentError):
    """The credentials were refused or are missing; names the environment variables to fix."""

    def __init__(self, message: str, variables: tuple[str, ...]) -> None:
        super().__init__(f"{message}; check {', '.join(variables)}")
        self.variables = variables
