"""Whether the language variants of one text say the same thing: pure functions, no I/O.

A translation keeps the names (Haiti/Haití, U.S./EE.UU.), the numbers (2,500 in English is 2.500
or 2 500 in Spanish), the dates (14 October, 14 de octubre) and the times (6 p.m., 18:00) of what
it translates, and runs to about the same length. `disagreements` says in plain words where the
variants of a text do not, so a person can look; `validate` warns with it, and `excerpts` leaves out
the pairs of a statement it flags. It is a screen, not a translator: a variant that reads differently
but keeps all of these passes.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}
WEEKDAY_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}


_ACCENTS = re.compile("[\u0300-\u036f]")  # the combining diacritical marks, once letters are decomposed


def plain(text: str) -> str:
    """The text without accents: Haití -> Haiti, Canadá -> Canada, España -> Espana."""
    return _ACCENTS.sub("", unicodedata.normalize("NFD", text))


# --- names -----------------------------------------------------------------------------------

# Names written differently in each language, reduced to one key; matched on the text without
# accents. MMS is a typo of MSS in the Spanish statement: tolerated as the same mission.
_ALIASES: tuple[tuple[str, str], ...] = (
    (
        r"\bU\.\s?S\.(?=[\s,;:/)\-’'”»]|$)|\bUSA?\b(?!\$)|\bUnited States\b|\bEE\.\s?UU\.|\bEstados Unidos\b"
        r"|\bEtats-Unis\b|\bEtazini\b",
        "US",
    ),
    (r"\bU\.\s?N\.|\bUN\b|\bUnited Nations\b|\bONU\b|\bNaciones Unidas\b", "UN"),
    (r"\bBlack Alliance for Peace\b|\bAlianza Negra por la Paz\b|\bBAP\b", "BAP"),
    (r"\bMMS\b|\bMSS\b", "MSS"),
    (r"\bHaiti\b|\bAyiti\b", "Haiti"),
    (r"\bKenia\b|\bKenya\b", "Kenya"),
    (r"\bFrancia\b|\bFrance\b", "France"),
    (r"\bCanada\b", "Canada"),
    (r"\bRusia\b|\bRussia\b", "Russia"),
    (r"\bChina\b", "China"),
    (r"\bGaza\b", "Gaza"),
    (r"\bMexico\b", "Mexico"),
    (r"\bCaribe\b|\bCaribbean\b", "Caribbean"),
    (r"\bAmericas?\b", "Americas"),
    (r"\bBiden\b", "Biden"),
    (r"\bAriel Henry\b", "Henry"),
    (r"\bCore Group\b", "CoreGroup"),
    # Not in the shipped statement; likely in the campaigns this tool is for.
    (r"\bCuba\b", "Cuba"),
    (r"\bVenezuela\b", "Venezuela"),
    (r"\bJamaica\b", "Jamaica"),
    (r"\bDominican Republic\b|\bRepublica Dominicana\b", "DominicanRepublic"),
    (r"\bBrazil\b|\bBrasil\b", "Brazil"),
    (r"\bPuerto Rico\b", "PuertoRico"),
    (r"\bPalestine\b|\bPalestina\b", "Palestine"),
    (r"\bIsrael\b", "Israel"),
    (r"\bAfrica\b", "Africa"),
    (r"\bOAS\b|\bOEA\b", "OAS"),
    (r"\bCARICOM\b", "CARICOM"),
    (r"\bNATO\b|\bOTAN\b", "NATO"),
    (r"\bPort-au-Prince\b|\bPuerto Principe\b", "PortAuPrince"),
    (r"\bTrump\b", "Trump"),
    (r"\bRuto\b", "Ruto"),
)
_NAME_KEYS = tuple(key for _, key in _ALIASES)
# One pass finds every name: alias i is group i + 1 (the aliases have no groups of their own). Every
# alias starts with a capital letter; saying so first lets the engine skip the other positions fast.
_NAMES = re.compile("(?=[A-Z])(?:" + "|".join(f"({pattern})" for pattern, _ in _ALIASES) + ")")


def _name_key(match: re.Match[str]) -> str:
    return _NAME_KEYS[(match.lastindex or 1) - 1]


# --- anchors: how alike two texts look, for aligning a statement -----------------------------

_NUMBER_KEY = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"(?<![\w.])[A-Z][\w’'-]+")
_NOT_NAMES = frozenset(
    [
        "The",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "We",
        "Our",
        "They",
        "A",
        "An",
        "In",
        "On",
        "At",
        "Of",
        "For",
        "And",
        "But",
        "Yet",
        "While",
        "Though",
        "Prior",
        "Allowing",
        "There",
        "El",
        "La",
        "Los",
        "Las",
        "Un",
        "Una",
        "En",
        "Al",
        "Del",
        "Sin",
        "Aunque",
        "Antes",
        "Estamos",
        "Afirmamos",
        "Advertimos",
        "Permitir",
        "No",
    ]
)


@dataclass(frozen=True)
class Anchors:
    """What two texts share when one translates the other, coarsely: for scoring, not for reasons."""

    numbers: frozenset[str]  # digits without their separators
    names: frozenset[str]  # known names, by their alias key
    other_names: frozenset[str]  # other capitalised words, lower-cased without accents

    @property
    def empty(self) -> bool:
        return not (self.numbers or self.names or self.other_names)


def anchors(text: str) -> Anchors:
    rest = plain(text)
    names = {_name_key(match) for match in _NAMES.finditer(rest)}
    rest = _NAMES.sub(" ", rest)
    numbers = frozenset(n.replace(",", "").replace(".", "") for n in _NUMBER_KEY.findall(rest))
    others = frozenset(w.lower().rstrip("’'s") for w in _CAPITALISED.findall(rest) if w not in _NOT_NAMES)
    return Anchors(numbers, frozenset(names), others)


# --- lengths ---------------------------------------------------------------------------------

# How long a text runs in each language, against English (Spanish is about 15% longer).
_RELATIVE_LENGTH = {"en": 1.0, "es": 1.15}
RATIO_TOLERANCE = 1.45  # a pair further than this factor from the expected ratio is doubtful
# Short texts vary more ("Free Haiti!" / "¡Que viva Haití libre!" is 2x): each length counts this
# many characters more, so only a real gap (a missing sentence) stands out in a slogan.
_SLACK = 15


@functools.cache
def _base(language: str) -> str:
    """en for en-US or en_GB."""
    return language.replace("_", "-").split("-", 1)[0].lower()


def expected_ratio(languages: tuple[str, str]) -> float:
    """How much longer the second language usually runs than the first (1.0 when not known)."""
    first, second = (_RELATIVE_LENGTH.get(_base(language), 1.0) for language in languages)
    return second / first


# --- reading what a text says ----------------------------------------------------------------

_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)


def _cased(words: Iterable[str]) -> list[str]:
    """English names of months and days, as written: capitalised or in capitals (may, march are verbs)."""
    return [form for word in words for form in (word.capitalize(), word.upper())]


_EN_MONTH_ABBREVIATIONS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Sept": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
_MONTH_NUMBER = {
    **{plain(name).lower(): number for names in MONTH_NAMES.values() for number, name in enumerate(names, 1)},
    **{name.lower(): number for name, number in _EN_MONTH_ABBREVIATIONS.items()},
    "setiembre": 9,
}
# A month alone (no day, no year) is read only when it cannot be a word: not an abbreviation, and
# not May or March (a verb, the Women's March), nor mayo or marzo, lest their translations differ.
_MONTH_ALONE_AMBIGUOUS = frozenset(
    ["may", "march", "mayo", "marzo", *(name.lower() for name in _EN_MONTH_ABBREVIATIONS)]
)
_ES_MONTHS = "|".join(plain(name) for name in [*MONTH_NAMES["es"], "setiembre"])
_EN_MONTHS = "|".join(sorted(_cased([*MONTH_NAMES["en"], *_EN_MONTH_ABBREVIATIONS]), key=len, reverse=True))
_MONTH = rf"(?P<month>(?i:{_ES_MONTHS})|{_EN_MONTHS})\b\.?"
_NOT_PART_OF_A_NUMBER = r"(?![\d]|[.,]\d)"
_YEAR = rf"(?:,?\s+(?:(?i:de|del|of)\s+)?(?P<year>\d{{4}}){_NOT_PART_OF_A_NUMBER})?"
_ORDINAL = r"(?:st|nd|rd|th|\.?º|\.?°|\.?o|er|ro)?"
_DAY_FIRST = re.compile(rf"\b(?P<day>\d{{1,2}}){_ORDINAL}\s+(?:(?i:de|of)\s+)?{_MONTH}{_YEAR}")
_MONTH_FIRST = re.compile(rf"\b{_MONTH}(?:\s+(?P<day>\d{{1,2}}){_ORDINAL}{_NOT_PART_OF_A_NUMBER})?{_YEAR}")
# 14/10/2024 or 10/14/2024 (which one is the day is unknown), 14.10.2024, 2024-10-14.
_NUMERIC_DATE = re.compile(
    r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/])"
    r"|\b(?P<c>\d{1,2})[.-](?P<d>\d{1,2})[.-](?P<year2>\d{4})(?!\d)"
    r"|\b(?P<iso>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"
)
_WEEKDAY = re.compile(
    rf"\b(?:{'|'.join(_cased(WEEKDAY_NAMES['en']))}|(?i:{'|'.join(plain(d) for d in WEEKDAY_NAMES['es'])}))\b"
)
_WEEKDAY_NUMBER = {plain(name).lower(): n for names in WEEKDAY_NAMES.values() for n, name in enumerate(names)}
_TIME_12 = re.compile(r"\b(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s?(?P<half>[aApP])\.?\s?[mM]\b\.?")
_TIME_ES = re.compile(
    r"\b(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s+(?i:de\s+la\s+(?P<part>manana|madrugada|tarde|noche))\b"
)
_TIME_24 = re.compile(r"\b(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?:\s?h\b\.?)?|\s?h\b)(?!\d)")
# 10 000 (a space between thousands, as Spanish and French write it), 2,500, 2.500, 1.234,5.
_NUMBER = re.compile(r"(?<!\d)(?:\d{1,3}(?:[ \u00a0\u2009\u202f]\d{3})+(?![\d.,]\d)|\d+(?:[.,]\d+)*)")
_SPACE = re.compile(r"\s")
_MARK = re.compile(r"[.,]")
_WORD = re.compile(r"[^\W\d_]+")


def _counting(units: str, tens: str) -> dict[str, int]:
    """Number words: the units from zero, and the tens from thirty."""
    table = {word: number for number, word in enumerate(units.split())}
    table.update({word: number for number, word in zip(range(30, 100, 10), tens.split(), strict=True)})
    return table


# Numbers written as words: a digit in one variant may be a word in the other ("2" / "dos").
_NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": {
        **_counting(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty",
            "thirty forty fifty sixty seventy eighty ninety",
        ),
        "hundred": 100,
        "thousand": 1000,
    },
    "es": {
        **_counting(
            "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
            "dieciseis diecisiete dieciocho diecinueve veinte",
            "treinta cuarenta cincuenta sesenta setenta ochenta noventa",
        ),
        "un": 1,
        "una": 1,
        "cien": 100,
        "ciento": 100,
        "mil": 1000,
    },
}
_ANY_NUMBER_WORD = {word: number for words in _NUMBER_WORDS.values() for word, number in words.items()}


class _Mention(NamedTuple):  # a tuple: validate makes a great many of them
    kind: str  # names, dates, times or numbers: what the reasons call it
    start: int  # where it is written, in the text without accents
    end: int
    means: frozenset[str]  # what it may stand for: one key, or several when the writing is ambiguous


class _Reading(NamedTuple):
    text: str
    plain: str
    language: str
    length: int
    mentions: tuple[_Mention, ...]

    def written(self, mention: _Mention) -> str:
        """The mention as the text writes it, accents included."""
        if self.plain == self.text:
            return self.text[mention.start : mention.end]
        origin = [i for i, c in enumerate(self.text) for d in unicodedata.normalize("NFD", c) if not _ACCENTS.match(d)]
        return self.text[origin[mention.start] : origin[mention.end - 1] + 1]

    def number_words(self) -> frozenset[str]:
        """The numbers the text writes as words ("dos", "nine"), as keys."""
        table = _NUMBER_WORDS.get(_base(self.language), _ANY_NUMBER_WORD)
        return frozenset(str(table[word]) for word in _WORD.findall(self.plain.lower()) if word in table)


def _read(text: str, language: str) -> _Reading:
    if "://" in text or "www." in text:
        text = _URL.sub(" ", text)  # a link may rightly differ: each language's own page
    flat = plain(text)
    mentions: list[_Mention] = []
    read_up_to = 0
    # Where something may start (a number, a capital, a month or a day of the week), its readers are
    # tried in turn; what one reads (a date's day, a name's letters) is not read again.
    starts: Iterable[re.Match[str]] = _DIGITS_AND_CAPITALS.finditer(flat)
    if _base(language) == "es":
        calendar = list(_LOWER_CASE_CALENDAR.finditer(flat))
        if calendar:
            starts = sorted([*starts, *calendar], key=lambda token: token.start())
    for token in starts:
        start, end = token.span()
        if start < read_up_to:
            continue
        word = token.group()
        if word[0].isdigit():
            # Most numbers stand alone ("2,500 troops"): only a space or these may make them more.
            readers = _DIGIT_READERS if flat[end : end + 1] in _MAY_CONTINUE_A_NUMBER else _NUMBER_READERS
        else:
            lower = word.lower()
            if lower in _MONTH_NUMBER:
                readers = _MONTH_READERS
            elif lower in _WEEKDAY_NUMBER:
                readers = _WEEKDAY_READERS
            else:
                readers = _NAME_READERS
        for kind, pattern, meaning in readers:
            match = pattern.match(flat, start)
            means = meaning(match) if match else frozenset()
            if match and means:
                mentions.append(_Mention(kind, start, match.end(), means))
                read_up_to = match.end()
                break
    return _Reading(text, flat, language, len(" ".join(text.split())), tuple(mentions))


def _time(hour: int, minute: int) -> frozenset[str]:
    return frozenset([f"{hour:02d}:{minute:02d}"]) if 0 <= hour <= 24 and 0 <= minute < 60 else frozenset()


def _time_12(match: re.Match[str]) -> frozenset[str]:
    hour = int(match["hour"])
    if not 1 <= hour <= 12:
        return frozenset()
    return _time(hour % 12 + (12 if match["half"] in "pP" else 0), int(match["minute"] or 0))


def _time_es(match: re.Match[str]) -> frozenset[str]:
    hour = int(match["hour"])
    afternoon = match["part"].lower() in ("tarde", "noche")
    return _time(hour % 12 + 12 if afternoon and hour <= 12 else hour, int(match["minute"] or 0))


def _time_24(match: re.Match[str]) -> frozenset[str]:
    return _time(int(match["hour"]), int(match["minute"] or 0))


def _day(day: int | None, month: int, year: int | None) -> str | None:
    if (day is not None and not 1 <= day <= 31) or not 1 <= month <= 12:
        return None
    if year is not None and year < 100:
        year += 2000
    return f"{year or '?'}-{month:02d}-{day or '?'}"


def _date(match: re.Match[str]) -> frozenset[str]:
    month_word = match["month"].lower()
    day = int(match["day"]) if match["day"] else None
    year = int(match["year"]) if match["year"] else None
    if day is None and year is None and month_word in _MONTH_ALONE_AMBIGUOUS:
        return frozenset()
    key = _day(day, _MONTH_NUMBER[month_word], year)
    return frozenset([key]) if key else frozenset()


def _numeric_date(match: re.Match[str]) -> frozenset[str]:
    if match["iso"]:
        key = _day(int(match["day"]), int(match["month"]), int(match["iso"]))
        return frozenset([key]) if key else frozenset()
    first, second = (int(match["a"]), int(match["b"])) if match["a"] else (int(match["c"]), int(match["d"]))
    written_year = match["year"] or match["year2"]
    year = int(written_year) if written_year else None
    # Day first (14/10) or month first (10/14): either reading that is a real date.
    readings = {_day(first, second, year), _day(second, first, year)}
    return frozenset(key for key in readings if key)


def _number(match: re.Match[str]) -> frozenset[str]:
    """The values a number may have: 2,500 and 2.500 are 2500 in one language and 2.5 in another."""
    written = match.group()
    if written.isdigit():
        return frozenset([str(int(written))])
    if _SPACE.search(written):
        return _values([_SPACE.sub("", written)])
    separators = set(_MARK.findall(written))
    parts = _MARK.split(written)
    if len(separators) == 2:  # 1,234.5 or 1.234,5: the last mark is the decimal one
        last = max(written.rfind("."), written.rfind(","))
        return _values([_MARK.sub("", written[:last]) + "." + written[last + 1 :]])
    candidates = []
    if len(parts) > 1 and len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:]):
        candidates.append("".join(parts))  # thousands
    if len(parts) == 2:
        candidates.append(f"{parts[0]}.{parts[1]}")  # a decimal
    return _values(candidates or ["".join(parts)])


def _values(candidates: list[str]) -> frozenset[str]:
    values = set()
    for candidate in candidates:
        try:
            values.add(format(Decimal(candidate).normalize(), "f"))
        except InvalidOperation:
            continue
    return frozenset(values)


# --- where to read what ---------------------------------------------------------------------

_Reader = tuple[str, re.Pattern[str], Callable[[re.Match[str]], frozenset[str]]]
_DIGITS_AND_CAPITALS = re.compile(r"\d+|\b[A-Z][^\W\d_]*")
# Spanish writes its months and days in small letters (capitalised words are found as capitals).
_LOWER_CASE_CALENDAR = re.compile(
    r"\b(?:" + "|".join(plain(word) for word in (*MONTH_NAMES["es"], "setiembre", *WEEKDAY_NAMES["es"])) + r")\b"
)
# At a number, the readers in order: a time, a date, else a number.
_DIGIT_READERS: tuple[_Reader, ...] = (
    ("times", _TIME_12, _time_12),
    ("times", _TIME_ES, _time_es),
    ("times", _TIME_24, _time_24),
    ("dates", _NUMERIC_DATE, _numeric_date),
    ("dates", _DAY_FIRST, _date),
    ("numbers", _NUMBER, _number),
)
_NUMBER_READERS = _DIGIT_READERS[-1:]
# What may follow the digits of a time, a date or a number written in parts: 6 p.m., 18:00, 18h,
# 14/10, 30th, 1.º, 2,500, 10 000.
_MAY_CONTINUE_A_NUMBER = frozenset(" \u00a0\u2009\u202f:./-,aApPhsnrtoeº°")
_NAME_MEANS = tuple(frozenset([key]) for key in _NAME_KEYS)
_NAME_READERS: tuple[_Reader, ...] = (("names", _NAMES, lambda match: _NAME_MEANS[(match.lastindex or 1) - 1]),)
_WEEKDAY_READERS: tuple[_Reader, ...] = (
    ("dates", _WEEKDAY, lambda match: frozenset([f"weekday {_WEEKDAY_NUMBER[match.group().lower()]}"])),
    *_NAME_READERS,
)
_MONTH_READERS: tuple[_Reader, ...] = (("dates", _MONTH_FIRST, _date), *_NAME_READERS)


# --- comparing -------------------------------------------------------------------------------

_KINDS = ("names", "numbers", "dates", "times")


def disagreements(texts: Mapping[str, str]) -> list[str]:
    """Why the variants of one text (language -> text) may not say the same thing; empty when they agree.

    Every two languages are compared: their lengths, and the names, numbers, dates and times each
    one writes. A text in one language only has nothing to disagree with.
    """
    present = [(language, value) for language, value in texts.items() if value.strip()]
    readings = {language: _read(value, language) for language, value in present}
    reasons: list[str] = []
    for (first, _), (second, _) in itertools.combinations(present, 2):
        reasons += _differences(readings[first], readings[second], (first, second))
    return reasons


def pair_disagreements(first: str, second: str, languages: tuple[str, str]) -> list[str]:
    """Why `second` may not translate `first` (in `languages`); empty when they agree."""
    return _differences(_read(first, languages[0]), _read(second, languages[1]), languages)


def _differences(first: _Reading, second: _Reading, languages: tuple[str, str]) -> list[str]:
    reasons = []
    length = _length_reason(first.length, second.length, languages)
    if length:
        reasons.append(length)
    if {(m.kind, m.means) for m in first.mentions} == {(m.kind, m.means) for m in second.mentions}:
        return reasons  # the same names, numbers, dates and times (most posts): nothing more to say
    for kind in _KINDS:
        mine = [m for m in first.mentions if m.kind == kind]
        theirs = [m for m in second.mentions if m.kind == kind]
        only_first = _unmatched(mine, theirs, second if kind == "numbers" else None)
        only_second = _unmatched(theirs, mine, first if kind == "numbers" else None)
        shown = [f"{_listing(first.written(m) for m in only_first)} in {languages[0]}"] if only_first else []
        shown += [f"{_listing(second.written(m) for m in only_second)} in {languages[1]}"] if only_second else []
        if len(shown) == 1:
            shown.append(f"not in {languages[1] if only_first else languages[0]}")
        if shown:
            reasons.append(f"the {kind} differ: {', '.join(shown)}")
    return reasons


def _length_reason(first: int, second: int, languages: tuple[str, str]) -> str | None:
    expected = expected_ratio(languages)
    if 1 / RATIO_TOLERANCE <= (second + _SLACK) / (first + _SLACK) / expected <= RATIO_TOLERANCE:
        return None
    # Name the longer variant first: "6.0x as long" reads better than "0.2x as long".
    if second > first:
        first, second, languages, expected = second, first, (languages[1], languages[0]), 1 / expected
    usual = f"{1 / (expected * RATIO_TOLERANCE):.1f}-{RATIO_TOLERANCE / expected:.1f}x"
    return (
        f"the {languages[0]} text is {first / max(second, 1):.1f}x as long as the {languages[1]} text (usually {usual})"
    )


def _unmatched(mentions: list[_Mention], others: list[_Mention], words_of: _Reading | None) -> list[_Mention]:
    """The mentions with no counterpart among `others` (nor, for a number, among the words of `words_of`)."""
    missing = [m for m in mentions if not any(m.means & other.means for other in others)]
    if missing and words_of is not None:
        written_out = words_of.number_words()
        missing = [m for m in missing if not m.means & written_out]
    unique: list[_Mention] = []
    for mention in missing:
        if not any(mention.means == seen.means for seen in unique):  # each name or number once
            unique.append(mention)
    return unique


def _listing(items: Iterable[str]) -> str:
    shown = list(dict.fromkeys(items))
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
