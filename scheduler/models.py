"""The campaign as typed data: every model is strict (unknown keys are errors) and frozen.

Times are always timezone-aware. A time written without an offset is read in the campaign's
timezone, which the loader passes in the validation context under "timezone".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    model_validator,
)

PLATFORMS = ("x", "mastodon", "bluesky", "outbox")
Platform = Literal["x", "mastodon", "bluesky", "outbox"]
CardSize = Literal["square", "portrait", "landscape"]
Template = Literal["slogan", "quote", "bilingual"]
CARD_PIXELS: dict[str, tuple[int, int]] = {
    "square": (1080, 1080),
    "portrait": (1080, 1350),
    "landscape": (1600, 900),
}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- scalar types -------------------------------------------------------------------------


def _language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Z]{2})?", value):
        raise ValueError(f"'{value}' is not a language code; use a lower-case ISO 639 code such as en or es")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", value):
        raise ValueError(f"'{value}' is not a valid id; use 1 to 64 lower-case letters, digits, '-' or '_'")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+(:\d+)?(/\S*)?", value):
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


def _color(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"'{value}' is not a colour; write it as #RRGGBB")
    return value.lower()


def _hashtag(value: str) -> str:
    tag = value.removeprefix("#")
    if not re.fullmatch(r"\w+", tag) or tag.isdigit():
        raise ValueError(f"'{value}' is not a hashtag; use letters, digits and '_' only")
    return tag


def _handle(value: str) -> str:
    handle = value.removeprefix("@").lower()
    if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*", handle):
        raise ValueError(f"'{value}' is not a Bluesky handle such as name.bsky.social")
    return handle


def _zone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an IANA timezone name such as America/New_York")
    try:
        if value.strip() != value or not value or value.startswith("/") or ".." in value:
            raise ValueError
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA timezone name such as America/New_York") from None


_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?\s*(?:(\d+)s)?")


def parse_duration(value: Any) -> timedelta:
    """`90m`, `1h30m`, `2d`, `45s`, or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("must be a duration such as 30m, 2h or 1d")
    if isinstance(value, int):
        minutes = value
        if minutes < 0:
            raise ValueError("must not be negative")
        return timedelta(minutes=minutes)
    match = _DURATION.fullmatch(value.strip())
    if not value.strip() or not match or not any(match.groups()):
        raise ValueError(f"'{value}' is not a duration such as 30m, 2h or 1d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def localize(naive: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in `zone` as an aware instant.

    A time skipped by spring-forward moves forward to the first valid instant; a time repeated
    by fall-back is its first occurrence, so it fires once.
    """
    candidate = naive.replace(tzinfo=zone, fold=0)
    if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return candidate
    # In a gap: the clock change happened between these two readings of the wall time.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = candidate.astimezone(UTC)
    low, high = min(low, high), max(low, high)
    offset_after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(zone)


def _moment(value: Any, info: ValidationInfo) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"'{value}' is not a valid date and time ({_why(text, exc)}); "
                "write it as 2026-12-01 09:00 or 2026-12-01 09:00-05:00"
            ) from None
        if "T" not in text.upper() and " " not in text:
            raise ValueError(f"'{value}' has no time of day; write it as {text} 09:00")
    else:
        raise ValueError("must be a date and time such as 2026-12-01 09:00")
    if parsed.tzinfo is not None:
        return parsed
    zone = (info.context or {}).get("timezone", UTC)
    return localize(parsed, zone)


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date such as 2026-12-01")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid date ({_why(value, exc)})") from None


def _why(text: str, exc: ValueError) -> str:
    reason = str(exc)
    return "not a date in the form 2026-12-01" if reason.startswith("Invalid isoformat") else reason


LanguageCode = Annotated[str, AfterValidator(_language)]
Text = Annotated[str, AfterValidator(_text)]
Identifier = Annotated[str, AfterValidator(_identifier)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Color = Annotated[str, AfterValidator(_color)]
Hashtag = Annotated[str, AfterValidator(_hashtag)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Day = Annotated[date, BeforeValidator(_day)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone), PlainSerializer(str)]
Background = Annotated[
    tuple[Color, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v), Field(min_length=1, max_length=2)
]
Localized = dict[LanguageCode, Text]
"""Text in each language, keyed by language code: `{en: ..., es: ...}`."""


# --- recurrence -----------------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_WORDS = {"weekdays": frozenset(range(5)), "weekends": frozenset({5, 6})}
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {**{d: i for i, d in enumerate(WEEKDAYS)}, **{d: i for i, d in enumerate(_FULL_DAY_NAMES)}}


@dataclass(frozen=True)
class Recurrence:
    """A recurring wall-clock schedule in the campaign timezone.

    Written as cron (`0 9 * * mon,wed`) or readably (`mon,wed,fri 09:00`, `daily 09:00 18:30`,
    `weekdays 12:30`, `mon-fri 08:00`). Weekdays are 0 = Monday.
    """

    text: str
    clock: tuple[time, ...]
    month_days: frozenset[int] | None  # None: any day of the month
    months: frozenset[int]
    weekdays: frozenset[int] | None  # None: any day of the week

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = self.month_days is None or day.day in self.month_days
        dow_ok = self.weekdays is None or day.weekday() in self.weekdays
        if self.month_days is not None and self.weekdays is not None:
            return dom_ok or dow_ok  # cron: either restriction may match
        return dom_ok and dow_ok

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        tokens = re.sub(r"\s*,\s*", ",", text.strip()).split()
        if len(tokens) == 5 and not any(":" in t for t in tokens):
            return cls._cron(text, tokens)
        return cls._readable(text, tokens)

    @classmethod
    def _cron(cls, text: str, fields: list[str]) -> Recurrence:
        minute, hour, dom, month, dow = fields
        minutes = _cron_field(minute, 0, 59, "minute")
        hours = _cron_field(hour, 0, 23, "hour")
        return cls(
            text=text,
            clock=tuple(time(h, m) for h in sorted(hours) for m in sorted(minutes)),
            month_days=None if dom == "*" else _cron_field(dom, 1, 31, "day of month"),
            months=_cron_field(month, 1, 12, "month", MONTHS),
            weekdays=None
            if dow == "*"
            else frozenset((d - 1) % 7 for d in _cron_field(dow, 0, 7, "day of week", ("sun", *WEEKDAYS))),
        )

    @classmethod
    def _readable(cls, text: str, tokens: list[str]) -> Recurrence:
        clock: set[time] = set()
        days: list[str] = []
        for token in tokens:
            parts = token.split(",")
            if all(re.fullmatch(r"\d{1,2}:\d{2}", p) for p in parts):
                clock.update(_time_of_day(p) for p in parts)
            else:
                days.append(token.lower())
        if not clock or len(days) > 1:
            raise ValueError(
                f"'{text}' is not a schedule; write it as 'mon,wed,fri 09:00', "
                "'daily 09:00 18:30' or cron such as '0 9 * * mon'"
            )
        weekdays = None
        if days and days[0] != "daily":
            weekdays = _DAY_WORDS.get(days[0]) or _day_list(days[0], text)
        return cls(
            text=text, clock=tuple(sorted(clock)), month_days=None, months=frozenset(range(1, 13)), weekdays=weekdays
        )


def _time_of_day(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    if hour > 23 or minute > 59:
        raise ValueError(f"'{text}' is not a time of day")
    return time(hour, minute)


def _day_list(word: str, text: str) -> frozenset[int]:
    result: set[int] = set()
    for part in word.split(","):
        first, dash, last = part.partition("-")
        if dash and first in _DAY_NAMES and last in _DAY_NAMES:
            a, b = _DAY_NAMES[first], _DAY_NAMES[last]
            result.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in _DAY_NAMES:
            result.add(_DAY_NAMES[part])
        else:
            raise ValueError(
                f"'{part}' in '{text}' is not a day; use mon, tue, wed, thu, fri, sat, sun, "
                "a range such as mon-fri, daily, weekdays or weekends"
            )
    return frozenset(result)


def _cron_field(field: str, low: int, high: int, name: str, names: tuple[str, ...] = ()) -> frozenset[int]:
    offset = 1 if name == "month" else 0

    def number(token: str) -> int:
        token = token.lower()
        if token in names:
            return names.index(token) + offset if name == "month" else names.index(token)
        if not token.isdigit() or not low <= int(token) <= high:
            raise ValueError(f"'{token}' is not a valid {name} ({low}-{high})")
        return int(token)

    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = number(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step '/{step_text}' in the {name} must be at least 1")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = number(start), number(end)
        else:
            first = number(base)
            last = high if step_text else first
        if first > last:
            raise ValueError(f"'{part}' is an empty range for the {name}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _recurrence(value: Any) -> Recurrence:
    if isinstance(value, Recurrence):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a schedule such as 'mon,wed,fri 09:00' or cron '0 9 * * mon'")
    return Recurrence.parse(value.strip())


Schedule = Annotated[Recurrence, BeforeValidator(_recurrence), PlainSerializer(lambda r: r.text)]


# --- accounts -----------------------------------------------------------------------------


# Largest image each platform accepts, in bytes; an account's max_image_bytes overrides it.
IMAGE_CAPS: dict[str, int | None] = {
    "x": 5 * 1024 * 1024,
    "mastodon": 16 * 1024 * 1024,
    "bluesky": 2_000_000,
    "outbox": None,
}


class AccountBase(Model):
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    enabled: bool = True
    max_image_bytes: int | None = Field(default=None, gt=0)


class XAccount(AccountBase):
    platform: Literal["x"]
    api_base: HttpUrl = "https://api.twitter.com"


class MastodonAccount(AccountBase):
    platform: Literal["mastodon"]
    instance: HttpUrl
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"


class BlueskyAccount(AccountBase):
    platform: Literal["bluesky"]
    handle: Annotated[str, AfterValidator(_handle)]
    service: HttpUrl = "https://bsky.social"


class OutboxAccount(AccountBase):
    platform: Literal["outbox"]
    path: str = "outbox"


ACCOUNT_MODELS: dict[str, type[AccountBase]] = {
    "x": XAccount,
    "mastodon": MastodonAccount,
    "bluesky": BlueskyAccount,
    "outbox": OutboxAccount,
}


def image_cap(account: AccountBase, platform: str) -> int | None:
    return account.max_image_bytes if account.max_image_bytes is not None else IMAGE_CAPS[platform]


Account = Annotated[XAccount | MastodonAccount | BlueskyAccount | OutboxAccount, Field(discriminator="platform")]

# Secrets each platform reads from the environment, as <ACCOUNT_ID>_<NAME>.
SECRET_NAMES: dict[str, tuple[str, ...]] = {
    "x": ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_SECRET"),
    "mastodon": ("ACCESS_TOKEN",),
    "bluesky": ("APP_PASSWORD",),
    "outbox": (),
}


def secret_variable(account_id: str, name: str) -> str:
    """The environment variable holding secret `name` of an account: `x-es`, api_key -> X_ES_API_KEY."""
    return f"{account_id}_{name}".upper().replace("-", "_")


@dataclass(frozen=True, order=True)
class Delivery:
    """One post, one occurrence, one account, one language: the unit the ledger tracks."""

    due: datetime  # UTC, whole seconds
    post_id: str
    account: str
    language: str

    @property
    def key(self) -> str:
        return f"{self.post_id}|{self.due:%Y-%m-%dT%H:%M:%SZ}|{self.account}|{self.language}"


# --- brand, cards, posts --------------------------------------------------------------------


class Fonts(Model):
    regular: str = "assets/fonts/NotoSans-Regular.ttf"
    bold: str = "assets/fonts/NotoSans-Bold.ttf"


class Brand(Model):
    # One colour, or two for a top-to-bottom gradient.
    background: Background = ("#1b1b1b",)
    text_color: Color = "#ffffff"
    accent_color: Color = "#e8c547"
    fonts: Fonts = Fonts()
    logo: str | None = None
    footer: Localized = {}


class Card(Model):
    slogan: Localized | None = None
    excerpt: Localized | None = None
    attribution: Localized = {}
    template: Template | None = None
    size: CardSize | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Card:
        if (self.slogan is None) == (self.excerpt is None):
            raise ValueError("give either slogan or excerpt (one of them)")
        if self.template == "quote" and self.excerpt is None:
            raise ValueError("template: the quote template shows an excerpt; give excerpt instead of slogan")
        if self.template == "slogan" and self.slogan is None:
            raise ValueError("template: the slogan template shows a slogan; give slogan instead of excerpt")
        return self

    @property
    def words(self) -> dict[str, str]:
        """The card's text in each language."""
        return dict(self.slogan or self.excerpt or {})

    @property
    def kind(self) -> Template:
        return self.template or ("slogan" if self.slogan is not None else "quote")


class Post(Model):
    id: Identifier
    text: Localized = Field(min_length=1)
    # A text over a platform's limit becomes a thread instead of an error; numbered "1/3" by default.
    thread: bool = False
    thread_numbers: bool = True
    card: Card | None = None
    alt: Localized = {}
    link: HttpUrl | None = None
    hashtags: tuple[Hashtag, ...] = ()
    accounts: tuple[str, ...] | None = None
    at: Moment | None = None
    every: Schedule | None = None
    starts: Moment | None = None
    until: Moment | None = None
    max_late: Duration | None = None

    @model_validator(mode="after")
    def _one_timing(self) -> Post:
        if self.at is not None and self.every is not None:
            raise ValueError("every: give either at (one time) or every (a recurrence), not both")
        if self.starts is not None and self.every is None:
            raise ValueError("starts: starts is only for recurring posts (every)")
        if self.until is not None and self.at is not None:
            raise ValueError("until: until is only for recurring or queued posts; a post with at goes out once")
        if self.starts is not None and self.until is not None and self.until <= self.starts:
            raise ValueError("until: must be after starts")
        return self

    @property
    def queued(self) -> bool:
        """Without at or every, the post takes the next free queue slot."""
        return self.at is None and self.every is None


class Queue(Model):
    slots: tuple[Schedule, ...] = Field(min_length=1)
    starts: Day | None = None


class Defaults(Model):
    max_late: Duration = timedelta(hours=1)
    card_size: CardSize = "portrait"
    accounts: tuple[str, ...] | None = None
    attribution: Localized = {}


class Campaign(Model):
    timezone: Zone
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    paused: bool = False
    brand: Brand = Brand()
    defaults: Defaults = Defaults()
    accounts: dict[str, Account] = Field(min_length=1)
    queue: Queue | None = None
    posts: tuple[Post, ...] = ()

    def accounts_of(self, post: Post) -> tuple[str, ...]:
        """The account ids a post goes to: its own list, else the campaign default, else all."""
        return post.accounts or self.defaults.accounts or tuple(self.accounts)

    def max_late_of(self, post: Post) -> timedelta:
        return post.max_late if post.max_late is not None else self.defaults.max_late


# The top-level sections, validated one by one so one bad post never hides the others' problems.
SECTIONS: dict[str, Any] = {
    "timezone": Zone,
    "languages": tuple[LanguageCode, ...],
    "paused": bool,
    "brand": Brand,
    "defaults": Defaults,
    "accounts": dict[str, Account],
    "queue": Queue,
}
