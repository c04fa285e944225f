"""Load posts.yaml into a typed Campaign, reporting every problem at once with its line and key path.

First the file is read defensively (see source.py); then each top-level section and each post is
validated on its own, so one broken post never hides the problems of the others; then a logical
pass checks what no single field can: ids, accounts, languages, platform limits, assets, secrets.
A broken setting hides nothing either: the checks run with a stand-in (UTC for the timezone, the
defaults for a broken brand, defaults or queue field) and skip only what the stand-in cannot tell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import re
import types
import typing
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from scheduler import models, text, twins
from scheduler.cards import FontFiles, alt_text
from scheduler.cards.palette import MIN_CONTRAST, contrast_ratio
from scheduler.errors import ContentError, Problem, SchedulerError, Severity
from scheduler.models import Campaign, Post
from scheduler.source import Document, Path_, SourceError, format_path, read

REQUIRED = ("timezone", "languages", "accounts")
TOP_LEVEL = (*models.SECTIONS, "posts")
_SECRET_KEY = re.compile(r"(token|passw(or)?d|secret|credential|(^|[_-])key$|apikey)", re.IGNORECASE)
_PLATFORM_ALIASES = {"twitter": "x", "bsky": "bluesky", "fediverse": "mastodon", "masto": "mastodon"}
_ADAPTERS = {name: TypeAdapter(kind) for name, kind in models.SECTIONS.items()}
_ACCOUNT: TypeAdapter[models.Account] = TypeAdapter(models.Account)
# Fields holding a time of day, where "10am" or "10.30" is a likely slip.
_TIME_FIELDS = frozenset({"at", "every", "starts", "until", "slots"})
_TWELVE_HOUR = re.compile(r"(?<![\d:.])(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s*m\b\.?", re.IGNORECASE)
_DOTTED_TIME = re.compile(r"(?<![\d:.])(\d{1,2})\.(\d{2})(?![\d.])")
# Said once, on the timezone's own error, while UTC stands in for it.
_UTC_NOTE = "; until it is {fix}, times are read as UTC"


@dataclass
class Report:
    """What checking a campaign file found: the campaign when it has no errors, and every problem."""

    path: Path
    campaign: Campaign | None
    problems: list[Problem]
    document: Document | None = None
    # What can be shown even with errors: the settings and accounts without errors and only the
    # posts without errors (their indices in the file's `posts` in `partial_indices`); None when
    # the timezone, the languages or every account is broken. The campaign itself when all is well.
    partial: Campaign | None = None
    partial_indices: tuple[int, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def warn_post(self, post_id: str, message: str) -> None:
        """Add a warning found outside the file (in the ledger), at that post's id."""
        assert self.campaign is not None
        assert self.document is not None
        index = next(i for i, post in enumerate(self.campaign.posts) if post.id == post_id)
        path = ("posts", index, "id")
        line, column = self.document.locate(path)
        self.problems.append(Problem(line, column, format_path(path), message, Severity.WARNING))


def load(path: Path, *, now: datetime | None = None) -> Campaign:
    """The campaign in `path`; raises ContentError listing every error when it has any."""
    report = check(path, now=now)
    if report.campaign is None:
        raise ContentError(str(path), report.errors)
    return report.campaign


def check(path: Path, *, now: datetime | None = None, went_out: Container[str] = frozenset()) -> Report:
    """Every problem with the campaign file at `path`, and the campaign if it has no errors.

    `went_out`: the posts the ledger holds as published, whose past times are no news.
    """
    with _collector_paused():
        return _check(path, now, went_out)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading builds hundreds of thousands of small acyclic objects (a capped file bounds them);
    the cycle collector would walk them again and again, doubling the time for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(path: Path, now: datetime | None, went_out: Container[str]) -> Report:
    try:
        document = read(path)
    except SourceError as exc:
        return Report(path, None, list(exc.problems))
    checker = _Checker(document, path.resolve().parent, now or datetime.now(UTC), went_out)
    campaign, posts = checker.run()
    problems = sorted(set(checker.problems))
    has_errors = any(p.severity is Severity.ERROR for p in problems)
    if not has_errors:
        return Report(path, campaign, problems, document, campaign, tuple(posts))
    partial, indices = checker.partial(campaign, posts)
    return Report(path, None, problems, document, partial, indices)


