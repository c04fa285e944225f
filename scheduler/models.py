"""The campaign as typed data: every model is strict (unknown keys are errors) and frozen.

Times are always timezone-aware. A time written without an offset is read in the campaign's
timezone, which the loader passes in the validation context under "timezone".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
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
    WithJsonSchema,
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


def format_duration(duration: timedelta) -> str:
    """A duration as posts.yaml writes it (the inverse of parse_duration): 1h, 1h30m, 2d."""
    seconds = int(duration.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0m"


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


# --- how each type is written, for editors (schema.py): ECMAScript patterns of what the validators accept


def _written(pattern: str, hint: str, **more: Any) -> dict[str, Any]:
    """JSON Schema keywords for text matching `pattern`; `patternErrorMessage` is what editors show otherwise."""
    return {"pattern": pattern, "patternErrorMessage": hint, **more}


def _month_day(dash: str) -> str:
    """A month and a day that can exist in it (29 February of a common year is left to the validator)."""
    long_months, short_months = "(?:0[13578]|1[02])", "(?:0[469]|11)"
    return (
        rf"(?:{long_months}{dash}(?:0[1-9]|[12]\d|3[01])|{short_months}{dash}(?:0[1-9]|[12]\d|30)"
        rf"|02{dash}(?:0[1-9]|[12]\d))"
    )


# datetime.fromisoformat's forms: extended or basic date, or a week date.
_ISO_DATE = rf"(?:\d{{4}}-{_month_day('-')}|\d{{4}}{_month_day('')}|\d{{4}}-?W(?:0[1-9]|[1-4]\d|5[0-3])(?:-?[1-7])?)"
_ISO_CLOCK = r"(?:[01]\d|2[0-3])(?::?[0-5]\d(?::?[0-5]\d(?:[.,]\d+)?)?)?"
_ISO_WHOLE_CLOCK = r"(?:[01]\d|2[0-3])(?::?[0-5]\d(?::?[0-5]\d)?)?"
_ISO_OFFSET = rf"(?:Z|[+-]{_ISO_CLOCK})"
# Any one character (but a digit) may part date and time, but _moment needs a T or a space somewhere; a space
# before the offset is taken only after whole seconds.
_MOMENT_PATTERN = (
    rf"^\s*{_ISO_DATE}(?:[Tt ](?:{_ISO_WHOLE_CLOCK}(?: ?{_ISO_OFFSET})?|{_ISO_CLOCK}{_ISO_OFFSET}?)"
    rf"|\D{_ISO_WHOLE_CLOCK} {_ISO_OFFSET})\s*$"
)
_DURATION_PATTERN = r"^\s*(?=\d)(?:\d+d)?\s*(?:\d+h)?\s*(?:\d+m(?:in)?)?\s*(?:\d+s)?\s*$"
_HANDLE_PATTERN = r"^@?(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z][a-zA-Z0-9-]*$"
_COLOR_JSON = {"type": "string", **_written("^#[0-9a-fA-F]{6}$", "not a colour; write it as #RRGGBB")}

LanguageCode = Annotated[
    str,
    AfterValidator(_language),
    Field(
        json_schema_extra=_written(
            "^[a-z]{2,3}(-[A-Z]{2})?$", "not a language code; use a lower-case ISO 639 code such as en or es"
        )
    ),
]
Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra=_written(r"\S", "must not be empty"))]
Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    Field(
        json_schema_extra=_written(
            "^[a-z0-9][a-z0-9_-]{0,63}$", "not a valid id; use 1 to 64 lower-case letters, digits, '-' or '_'"
        )
    ),
]
HttpUrl = Annotated[
    str,
    AfterValidator(_http_url),
    Field(json_schema_extra=_written(r"^https?://[^\s/?#]+(:\d+)?(/\S*)?$", "not an http(s) URL")),
]
Color = Annotated[str, AfterValidator(_color), WithJsonSchema(_COLOR_JSON)]
Hashtag = Annotated[
    str,
    AfterValidator(_hashtag),
    Field(
        json_schema_extra=_written(
            r"^#?(?!\p{Nd}+$)[\p{L}\p{N}_]+$", "not a hashtag; use letters, digits and '_' only", examples=["Haiti"]
        )
    ),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "description": "a number of minutes"},
                {"type": "string", **_written(_DURATION_PATTERN, "not a duration such as 30m, 2h or 1d")},
            ],
            "examples": ["30m", "1h", "1h30m", "2d"],
        }
    ),
]
Moment = Annotated[
    datetime,
    BeforeValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            **_written(
                _MOMENT_PATTERN,
                "not a date and time; write it as 2026-12-01 09:00 or 2026-12-01 09:00-05:00",
                examples=["2026-12-01 09:00", "2026-12-01 09:00-05:00"],
            ),
        }
    ),
]
Day = Annotated[
    date,
    BeforeValidator(_day),
    WithJsonSchema(
        {
            "type": "string",
            **_written(rf"^\s*{_ISO_DATE}\s*$", "not a date such as 2026-12-01", examples=["2026-12-01"]),
        }
    ),
]
Zone = Annotated[
    ZoneInfo,
    BeforeValidator(_zone),
    PlainSerializer(str),
    WithJsonSchema(
        {
            "type": "string",
            **_written(
                "^[A-Za-z][A-Za-z0-9_+/-]*$",
                "not an IANA timezone name such as America/New_York",
                examples=["America/New_York", "America/Port-au-Prince", "Europe/London", "UTC"],
            ),
        }
    ),
]
Background = Annotated[
    tuple[Color, ...],
    BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
    Field(min_length=1, max_length=2),
    WithJsonSchema({"anyOf": [_COLOR_JSON, {"type": "array", "items": _COLOR_JSON, "minItems": 1, "maxItems": 2}]}),
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


def _any_case(word: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in word)


def _schedule_pattern() -> str:
    """What Recurrence.parse accepts, as one ECMAScript pattern (JSON Schema has no case-insensitive flag).

    Empty cron ranges (5-1) and zero steps (*/0) are left to the validator.
    """
    comma = r"\s*,\s*"

    def listed(item: str) -> str:
        return f"{item}(?:{comma}{item})*"

    def cron(number: str) -> str:
        part = rf"(?:\*|{number}(?:-{number})?)(?:/{number})?"
        return listed(part)

    def words(names: tuple[str, ...]) -> str:
        return "|".join(_any_case(name) for name in names)

    clock = r"(?:[01]?\d|2[0-3]):[0-5]\d"
    day = (
        "(?:"
        + "|".join(
            f"{_any_case(d)}(?:{_any_case(f[len(d) :])})?" for d, f in zip(WEEKDAYS, _FULL_DAY_NAMES, strict=True)
        )
        + ")"
    )
    days = f"(?:{words(('daily', *_DAY_WORDS))}|{listed(f'{day}(?:-{day})?')})"
    times = listed(clock)
    # Tokens apart, at most one of them days; a time is the only token with a colon, and one is needed.
    readable = rf"(?=[^:]*:)(?:{times}\s+)*(?:{days}|{times})(?:\s+{times})*"
    fields = (
        r"0*[1-5]?\d",  # minute
        r"0*(?:1?\d|2[0-3])",  # hour
        r"0*(?:[1-9]|[12]\d|3[01])",  # day of the month
        rf"0*(?:[1-9]|1[0-2])|{words(MONTHS)}",  # month
        rf"0*[0-7]|{words(('sun', *WEEKDAYS))}",  # day of the week
    )
    crontab = r"\s+".join(cron(f"(?:{number})") for number in fields)
    return rf"^\s*(?:{readable}|{crontab})\s*$"


Schedule = Annotated[
    Recurrence,
    BeforeValidator(_recurrence),
    PlainSerializer(lambda r: r.text),
    WithJsonSchema(
        {
            "type": "string",
            **_written(
                _schedule_pattern(),
                "not a schedule; write it as 'mon,wed,fri 09:00', 'daily 09:00 18:30' or cron such as '0 9 * * mon'",
                examples=["mon 12:00", "tue,thu 10:00", "daily 09:00 18:30", "mon-fri 12:30", "0 12 * * mon"],
            ),
        }
    ),
]


# --- accounts -----------------------------------------------------------------------------


# Largest image each platform accepts, in bytes; an account's max_image_bytes overrides it.
IMAGE_CAPS: dict[str, int | None] = {
    "x": 5 * 1024 * 1024,
    "mastodon": 16 * 1024 * 1024,
    "bluesky": 2_000_000,
    "outbox": None,
}


class AccountBase(Model):
    languages: tuple[LanguageCode, ...] = Field(
        min_length=1,
        description="The languages this account posts in, from the campaign's languages. "
        "An account that posts in two languages gets one post per language.",
        json_schema_extra={"uniqueItems": True},
    )
    enabled: bool = Field(
        True, description="false: the account posts nothing. Keep it false until its secrets are set."
    )
    max_image_bytes: int | None = Field(
        default=None,
        gt=0,
        description="The largest card image this account takes, in bytes; by default the platform's limit.",
    )


class XAccount(AccountBase):
    """An account on X. Its secrets come from the environment or .env beside posts.yaml, never from this file:
    <ID>_API_KEY, <ID>_API_SECRET, <ID>_ACCESS_TOKEN and <ID>_ACCESS_SECRET (OAuth 1.0a user context), where
    <ID> is the account id in capitals with - turned into _."""

    platform: Literal["x"]
    api_base: HttpUrl = Field(
        "https://api.twitter.com", description="The X API server; change it only for a test stand-in."
    )


class MastodonAccount(AccountBase):
    """An account on a Mastodon server. Its secret comes from the environment or .env beside posts.yaml, never
    from this file: <ID>_ACCESS_TOKEN, where <ID> is the account id in capitals with - turned into _."""

    platform: Literal["mastodon"]
    instance: HttpUrl = Field(description="The server the account lives on, such as https://mastodon.social.")
    visibility: Literal["public", "unlisted", "private", "direct"] = Field(
        "public", description="public, unlisted, private (followers only) or direct."
    )


class BlueskyAccount(AccountBase):
    """An account on Bluesky. Its secret comes from the environment or .env beside posts.yaml, never from this
    file: <ID>_APP_PASSWORD (an app password, never the account password), where <ID> is the account id in
    capitals with - turned into _."""

    platform: Literal["bluesky"]
    handle: Annotated[
        str,
        AfterValidator(_handle),
        Field(json_schema_extra=_written(_HANDLE_PATTERN, "not a Bluesky handle such as name.bsky.social")),
    ] = Field(description="The account's handle, such as name.bsky.social.")
    service: HttpUrl = Field("https://bsky.social", description="The server (PDS) the account lives on.")
    appview: HttpUrl = Field(
        "https://public.api.bsky.app",
        description="Where `stats` reads likes, reposts, replies and quotes: a Bluesky AppView (a PDS alone has no "
        "counts). The public one needs no login.",
    )


class OutboxAccount(AccountBase):
    """A local folder that receives each post as files, plus an index.html feed: exactly what would have been
    posted. It needs no secrets."""

    platform: Literal["outbox"]
    path: str = Field("outbox", description="The folder, relative to posts.yaml.")


ACCOUNT_MODELS: dict[str, type[AccountBase]] = {
    "x": XAccount,
    "mastodon": MastodonAccount,
    "bluesky": BlueskyAccount,
    "outbox": OutboxAccount,
}


def image_cap(account: AccountBase, platform: str) -> int | None:
    return account.max_image_bytes if account.max_image_bytes is not None else IMAGE_CAPS[platform]


Account = Annotated[
    XAccount | MastodonAccount | BlueskyAccount | OutboxAccount,
    Field(
        discriminator="platform",
        description="Where posts go: x, mastodon, bluesky, or outbox (a local folder). "
        "Secrets never go here: they come from the environment or .env beside posts.yaml.",
    ),
]

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
    """The font files the cards are drawn with, relative to posts.yaml."""

    regular: str = Field(
        "assets/fonts/NotoSans-Regular.ttf", description="For excerpts and the footer, relative to posts.yaml."
    )
    bold: str = Field(
        "assets/fonts/NotoSans-Bold.ttf", description="For slogans and attributions, relative to posts.yaml."
    )


class Brand(Model):
    """How the cards (images) look."""

    background: Background = Field(
        ("#1b1b1b",), description="One colour, or two for a top-to-bottom gradient; colours are #RRGGBB."
    )
    text_color: Color = Field(
        "#ffffff", description="The colour of the words, #RRGGBB; it must be readable on the background (4.5:1)."
    )
    accent_color: Color = Field(
        "#e8c547",
        description="For the quotation marks, the divider and the attribution line, #RRGGBB; "
        "it must be readable on the background (4.5:1).",
    )
    fonts: Fonts = Field(Fonts(), description="The fonts the cards are drawn with, relative to posts.yaml.")
    logo: str | None = Field(
        None,
        description="A small image drawn in the top corner of every card (PNG with transparency works best), "
        "relative to posts.yaml; none when left out.",
    )
    footer: Localized = Field({}, description="The line at the bottom of every card, in each language.")


# The checks of Card._one_kind and Post._one_timing, for editors, reported at the key the validators name.
_CARD_RULES: dict[str, Any] = {
    "oneOf": [
        {
            "required": [kind],
            "properties": {kind: {"type": "object"}},
            "errorMessage": "give either slogan or excerpt (one of them)",
        }
        for kind in ("slogan", "excerpt")
    ],
    "allOf": [
        {
            "if": {"required": ["slogan"], "properties": {"slogan": {"type": "object"}}},
            "then": {
                "properties": {
                    "template": {
                        "enum": ["slogan", "bilingual", None],
                        "errorMessage": "the quote template shows an excerpt; give excerpt instead of slogan",
                    }
                }
            },
        },
        {
            "if": {"required": ["excerpt"], "properties": {"excerpt": {"type": "object"}}},
            "then": {
                "properties": {
                    "template": {
                        "enum": ["quote", "bilingual", None],
                        "errorMessage": "the slogan template shows a slogan; give slogan instead of excerpt",
                    }
                }
            },
        },
    ],
}
_POST_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": {"required": [given, key], "properties": {given: {"type": "string"}, key: {"type": "string"}}},
            "then": {"properties": {key: {"type": "null", "errorMessage": message}}},
        }
        for given, key, message in (
            ("at", "every", "give either at (one time) or every (a recurrence), not both"),
            ("at", "until", "until is only for recurring or queued posts; a post with at goes out once"),
        )
    ]
    + [
        {
            "if": {"required": ["starts"], "properties": {"starts": {"type": "string"}, "every": {"type": "null"}}},
            "then": {
                "properties": {"starts": {"type": "null", "errorMessage": "starts is only for recurring posts (every)"}}
            },
        }
    ]
}
_ACCOUNT_ID = _written("^[a-z0-9][a-z0-9_-]{0,63}$", "not an account id; use the id of one of the accounts")


class Card(Model):
    """The image posted with the text: give either slogan or excerpt."""

    model_config = ConfigDict(json_schema_extra=_CARD_RULES)

    slogan: Localized | None = Field(
        None, description="A short line, drawn as large as fits, in each language. Give either slogan or excerpt."
    )
    excerpt: Localized | None = Field(
        None,
        description="A quotation, drawn with quotation marks and the attribution, in each language. "
        "Give either slogan or excerpt.",
    )
    attribution: Localized = Field(
        {}, description="Printed under an excerpt, in each language; by default defaults.attribution."
    )
    template: Template | None = Field(
        None,
        description="slogan, quote, or bilingual (both languages on one card); "
        "by default slogan for a slogan and quote for an excerpt.",
    )
    size: CardSize | None = Field(
        None,
        description="square (1080x1080), portrait (1080x1350) or landscape (1600x900); by default defaults.card_size.",
    )

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
    """One post: its text in each language, its card, and when and where it goes out."""

    model_config = ConfigDict(json_schema_extra=_POST_RULES)

    id: Identifier = Field(
        description="A stable name: lower-case letters, digits, - or _. The ledger keys on it: never reuse an id "
        "for a different post, and do not rename a post that already went out."
    )
    text: Localized = Field(
        min_length=1,
        description="What is posted, in each language. Counted against each platform's limit (X 280 weighted, "
        "Mastodon 500, Bluesky 300); validate tells you what is over.",
    )
    thread: bool = Field(
        False,
        description="true: a text too long for a platform goes out as a thread of numbered parts (1/3, 2/3, ...) "
        "instead of being an error.",
    )
    thread_numbers: bool = Field(True, description="false: a thread's parts go out without the 1/3, 2/3 numbers.")
    card: Card | None = Field(None, description="An image posted with the text: a slogan or an excerpt card.")
    alt: Localized = Field(
        {},
        description="The image description for screen readers, in each language; "
        "by default the card's own words (and attribution).",
    )
    link: HttpUrl | None = Field(None, description="A URL added at the end of the text.")
    hashtags: tuple[Hashtag, ...] = Field((), description="Hashtags added at the end of the text, with or without #.")
    accounts: tuple[Annotated[str, Field(json_schema_extra=_ACCOUNT_ID)], ...] | None = Field(
        None,
        min_length=1,
        description="The ids of the accounts this post goes to; by default defaults.accounts, else every account.",
    )
    at: Moment | None = Field(
        None,
        description="One time, such as 2026-12-01 09:00, read in the campaign timezone unless it has an offset "
        "(2026-12-01 09:00-05:00). Give at, or every, or neither to take the next queue slot.",
    )
    every: Schedule | None = Field(
        None,
        description="A recurrence: mon 12:00, mon,wed,fri 09:00, daily 09:00 18:30, weekdays 12:30, mon-fri 08:00, "
        "or cron such as 0 12 * * mon. In the campaign timezone.",
    )
    starts: Moment | None = Field(None, description="For a recurring post (every): the first time it may go out.")
    until: Moment | None = Field(None, description="For a recurring or queued post: the last time it may go out.")
    max_late: Duration | None = Field(
        None, description="How late a missed delivery may still go out; by default defaults.max_late."
    )

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
    """Posts with neither at nor every take the next free slot, in the order they appear in the file. A slot
    once used keeps its post; adding or moving posts only changes what has not gone out yet."""

    slots: tuple[Schedule, ...] = Field(
        min_length=1,
        description="When slots open: a day list and times (tue,thu 10:00, daily 09:00 18:00, mon-fri 12:30) "
        "or cron (0 10 * * tue,thu).",
    )
    starts: Day | None = Field(None, description="The first day the queue may use, such as 2026-12-19.")


class Defaults(Model):
    """What a post gets when it does not say otherwise."""

    max_late: Duration = Field(
        timedelta(hours=1),
        description="How late a delivery may still go out if the scheduler was down when it fell due: 30m, 2h, 1d, "
        "or a number of minutes. Later than this, it is marked expired (and shown in status) instead of posted late.",
    )
    card_size: CardSize = Field(
        "portrait", description="Card shape: square (1080x1080), portrait (1080x1350) or landscape (1600x900)."
    )
    accounts: tuple[Annotated[str, Field(json_schema_extra=_ACCOUNT_ID)], ...] | None = Field(
        None,
        min_length=1,
        description="The ids of the accounts a post goes to when it names none; by default every account.",
    )
    attribution: Localized = Field({}, description="Printed under every excerpt card, in each language.")


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("must be a price such as 0.015")
    try:
        # Through str: YAML reads 0.015 as a float, and Decimal(0.015) would be 0.01499999...
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a price; write it as a number such as 0.015") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"'{value}' is not a price; write it as a number such as 0.015")
    return price


def _currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"'{value}' is not a currency code; write three letters such as USD")
    return code


Price = Annotated[Decimal, BeforeValidator(_price)]
Currency = Annotated[str, AfterValidator(_currency)]


class XPrices(Model):
    """What X charges per post it creates: the optional `x_prices` section of posts.yaml.

    Defaults as of 2026-11 from X's developer docs (pay-per-use, effective 2026-02-06; "Content:
    Create" and "Content: Create (with URL)" on https://docs.x.com/x-api/getting-started/pricing); check the
    current price page.
    """

    post: Price = Field(Decimal("0.015"), description="What X charges for a post without a link.")
    post_with_link: Price = Field(Decimal("0.20"), description="What X charges for a post with a link.")
    currency: Currency = Field("USD", description="The currency of these prices, three letters.")
    owned_read: Price = Field(
        Decimal("0.001"), description="What X charges to read one of the account's own posts (for `stats`)."
    )
    as_of: Day = Field(date(2026, 2, 6), description="The date these prices were taken from X's price page.")


def _checkpoints(value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
    if any(after <= timedelta(0) for after in value):
        raise ValueError("each time after a delivery must be more than 0, such as 1h")
    return tuple(sorted(set(value)))


class Stats(Model):
    """Engagement counts (likes, reposts, replies, quotes) fetched back from the platforms: the optional `stats`
    section of posts.yaml."""

    collect: bool = Field(
        True, description="false: the daemon never fetches counts on its own (run.py stats still does, when asked)."
    )
    after: Annotated[tuple[Duration, ...], AfterValidator(_checkpoints)] = Field(
        (timedelta(hours=1), timedelta(days=1), timedelta(days=7)),
        min_length=1,
        description="When the daemon fetches a published post's counts, after it went out: such as [1h, 24h, 7d].",
    )
    x_reads_per_month: int = Field(
        0,
        ge=0,
        description="How many of its own posts may be read back from X each calendar month (UTC). X charges for "
        "every read (x_prices.owned_read), so the default 0 never reads X.",
    )


class Campaign(Model):
    """posts.yaml: the whole campaign in one file."""

    timezone: Zone = Field(
        description="The timezone every time in this file is read in, an IANA name such as America/New_York. "
        "Daylight saving is handled: a post at 09:00 goes out at 09:00 local time in winter and in summer."
    )
    languages: tuple[LanguageCode, ...] = Field(
        min_length=1,
        description="The languages of the campaign, such as [en, es]. Every post gives its text in each language "
        "its accounts post in; a bilingual post goes out in both languages or not at all.",
        json_schema_extra={"uniqueItems": True},
    )
    paused: bool = Field(
        False,
        description="The kill switch: true stops ALL publishing at once; set it back to false to resume. "
        "What falls due while paused still respects each post's max_late.",
    )
    brand: Brand = Field(Brand(), description="How the cards (images) look.")
    defaults: Defaults = Field(Defaults(), description="What a post gets when it does not say otherwise.")
    accounts: dict[str, Account] = Field(
        min_length=1,
        description="Where posts go, by account id (lower-case letters, digits, - or _): the id is used in posts "
        "and names the environment variables of the account's secrets. Secrets never go in this file.",
    )
    queue: Queue | None = Field(
        None, description="Time slots for the posts that give neither at nor every, taken in file order."
    )
    posts: tuple[Post, ...] = Field((), description="The posts. Each one's id is stable: the ledger keys on it.")
    x_prices: XPrices = Field(
        XPrices(), description="What X charges per post, for the cost estimate in validate -v and the preview."
    )
    stats: Stats = Field(Stats(), description="When engagement counts are fetched back from the platforms.")

    def accounts_of(self, post: Post) -> tuple[str, ...]:
        """The account ids a post goes to: its own list, else the campaign default, else all."""
        return post.accounts or self.defaults.accounts or tuple(self.accounts)

    def find_post(self, post_id: str) -> Post | None:
        return next((post for post in self.posts if post.id == post_id), None)

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
    "x_prices": XPrices,
    "stats": Stats,
}