@dataclass
class _Checker:
    doc: Document
    root: Path
    now: datetime
    went_out: Container[str]
    problems: list[Problem] = field(default_factory=list)
    secret_paths: set[Path_] = field(default_factory=set)
    failed_sections: set[str] = field(default_factory=set)
    # Fields of a broken brand, defaults or queue left out (their defaults stand in).
    dropped: dict[str, set[str]] = field(default_factory=dict)
    # Settings that failed and have a stand-in: timezone (UTC), languages, accounts.
    stand_ins: set[str] = field(default_factory=set)
    error_paths: set[Path_] = field(default_factory=set)

    # -- reporting --------------------------------------------------------------------------

    def error(self, path: Path_, message: str, *, key: bool = False) -> None:
        self._add(path, message, Severity.ERROR, key)

    def warn(self, path: Path_, message: str, *, key: bool = False) -> None:
        self._add(path, message, Severity.WARNING, key)

    def _add(self, path: Path_, message: str, severity: Severity, key: bool) -> None:
        line, column = self.doc.locate(path, key=key)
        self.problems.append(Problem(line, column, format_path(path), message, severity))
        if severity is Severity.ERROR:
            self.error_paths.add(path)

    # -- passes -----------------------------------------------------------------------------

    def run(self) -> tuple[Campaign, dict[int, Post]]:
        """The campaign as far as it validated, with stand-ins for broken settings, and the posts
        that validated by their index in the file; every problem found lands in `problems`."""
        data = self.doc.data
        for path, slip in self.doc.slips.items():
            self.problems.append(slip)
            self.error_paths.add(path)
        self._check_secrets(data, ())
        for key in data:
            if key not in TOP_LEVEL and (key,) not in self.secret_paths:
                self.error((key,), f"unknown setting{_suggest(key, TOP_LEVEL)}", key=True)
        for key in REQUIRED:
            if key not in data:
                note = _UTC_NOTE.format(fix="set") if key == "timezone" and _has_times(data) else ""
                self.error((), f"missing required setting '{key}'{note}")
        sections = self._validate_sections(data)
        context = {"timezone": sections["timezone"]}
        accounts = self._validate_accounts(data.get("accounts"), context)
        posts = dict(self._validate_posts(data.get("posts", []), context))
        if "languages" not in sections:
            self.stand_ins.add("languages")
            sections["languages"] = _languages_of(accounts.values(), posts.values())
        # Already validated piece by piece: construct without validating again.
        campaign = Campaign.model_construct(**sections, accounts=accounts, posts=tuple(posts.values()))
        raw_accounts = data.get("accounts")
        broken = set(raw_accounts) - set(accounts) if isinstance(raw_accounts, dict) else set()
        _Logic(self, campaign, posts, broken_accounts=broken).run()
        return campaign, posts

    def partial(self, campaign: Campaign, posts: dict[int, Post]) -> tuple[Campaign | None, tuple[int, ...]]:
        """The campaign without whatever has an error, and the indices of the posts it keeps."""
        if self.stand_ins & {"timezone", "languages"}:
            return None, ()
        flawed: dict[str, set[str | int]] = {}
        for path in self.error_paths:
            if len(path) >= 2:
                flawed.setdefault(str(path[0]), set()).add(path[1])
        accounts = {key: account for key, account in campaign.accounts.items() if key not in flawed.get("accounts", ())}
        if not accounts:
            return None, ()
        brand = campaign.brand
        if "logo" in flawed.get("brand", ()):
            brand = brand.model_copy(update={"logo": None})
        if "fonts" in flawed.get("brand", ()):
            brand = brand.model_copy(update={"fonts": models.Fonts()})
        queue = None if "queue" in flawed or "queue" in self.failed_sections else campaign.queue
        shell = campaign.model_copy(update={"brand": brand, "accounts": accounts, "queue": queue, "posts": ()})
        targets_known = "accounts" not in self.dropped.get("defaults", ())
        kept = [
            (index, post)
            for index, post in posts.items()
            if index not in flawed.get("posts", ())
            and (queue is not None or not post.queued)
            and (targets_known or post.accounts is not None)
            and all(account_id in accounts for account_id in shell.accounts_of(post))
        ]
        return shell.model_copy(update={"posts": tuple(post for _, post in kept)}), tuple(index for index, _ in kept)

    def _validate_sections(self, data: dict[str, Any]) -> dict[str, Any]:
        valid: dict[str, Any] = {}
        zone = self._validate_one("timezone", data, {})
        if zone is None:
            self.stand_ins.add("timezone")
            if "timezone" in self.failed_sections and _has_times(data):
                self._note_utc()
        valid["timezone"] = zone or UTC
        context = {"timezone": valid["timezone"]}
        for name in models.SECTIONS:
            if name in ("timezone", "accounts") or name not in data:
                continue
            value = self._validate_one(name, data, context)
            if value is not None:
                valid[name] = value
        return valid

    def _note_utc(self) -> None:
        """Say once, on the timezone's own error, that times were read as UTC meanwhile."""
        for i, problem in enumerate(self.problems):
            if problem.path == "timezone":
                message = problem.message + _UTC_NOTE.format(fix="fixed")
                self.problems[i] = dataclasses.replace(problem, message=message)
                return

    def _validate_one(self, name: str, data: dict[str, Any], context: dict[str, Any]) -> Any:
        if name not in data:
            return None
        try:
            return _ADAPTERS[name].validate_python(data[name], context=context)
        except ValidationError as exc:
            self._report_validation(exc, (name,), models.SECTIONS[name])
            self.failed_sections.add(name)
            return self._salvage(name, data[name], exc, context)

    def _salvage(self, name: str, raw: Any, exc: ValidationError, context: dict[str, Any]) -> Any:
        """A broken brand, defaults or queue without its broken fields, whose defaults stand in;
        None when what is left is not enough."""
        kind = models.SECTIONS[name]
        if not _is_model(kind):
            return None
        everything = set(kind.model_fields)
        self.dropped[name] = everything
        locations = [detail["loc"] for detail in exc.errors(include_url=False)]
        if not isinstance(raw, dict) or any(not loc for loc in locations):
            return None
        broken = {str(loc[0]) for loc in locations}
        try:
            salvaged = _ADAPTERS[name].validate_python(
                {key: value for key, value in raw.items() if key not in broken}, context=context
            )
        except ValidationError:
            return None
        self.dropped[name] = broken & everything
        return salvaged

    def _validate_accounts(self, raw: Any, context: dict[str, Any]) -> dict[str, models.Account]:
        if not isinstance(raw, dict) or not raw:
            self.stand_ins.add("accounts")
            if raw is not None:
                described = f"{_describe(raw)}{_as_mapping(raw)}"
                self.error(("accounts",), f"must be a mapping of account ids to accounts, not {described}")
            return {}
        valid = {}
        for account_id, item in raw.items():
            try:
                valid[account_id] = _ACCOUNT.validate_python(item, context=context)
            except ValidationError as exc:
                self._report_validation(exc, ("accounts", account_id), models.Account)
        return valid

    def _validate_posts(self, raw: Any, context: dict[str, Any]) -> list[tuple[int, Post]]:
        if not isinstance(raw, list):
            hint = ': start each post with "- ", as in "- id: ..."' if isinstance(raw, dict) else ""
            self.error(("posts",), f"must be a list of posts, not {_describe(raw)}{hint}")
            return []
        valid = []
        for index, item in enumerate(raw):
            try:
                valid.append((index, Post.model_validate(item, context=context)))
            except ValidationError as exc:
                self._report_validation(exc, ("posts", index), Post)
        return valid

    def _report_validation(self, exc: ValidationError, prefix: Path_, kind: Any) -> None:
        details = exc.errors(include_url=False)
        # A list whose only item failed is also "too short": the item's own error says it all.
        failed_items = {tuple(detail["loc"][:-1]) for detail in details if detail["loc"]}
        for detail in details:
            if detail["type"] == "too_short" and tuple(detail["loc"]) in failed_items:
                continue
            loc, fields, target = _clean_location(kind, tuple(detail["loc"]))
            path = (*prefix, *loc)
            if path in self.secret_paths or path in self.doc.slips:
                continue
            self._report_detail(detail, path, fields, target)

    def _report_detail(self, detail: ErrorDetails, path: Path_, fields: tuple[str, ...], target: Any) -> None:
        kind = detail["type"]
        value = detail.get("input")
        ctx = detail.get("ctx") or {}
        clock = _clock_slip(path, value) if kind == "value_error" else None
        if clock is not None:
            self.error(path, clock)
        elif kind == "extra_forbidden":
            self.error(path, f"unknown key{_suggest(str(path[-1]), fields)}", key=True)
        elif kind == "missing":
            self.error(path[:-1], f"missing required key '{path[-1]}'")
        elif kind == "union_tag_not_found":
            self.error(path, "missing required key 'platform' (x, mastodon, bluesky or outbox)")
        elif kind in ("union_tag_invalid", "literal_error"):
            options = _options(detail)
            shown = value.get("platform") if kind == "union_tag_invalid" and isinstance(value, dict) else value
            hint = _PLATFORM_ALIASES.get(str(shown).lower())
            suggestion = f"; did you mean '{hint}'?" if hint else _suggest(str(shown), options)
            target = (*path, "platform") if kind == "union_tag_invalid" else path
            self.error(target, f"'{shown}' is not one of {', '.join(options)}{suggestion}")
        elif kind == "value_error":
            message = str(ctx.get("error", detail["msg"]))
            # A model-level check names the field it is about as "field: message".
            named, _, rest = message.partition(": ")
            if rest and _is_model(target) and named in target.model_fields:
                path, message = (*path, named), rest
            self.error(path, message)
        elif path and path[-1] == "[key]":
            self.error(path[:-1], f"key {_message(kind, value, detail['msg'], ctx)}", key=True)
        else:
            self.error(path, _message(kind, value, detail["msg"], ctx))

    def _check_secrets(self, value: Any, path: Path_) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if _SECRET_KEY.search(key):
                    self.secret_paths.add((*path, key))
                    self.error((*path, key), _secret_message(path, key), key=True)
                else:
                    self._check_secrets(child, (*path, key))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                self._check_secrets(child, (*path, index))


@dataclass
class _Logic:
    """Checks across fields, run on the parts of the campaign that validated."""

    checker: _Checker
    campaign: Campaign
    posts_by_index: dict[int, Post]
    broken_accounts: set[str]  # reported already; references to them are not errors again
    fonts: FontFiles | None = None  # set once the brand's fonts are known to load

    def run(self) -> None:
        self._languages()
        self._accounts()
        self._assets()
        seen: dict[str, int] = {}
        for index, post in self.posts_by_index.items():
            where: Path_ = ("posts", index)
            if post.id in seen:
                first = seen[post.id]
                line = self.checker.doc.locate(("posts", first, "id"))[0]
                self.checker.error(
                    (*where, "id"), f"duplicate post id '{post.id}' (first used by posts[{first}] on line {line})"
                )
            else:
                seen[post.id] = index
            self._post(where, post)

    def _languages(self) -> None:
        c = self.checker
        known = "languages" not in c.stand_ins
        for path, codes in self._language_lists():
            for i, code in enumerate(codes):
                if code in codes[:i]:
                    c.error((*path, i), f"'{code}' is listed twice")
                elif known and path != ("languages",) and code not in self.campaign.languages:
                    c.error((*path, i), f"'{code}' is not a campaign language ({', '.join(self.campaign.languages)})")

    def _language_lists(self) -> Iterator[tuple[Path_, tuple[str, ...]]]:
        if "languages" not in self.checker.stand_ins:
            yield ("languages",), self.campaign.languages
        for account_id, account in self.campaign.accounts.items():
            yield ("accounts", account_id, "languages"), account.languages

    def _accounts(self) -> None:
        c = self.checker
        for account_id in self.campaign.accounts:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", account_id):
                c.error(
                    ("accounts", account_id),
                    f"'{account_id}' is not a valid account id; use lower-case letters, digits, '-' or '_'",
                    key=True,
                )
        if self.campaign.accounts and not any(account.enabled for account in self.campaign.accounts.values()):
            c.warn(("accounts",), "no account is enabled: nothing will be posted")
        if self.campaign.defaults.accounts is not None:
            self._known_accounts(("defaults", "accounts"), self.campaign.defaults.accounts)

    def _known_accounts(self, path: Path_, ids: tuple[str, ...]) -> bool:
        if "accounts" in self.checker.stand_ins:
            return False  # the accounts section is broken, reported already
        known = tuple(self.campaign.accounts)
        ok = True
        for i, account_id in enumerate(ids):
            if account_id in self.broken_accounts:
                ok = False
            elif account_id not in self.campaign.accounts:
                self.checker.error((*path, i), f"no account '{account_id}'{_suggest(account_id, known)}")
                ok = False
        return ok

    def _assets(self) -> None:
        brand = self.campaign.brand
        for account_id, account in self.campaign.accounts.items():
            if isinstance(account, models.OutboxAccount):
                self._inside_project(("accounts", account_id, "path"), account.path)
        dropped = self.checker.dropped.get("brand", set())
        if "fonts" in dropped:
            self.fonts = self._default_fonts()
        else:
            regular = self._asset(("brand", "fonts", "regular"), brand.fonts.regular)
            bold = self._asset(("brand", "fonts", "bold"), brand.fonts.bold)
            if regular is not None and bold is not None:
                self.fonts = self._usable_fonts(FontFiles(regular, bold))
        if brand.logo is not None and "logo" not in dropped:
            logo = self._asset(("brand", "logo"), brand.logo)
            if logo is not None:
                from scheduler.cards import images  # Pillow, only for a campaign with a logo

                try:
                    images.load_logo(logo)
                except SchedulerError as exc:
                    self.checker.error(("brand", "logo"), str(exc).replace(f"{logo}: ", "", 1))
        if not dropped & {"background", "text_color", "accent_color"}:
            self._contrast()
        for language, footer in brand.footer.items():
            self._glyphs(("brand", "footer", language), footer, bold=False)

    def _default_fonts(self) -> FontFiles | None:
        """The default brand's fonts, to check the cards' characters while the brand's own are broken;
        None (no check) when the project does not have them."""
        fonts = models.Fonts()
        files = FontFiles(self.checker.root / fonts.regular, self.checker.root / fonts.bold)
        if not (files.regular.is_file() and files.bold.is_file()):
            return None
        try:
            files.missing_glyphs("", bold=False)
            files.missing_glyphs("", bold=True)
        except SchedulerError:
            return None
        return files

    def _usable_fonts(self, fonts: FontFiles) -> FontFiles | None:
        for name, path in (("regular", fonts.regular), ("bold", fonts.bold)):
            try:
                fonts.missing_glyphs("", bold=name == "bold")
            except SchedulerError:
                self.checker.error(("brand", "fonts", name), f"{path.name} is not a font file Pillow can use")
                return None
        return fonts

    def _contrast(self) -> None:
        brand = self.campaign.brand
        for name, color in (("text_color", brand.text_color), ("accent_color", brand.accent_color)):
            for background in brand.background:
                ratio = contrast_ratio(color, background)
                if ratio < MIN_CONTRAST:
                    self.checker.error(
                        ("brand", name),
                        f"{color} on the background {background} has a contrast of {ratio:.2f}:1; "
                        f"WCAG AA needs at least {MIN_CONTRAST}:1 for text to be readable",
                    )

    def _glyphs(self, path: Path_, words: str, *, bold: bool) -> None:
        if self.fonts is None:
            return
        missing = self.fonts.missing_glyphs(words, bold=bold)
        if missing:
            shown = ", ".join(f"'{char}' (U+{ord(char):04X})" for char in missing)
            self.checker.warn(path, f"the card font cannot draw {shown}: it would show as an empty box")

    def _asset(self, path: Path_, relative: str) -> Path | None:
        resolved = self._inside_project(path, relative)
        if resolved is not None and not resolved.is_file():
            self.checker.error(path, f"no such file: {relative} (paths are relative to the folder of posts.yaml)")
            return None
        return resolved

    def _inside_project(self, path: Path_, relative: str) -> Path | None:
        resolved = (self.checker.root / relative).resolve()
        if not resolved.is_relative_to(self.checker.root):
            self.checker.error(path, f"'{relative}' is outside the project folder; keep assets beside posts.yaml")
            return None
        return resolved

    def _post(self, where: Path_, post: Post) -> None:
        c = self.checker
        campaign = self.campaign
        languages_known = "languages" not in c.stand_ins
        for language in post.text:
            if languages_known and language not in campaign.languages:
                c.error(
                    (*where, "text", language),
                    f"'{language}' is not a campaign language ({', '.join(campaign.languages)})",
                    key=True,
                )
        # Without its own accounts a post goes to the default ones: unknown while those are broken.
        targets_known = post.accounts is not None or "accounts" not in c.dropped.get("defaults", ())
        account_ids = campaign.accounts_of(post) if targets_known else ()
        all_known = post.accounts is None or self._known_accounts((*where, "accounts"), post.accounts)
        all_known = all_known and targets_known and "accounts" not in c.stand_ins
        needed: dict[str, list[str]] = {}
        composed = {language: text.compose(post, language) for language in post.text}
        for account_id in account_ids:
            account = campaign.accounts.get(account_id)
            if account is None:
                continue
            for language in account.languages:
                needed.setdefault(language, []).append(account_id)
                self._alt_limits(where, post, account_id, account.platform, language)
                if language in post.text:
                    self._limits(
                        (*where, "text", language),
                        composed[language],
                        post.text[language],
                        account_id,
                        account.platform,
                    )
        for language, accounts in needed.items():
            if language not in post.text:
                c.error(
                    (*where, "text"),
                    f"missing text.{language}: {_accounts_phrase(accounts)} in {language} "
                    "(a post needs every language its accounts post)",
                )
        for language in post.text:
            if all_known and languages_known and language in campaign.languages and language not in needed:
                c.warn((*where, "text", language), f"no account of this post publishes in {language}", key=True)
        self._card(where, post)
        self._twins(where, post)
        self._timing(where, post)

    def _twins(self, where: Path_, post: Post) -> None:
        """One warning when the post's languages may not say the same thing: lengths, numbers, dates, names."""
        reasons = twins.disagreements(post.text)
        if reasons:
            self.checker.warn((*where, "text"), f"the languages may not say the same thing: {'; '.join(reasons)}")

    def _limits(self, where: Path_, composed: str, written: str, account_id: str, platform: str) -> None:
        language = where[-1]
        post = self.posts_by_index[int(where[1])]
        if post.thread:
            try:
                text.split_thread(composed, platform, numbered=post.thread_numbers)
            except ValueError as exc:
                self.checker.error(where, f"cannot be split into a thread for {platform} (account {account_id}): {exc}")
            return
        extra = " with its link and hashtags" if composed != written.strip() else ""
        for over in text.overages(platform, composed):
            self.checker.error(
                where,
                f"text.{language} is {over.count}/{over.limit} {over.unit}{extra} for {platform} "
                f"(account {account_id}); cut {over.count - over.limit}, or set thread: true",
            )

    def _card(self, where: Path_, post: Post) -> None:
        c = self.checker
        languages = tuple(post.text)
        for name, localized in (("alt", post.alt), *self._card_parts(post)):
            path = (*where, name) if name == "alt" else (*where, "card", name)
            for language in localized:
                if language not in languages:
                    c.error(
                        (*path, language),
                        f"'{language}' is not a language of this post's text ({', '.join(languages)})",
                        key=True,
                    )
            if name != "alt" and localized:
                for language in languages:
                    if language not in localized:
                        c.error(path, f"missing {name}.{language}: the post is published in {language}")
        if post.card is not None and post.card.kind == "bilingual" and len(languages) < 2:
            c.error((*where, "card", "template"), "a bilingual card needs the post in two languages")
        if post.card is not None:
            bold = post.card.kind != "quote"
            for name, localized in self._card_parts(post):
                for language, words in localized.items():
                    self._glyphs((*where, "card", name, language), words, bold=bold or name == "attribution")

    def _alt_limits(self, where: Path_, post: Post, account_id: str, platform: str, language: str) -> None:
        limit = text.ALT_LIMITS.get(platform)
        if post.card is None or limit is None or language not in post.text:
            return
        if language not in post.alt and language not in post.card.words:
            return  # no card words to describe in this language: _card reports it
        count = text.graphemes(alt_text(self.campaign, post, language))
        if count > limit:
            path = (*where, "alt", language) if language in post.alt else (*where, "card")
            self.checker.error(
                path, f"the alt text in {language} is {count}/{limit} characters for {platform} (account {account_id})"
            )

    @staticmethod
    def _card_parts(post: Post) -> list[tuple[str, dict[str, str]]]:
        if post.card is None:
            return []
        words = "slogan" if post.card.slogan is not None else "excerpt"
        return [(words, post.card.words), ("attribution", dict(post.card.attribution))]

    def _timing(self, where: Path_, post: Post) -> None:
        c = self.checker
        local = self.campaign.timezone
        if post.at is not None and post.at < self.checker.now and post.id not in self.checker.went_out:
            c.warn(
                (*where, "at"),
                f"{post.at.astimezone(local):%Y-%m-%d %H:%M %Z} is in the past; "
                "it will not be posted unless you post it by hand",
            )
        if post.until is not None and post.until < self.checker.now:
            c.warn(
                (*where, "until"),
                f"{post.until.astimezone(local):%Y-%m-%d %H:%M %Z} is in the past; this post will not go out again",
            )
        if post.queued and self.campaign.queue is None and "queue" not in c.failed_sections:
            c.error(where, "has no at or every, and the campaign has no queue.slots to place it in")


# --- helpers -------------------------------------------------------------------------------


def _has_times(data: dict[str, Any]) -> bool:
    return bool(data.get("posts")) or "queue" in data


def _languages_of(accounts: typing.Iterable[models.AccountBase], posts: typing.Iterable[Post]) -> tuple[str, ...]:
    """Stand-in campaign languages while `languages` is broken: those the accounts and posts use."""
    seen = dict.fromkeys(language for account in accounts for language in account.languages)
    seen.update(dict.fromkeys(language for post in posts for language in post.text))
    return tuple(seen)


def _as_mapping(value: Any) -> str:
    """How to turn a list written where a mapping belongs into one."""
    if not isinstance(value, list) or not value:
        return ""
    if all(isinstance(item, dict) for item in value):
        return ': remove the "- " before each one'
    first = value[0]
    if isinstance(first, str):
        return f': write "{first}: ..." lines, not "- {first}"'
    return ': write "key: value" lines, not "- " items'


def _clock_slip(path: Path_, value: Any) -> str | None:
    """A 12-hour or dotted time ("10am", "10.30pm", "10.30") where a 24-hour one belongs."""
    if not isinstance(value, str) or not _TIME_FIELDS.intersection(step for step in path if isinstance(step, str)):
        return None
    slips: list[tuple[str, str]] = []

    def twelve_hour(match: re.Match[str]) -> str:
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return match[0]
        hour = hour % 12 + (12 if match[3].lower() == "p" else 0)
        slips.append((match[0].strip(), f"{hour:02d}:{minute:02d}"))
        return slips[-1][1]

    def dotted(match: re.Match[str]) -> str:
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            return match[0]
        slips.append((match[0], f"{hour:02d}:{minute:02d}"))
        return slips[-1][1]

    fixed = _DOTTED_TIME.sub(dotted, _TWELVE_HOUR.sub(twelve_hour, value))
    if not slips:
        return None
    written, meant = slips[0]
    return f"write the time on a 24-hour clock, as {meant} rather than {written}: '{fixed}'"


def _accounts_phrase(accounts: list[str]) -> str:
    if len(accounts) == 1:
        return f"account {accounts[0]} posts"
    return f"accounts {', '.join(accounts)} post"


def _secret_message(parent: Path_, key: str) -> str:
    if len(parent) == 2 and parent[0] == "accounts":
        variable = models.secret_variable(str(parent[1]), key)
    else:
        variable = re.sub(r"[^A-Z0-9]+", "_", key.upper())
    return (
        f"'{key}' looks like a secret, and secrets never go in posts.yaml; "
        f"set {variable} in the environment or in .env beside posts.yaml instead"
    )


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    import difflib  # only a misspelt key needs it; loaded then, so a clean check starts faster

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _options(detail: ErrorDetails) -> tuple[str, ...]:
    ctx = detail.get("ctx") or {}
    raw = str(ctx.get("expected_tags") or ctx.get("expected") or "")
    return tuple(re.findall(r"'([^']*)'", raw))


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value; quote it if you mean text)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"'{value}'"


def _message(kind: str, value: Any, fallback: str, ctx: dict[str, Any]) -> str:
    if kind == "string_type":
        return f"must be text, not {_describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {_describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys to values, not {_describe(value)}{_as_mapping(value)}"
    if kind in ("tuple_type", "list_type"):
        hint = ': start each item with "- ", or write them as [a, b]' if isinstance(value, dict) else ""
        return f"must be a list, not {_describe(value)}{hint}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} items"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} items"
    return fallback


def _clean_location(kind: Any, loc: tuple[Any, ...]) -> tuple[Path_, tuple[str, ...], Any]:
    """Drop the union-tag steps pydantic adds to a location; also return the keys allowed at its
    parent and the type expected at it."""
    clean: list[str | int] = []
    current: Any = kind
    fields: tuple[str, ...] = ()
    for step in loc:
        current = _unwrap(current)
        if _is_account_union(current) and step in models.PLATFORMS:
            current = models.ACCOUNT_MODELS[str(step)]
            continue
        clean.append(step)
        fields = tuple(current.model_fields) if _is_model(current) else ()
        current = _child_type(current, step)
    return tuple(clean), fields, _unwrap(current)


def _unwrap(kind: Any) -> Any:
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind):
            rest = [a for a in typing.get_args(kind) if a is not type(None)]
            if len(rest) != 1:
                return kind
            kind = rest[0]
        else:
            return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _is_account_union(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and models.XAccount in typing.get_args(kind)


def _child_type(kind: Any, step: Any) -> Any:
    if _is_model(kind):
        info = kind.model_fields.get(step)
        return info.annotation if info is not None else None
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin is dict and args:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    return None
