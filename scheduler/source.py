"""posts.yaml as plain data plus the position of every key and value, read defensively.

The file is composed to a node graph by libyaml (which caps flow nesting) and converted here
by hand, so that duplicate keys, alias bombs, deep nesting and binary junk are caught with a
line number instead of silently accepted or allowed to exhaust memory. Timestamps are kept as
the text the user wrote: times are interpreted later, in the campaign's timezone.

A syntax error is explained in everyday words where it is one of the usual slips (a colon without
a space after it, a quote left open, a line indented out of step, curly quotes from a word
processor), at the line where the slip is rather than where the parser gave up. Each explained
slip is repaired in a scratch copy and the copy parsed again, which confirms the diagnosis, finds
the key path of the slip and the slips after it, so they are all reported at once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from scheduler.errors import Problem

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
# Aliases may repeat a few blocks (shared hashtags, an account list); they may not multiply the file.
MAX_ALIAS_EXPANSION = 100_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Curly quotes a word processor types, each opening one with its closing one.
_SMART_QUOTES = {"\u201c": "\u201d", "\u2018": "\u2019", "\u201e": "\u201c"}
# Slips explained and repaired per syntax error at most, and characters re-parsed to find them.
_MAX_SLIPS = 10
_REPARSE_BUDGET = 20_000_000

Path_ = tuple[str | int, ...]


class SourceError(Exception):
    """The file cannot be read as a YAML mapping at all: one problem, or several slips found at once."""

    def __init__(self, problem: Problem, *more: Problem) -> None:
        self.problem = problem
        self.problems = [problem, *more]
        super().__init__(problem.message)


@dataclass
class Document:
    """The data of a YAML file and where each part of it was written."""

    data: dict[str, Any]
    # path -> (line, column), 1-based; keys map to where the key itself was written.
    value_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # Slips that did not stop the reading (curly quotes around a value, ...), each at the value it
    # spoilt; `data` holds the value as it was meant, so the rest of the file is still checked.
    slips: dict[Path_, Problem] = field(default_factory=dict)

    def locate(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest written ancestor when it is missing."""
        table = self.key_positions if key else self.value_positions
        if path in table:
            return table[path]
        for cut in range(len(path) - 1, -1, -1):
            if path[:cut] in self.value_positions:
                return self.value_positions[path[:cut]]
        return (1, 1)


def format_path(path: Path_) -> str:
    """`("posts", 3, "text", "es")` -> `posts[3].text.es`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read(path: Path) -> Document:
    """Read and parse `path`; raises SourceError for anything that is not a usable YAML mapping."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(
                1,
                1,
                f"the file is {size / 1e6:.1f} MB; a campaign file may be at most {MAX_FILE_BYTES // (1024 * 1024)} MB",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(1, 1, f"cannot read the file: {exc.strerror or exc}") from None
    return parse(raw)


def parse(raw: bytes) -> Document:
    text = _decode(raw)
    if not text.strip():
        raise _fail(1, 1, "the file is empty; it should hold the campaign settings and posts")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_problem(exc, text) from None
    except yaml.YAMLError as exc:
        raise _fail(1, 1, f"not valid YAML: {exc}") from None
    if root is None:
        raise _fail(1, 1, "the file holds only comments; it should hold the campaign settings and posts")
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        line, col = _pos(root)
        raise _fail(
            line, col, f"the top level must be a mapping of settings (timezone, accounts, posts, ...), not {kind}"
        )
    if "&" in text:  # without an anchor there is no alias to expand
        _check_expansion(root)
    doc = Document(data={})
    doc.data = _Converter(doc, text).mapping(root, ())
    return doc


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _fail(raw.count(b"\n", 0, nul) + 1, 1, "this is not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _fail(line, 1, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - text.rfind("\n", 0, bad.start())
        raise _fail(line, column, f"control character U+{ord(bad.group()):04X}: this does not look like a text file")
    return text


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str) -> SourceError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = (exc.problem or "").strip()
    lines = text.splitlines()
    line_text = lines[line - 1] if line <= len(lines) else ""
    if "\t" in line_text[:col] or "'\\t'" in problem:
        return _fail(line, col, "a tab character; indent with spaces only")
    if "exceeded maximum nesting depth" in problem:
        return _fail(line, col, "the file nests lists or mappings too deeply")
    slips = _explain(exc, text)
    if slips:
        return SourceError(*slips)
    context = f" {exc.context.strip()}" if exc.context else ""
    return _fail(line, col, f"YAML syntax error: {problem}{context}".rstrip())


def _check_expansion(root: yaml.Node) -> None:
    """Reject alias bombs and recursive aliases before anything walks the expanded tree."""
    written: set[int] = set()
    expanded: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in open_nodes:
            line, col = _pos(node)
            raise _fail(line, col, "an alias refers to the block that contains it")
        written.add(key)
        total = 1
        if isinstance(node, yaml.CollectionNode):
            open_nodes.add(key)
            children = (
                node.value if isinstance(node, yaml.SequenceNode) else [child for pair in node.value for child in pair]
            )
            for child in children:
                total += size(child)
                if total > MAX_ALIAS_EXPANSION * 10:
                    break
            open_nodes.discard(key)
        expanded[key] = total
        return total

    try:
        total = size(root)
    except RecursionError:
        raise _fail(1, 1, "the file nests lists or mappings too deeply") from None
    if total - len(written) > MAX_ALIAS_EXPANSION or total > MAX_ALIAS_EXPANSION * 10:
        raise _fail(
            1,
            1,
            f"aliases (*name) expand this file to {total:,} values or more; "
            f"at most {MAX_ALIAS_EXPANSION:,} may come from aliases",
        )


class _Loader(yaml.CSafeLoader):
    """libyaml's composer with plain-scalar tag resolution memoized: a campaign repeats the same
    keys and values (`id`, `text`, `en`, `outbox`) thousands of times, and resolving each is a
    Python-level regex walk."""

    _tags: ClassVar[dict[tuple[str, bool], str]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        key = (value, implicit[1])
        tag = self._tags.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(self._tags) < 100_000:
                self._tags[key] = tag
        return tag


class _Converter:
    def __init__(self, doc: Document, text: str) -> None:
        self.doc = doc
        self.text = text
        self._lines: list[str] | None = None
        # Set when a value in a flow collection was cut short by a comma inside curly quotes.
        self.split = False

    def value(self, node: yaml.Node, path: Path_, *, in_flow: bool = False) -> Any:
        if len(path) > MAX_DEPTH:
            raise _fail(*_pos(node), "the file nests lists or mappings too deeply")
        self.doc.value_positions[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return self.sequence(node, path)
        value = _scalar(node)
        if not isinstance(node, yaml.ScalarNode) or node.style or not isinstance(value, str) or not value:
            return value
        return self._plain(node, value, path, in_flow)

    def sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        items: list[Any] = []
        after_split = False
        for child in node.value:
            if after_split and _split_tail(child):
                after_split = False
                continue
            self.split = False
            items.append(self.value(child, (*path, len(items)), in_flow=bool(node.flow_style)))
            after_split = self.split
        return items

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        self.doc.value_positions[path] = _pos(node)
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        after_split = False
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge_source(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(*_pos(key_node), "a key must be plain text, not a list or mapping")
            if after_split and _split_tail(key_node):
                after_split = False
                continue
            key = key_node.value
            glued = _glued_key(key_node, value_node) if node.flow_style else None
            if glued is not None:
                key = glued[0]
            if key in result:
                first_line = self.doc.key_positions[(*path, key)][0]
                raise _fail(*_pos(key_node), f"duplicate key '{key}' (first written on line {first_line})")
            self.doc.key_positions[(*path, key)] = _pos(key_node)
            if glued is not None:
                result[key] = self._glued_value(key_node, glued, (*path, key))
                continue
            self.split = False
            result[key] = self.value(value_node, (*path, key), in_flow=bool(node.flow_style))
            after_split = self.split
        return {**merged, **result}

    def _merge_source(self, node: yaml.Node, path: Path_) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise _fail(*_pos(source), "'<<' merges only mappings")
            merged.update(self.mapping(source, path))
        return merged

    def _plain(self, node: yaml.Node, value: str, path: Path_, in_flow: bool) -> str:
        """An unquoted value as it was meant, noting the slip that spoilt it, if any."""
        closing = _SMART_QUOTES.get(value[0])
        if closing is not None:
            if len(value) > 1 and value.endswith(closing):
                self._slip(path, _pos(node), _curly_quotes(value[0], value[1:-1], closing))
                return value[1:-1]
            if in_flow and closing not in value:
                # A comma inside the curly quotes ended the value; the caller drops the rest.
                line = self._line(node.start_mark.line)[node.start_mark.column + 1 :]
                meant = line[: line.find(closing)] if closing in line else value[1:]
                self._slip(path, _pos(node), _curly_quotes(value[0], meant, closing))
                self.split = True
                return value[1:]
        if node.end_mark.line > node.start_mark.line:
            self._item_read_as_text(node, path)
        return value

    def _item_read_as_text(self, node: yaml.Node, path: Path_) -> None:
        """A list item indented deeper than the one above it is read as more words of that one."""
        for number in range(node.start_mark.line + 1, node.end_mark.line + 1):
            body = self._line(number)
            content = body.lstrip(" ")
            if content.startswith("- "):
                message = (
                    f'"{_short(content)}" is indented more than the line above it, so it is read as part of '
                    "that line: line up the items of a list"
                )
                self._slip(path, (number + 1, len(body) - len(content) + 1), message)
                return

    def _glued_value(self, key_node: yaml.Node, glued: tuple[str, str], path: Path_) -> str:
        key, value = glued
        line, column = _pos(key_node)
        self.doc.value_positions[path] = (line, column + len(key) + 1)
        self._slip(path, (line, column + len(key)), _colon_message(key, value))
        return value

    def _slip(self, path: Path_, where: tuple[int, int], message: str) -> None:
        self.doc.slips.setdefault(path, Problem(*where, format_path(path), message))

    def _line(self, number: int) -> str:
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text)
        return self._lines[number] if number < len(self._lines) else ""


def _split_tail(node: yaml.Node) -> bool:
    """The second half of a value a comma cut inside curly quotes: `there”` of `“Hi, there”`."""
    if not isinstance(node, yaml.ScalarNode) or node.style or not node.value:
        return False
    text: str = node.value
    return text[-1] in _SMART_QUOTES.values() and not any(mark in text for mark in _SMART_QUOTES)


def _glued_key(key_node: yaml.ScalarNode, value_node: yaml.Node) -> tuple[str, str] | None:
    """`{en:Hello}` is read as a key `en:Hello` without a value: the key and the value meant."""
    if key_node.style or value_node.tag != _NULL or value_node.value:
        return None
    match = _GLUED.fullmatch(key_node.value)
    return (match["key"], match["value"]) if match else None


def _scalar(node: yaml.Node) -> Any:
    text: str = node.value
    tag = node.tag
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    if tag == _INT:
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag == _FLOAT:
        value = float(text.replace("_", "").replace(".inf", "inf").replace(".nan", "nan"))
        return text if math.isnan(value) or math.isinf(value) else value
    if tag in (_STR, _TIMESTAMP):
        return text
    raise _fail(*_pos(node), f"unsupported YAML tag {tag}; write plain values")


def _pos(node: yaml.Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


def _fail(line: int, column: int, message: str) -> SourceError:
    return SourceError(Problem(line, column, "", message))


# --- syntax slips ----------------------------------------------------------------------------

# What libyaml counts as a line break; the scratch copy that slips are repaired in uses "\n".
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_KEY = r"[A-Za-z0-9_][\w-]*"
# `key:value`: a colon with no space after it (not `https://`).
_GLUED = re.compile(rf"(?P<key>{_KEY}):(?P<value>[^\s:/].*)")
_GLUED_LINE = re.compile(rf"(?P<lead> *(?:- +)*)(?P<key>{_KEY}):(?P<value>[^\s:/].*)")
# `key value`: no colon at all.
_NO_COLON_LINE = re.compile(rf"(?P<lead> *(?:- +)*)(?P<key>{_KEY}) +(?P<value>[^\s#].*)")
_KEY_ALONE_LINE = re.compile(rf"(?P<lead> *(?:- +)*)(?P<key>{_KEY}) *")
# The colon that ends the key of a line, after any `- `; the key may be quoted.
_KEY_COLON = re.compile(r"(?P<lead> *(?:- +)*)(?P<key>\"[^\"]*\"|'[^']*'|[^\s#'\"{\[][^#]*?) *:(?= |\t|$)")
# Characters that cannot start a plain value.
_RESERVED = "@`"


@dataclass(frozen=True)
class _Slip:
    """One slip, 0-based, with the line as it should read and where its key or value then is."""

    line: int
    column: int
    message: str
    fix: tuple[tuple[int, str], ...] = ()  # (line, text) as they should read; none when unsure
    anchor: tuple[int, int, bool] | None = None  # (line, column, is a key) in the repaired text


@dataclass(frozen=True)
class _Level:
    """An indentation a line may take: that of a key (or list item) written above it."""

    indent: int
    item: bool
    label: str
    line: int
    after_dash: bool = False  # a key written after `- `: the first of its block


def _explain(exc: yaml.MarkedYAMLError, text: str) -> list[Problem]:
    """The usual slips behind a syntax error, in plain words, each at its own line; none when the
    error is not one of them."""
    lines = _LINE_BREAK.split(text)
    slips: list[_Slip] = []
    budget = _REPARSE_BUDGET
    keys: dict[tuple[int, int], Path_] = {}
    values: dict[tuple[int, int], Path_] = {}
    while len(slips) < _MAX_SLIPS:
        slip = _diagnose(exc, lines)
        if slip is None or (slips and (slip.line, slip.column) <= (slips[-1].line, slips[-1].column)):
            break  # not a slip, or the same one again: the repair did not help
        slips.append(slip)
        if not slip.fix or budget < len(text):
            break
        for number, repaired in slip.fix:
            lines[number] = repaired
        text = "\n".join(lines)
        budget -= len(text)
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as again:
            mark = again.problem_mark
            if mark is None or mark.line <= slip.line:  # the repair did not get past the slip: look no further
                break
            exc = again
            continue
        except yaml.YAMLError:
            break
        if root is not None:
            keys, values = _positions(root)
        break
    problems = []
    for slip in slips:
        path: Path_ = ()
        if slip.anchor is not None:
            line, column, is_key = slip.anchor
            path = (keys if is_key else values).get((line, column), ())
        problems.append(Problem(slip.line + 1, slip.column + 1, format_path(path), slip.message))
    return problems


def _diagnose(exc: yaml.MarkedYAMLError, lines: list[str]) -> _Slip | None:
    mark = exc.problem_mark
    if mark is None:
        return None
    problem = (exc.problem or "").strip()
    opened = exc.context_mark
    if exc.context == "while scanning a quoted scalar" and opened is not None:
        return _open_quote(lines, opened.line, opened.column)
    # A quoted text that ran on to a later line, where the parser looked for its colon.
    if (
        exc.context == "while scanning a simple key"
        and opened is not None
        and opened.line < mark.line
        and _body(lines, opened.line)[opened.column : opened.column + 1] in ('"', "'")
    ):
        return _open_quote(lines, opened.line, opened.column)
    slip = _quote_slip(lines, mark.line, mark.column)
    if slip is not None:
        return slip
    if problem == "could not find expected ':'" and opened is not None:
        return _colon_slip(lines, opened.line)
    if problem == "did not find expected <document start>":
        return _first_line_slip(lines, mark.line)
    if problem == "mapping values are not allowed in this context":
        return _mapping_value_slip(lines, mark.line, mark.column)
    if problem == "found character that cannot start any token":
        return _reserved_start(lines, mark.line, mark.column)
    if problem in ("did not find expected key", "did not find expected '-' indicator"):
        return _indentation_slip(lines, mark.line)
    return None


def _quote_slip(lines: list[str], line: int, column: int) -> _Slip | None:
    """A quoted text that ran past its line, or that a quote inside it ended early, just before the error."""
    last: Any = None
    try:
        for token in yaml.scan("\n".join(lines[: line + 1]), Loader=yaml.CSafeLoader):
            if (token.start_mark.line, token.start_mark.column) >= (line, column):
                break
            if isinstance(token, yaml.ScalarToken):
                last = token
    except yaml.YAMLError:
        pass
    if last is None or last.style not in ('"', "'"):
        return None
    start, end = last.start_mark, last.end_mark
    if start.line < end.line == line:
        return _open_quote(lines, start.line, start.column)
    if start.line == end.line == line:
        body = _body(lines, line)
        after = body[end.column :].lstrip(" \t")
        if after[:1] in ("", ",", "]", "}", "#", ":"):
            return None
        if after != body[end.column :] and _in_brackets(body[: start.column]):
            message = f"a comma is missing after {body[start.column : end.column]}: separate the items with commas"
            fix = ((line, body[: end.column] + "," + body[end.column :]),)
            return _Slip(line, end.column, message, fix, (line, start.column, False))
        return _inner_quote(lines, line, start.column, end.column - 1)
    return None


def _open_quote(lines: list[str], line: int, column: int) -> _Slip | None:
    body = _body(lines, line)
    quote = body[column : column + 1]
    if quote not in ('"', "'"):
        return None
    close = len(body.rstrip())
    if _in_brackets(body[:column]):
        close = len(body.rstrip(" \t}]"))  # inside {...} or [...]: close the text before the brackets
    return _Slip(
        line,
        column,
        f"this {quote} is not closed: end the text with {quote} on the same line",
        ((line, body[:close] + quote + body[close:]),),
        (line, column, False),
    )


def _inner_quote(lines: list[str], line: int, opening: int, closing: int) -> _Slip | None:
    """`'Don't'`, `"say "no""`: a quote inside the text ends it; repaired up to the line's last quote."""
    body = _body(lines, line)
    quote = body[opening : opening + 1]
    if quote not in ('"', "'") or body[closing : closing + 1] != quote:
        return None
    last = body.rfind(quote)
    inside = body[opening + 1 : last]
    if quote == "'":
        word = re.search(r"\w*$", body[:closing])
        after = re.match(r"\w*", body[closing + 1 :])
        shown = f"{word.group() if word else ''}'{after.group() if after else ''}"
        message = (
            f'the apostrophe in "{shown}" ends the text in single quotes: write it twice '
            f"({shown.replace(chr(39), chr(39) * 2)}), or put the text in double quotes"
        )
        fixed = re.sub(r"(?<!')'(?!')", "''", inside)
    else:
        message = (
            'a " inside the text ends it early: inside double quotes write \\" for a quotation mark, '
            "or use curly quotes “ ”"
        )
        fixed = re.sub(r'(?<!\\)"', r"\"", inside)
    fix = ((line, body[: opening + 1] + fixed + body[last:]),) if last > closing else ()
    return _Slip(line, closing, message, fix, (line, opening, False))


def _colon_slip(lines: list[str], line: int) -> _Slip | None:
    """`key:value` (no space after the colon) or `key value` (no colon) on this line."""
    body = _body(lines, line)
    glued = _GLUED_LINE.fullmatch(body)
    if glued is not None:
        lead, key = glued["lead"], glued["key"]
        colon = len(lead) + len(key)
        fix = ((line, body[: colon + 1] + " " + body[colon + 1 :]),)
        return _Slip(line, colon, _colon_message(key, glued["value"]), fix, (line, len(lead), True))
    alone = _KEY_ALONE_LINE.fullmatch(body)
    if alone is not None:
        colon = len(alone["lead"]) + len(alone["key"])
        message = f'a colon is missing after "{alone["key"]}": write "{alone["key"]}:"'
        return _Slip(line, colon, message, ((line, body + ":"),), (line, len(alone["lead"]), True))
    bare = _NO_COLON_LINE.fullmatch(body)
    if bare is not None and _KEY_COLON.match(body) is None:
        lead, key = bare["lead"], bare["key"]
        colon = len(lead) + len(key)
        message = f'a colon is missing after "{key}": write "{key}: {_short(bare["value"])}"'
        fix = ((line, body[:colon] + ":" + body[colon:]),)
        return _Slip(line, colon, message, fix, (line, len(lead), True))
    return None


def _first_line_slip(lines: list[str], line: int) -> _Slip | None:
    """The first line of the file cannot be read as `key: value`, so the file is read as one text."""
    first = next(
        (n for n in range(line) if _body(lines, n).strip() and not _body(lines, n).lstrip().startswith("#")), None
    )
    if first is None:
        return None
    slip = _colon_slip(lines, first)
    if slip is not None:
        return slip
    body, below = _body(lines, first), _body(lines, line)
    indent, under = len(body) - len(body.lstrip(" ")), len(below) - len(below.lstrip(" "))
    own, next_key = _KEY_COLON.match(body), _KEY_COLON.match(below)
    if own is None or next_key is None or under >= indent:
        return None
    message = (
        f'"{_key_name(own)}" is {_indentation(indent)}, but "{_key_name(next_key)}" below it is '
        f"{_indentation(under)}: the keys of one block must line up"
    )
    return _Slip(first, indent, message, ((first, body[indent - under :]),), (first, under, True))


def _mapping_value_slip(lines: list[str], line: int, column: int) -> _Slip | None:
    """The parser met `key: ` where no key can be: in a text with ": " in it, or on a line that
    the line above swallowed (a slip there, or this line indented deeper than that one)."""
    body = _body(lines, line)
    own = _KEY_COLON.match(body)
    if own is not None and own.end() <= column:
        start = own.end() + 1
        start += len(body[start:]) - len(body[start:].lstrip())
        text, comment = _without_comment(body[start:])
        closing = _SMART_QUOTES.get(text[:1])
        if closing is not None:
            meant = text[1:-1] if text.endswith(closing) else text[1:]
            message = _curly_quotes(text[0], meant, closing)
        else:
            meant = text
            message = f'a text with ": " in it must be in double quotes: write {own["key"]}: {_quoted(_short(text))}'
        fix = ((line, body[:start] + _quoted(meant) + comment),)
        return _Slip(line, start, message, fix, (line, start, False))
    above = _line_above(lines, line)
    if above is None:
        return None
    slip = _colon_slip(lines, above)
    if slip is not None:
        return slip
    parent = _KEY_COLON.match(_body(lines, above))
    content = body.lstrip(" ")
    indent = len(body) - len(content)
    if parent is None or own is None or indent <= len(parent["lead"]):
        return None
    target, name = len(parent["lead"]), _key_name(parent)
    message = (
        f'"{_key_name(own)}" is indented more than "{name}" above it, so it is read as part of the value of '
        f'"{name}": line them up'
    )
    return _Slip(line, indent, message, _shift(lines, line, target), (line, target, True))


def _reserved_start(lines: list[str], line: int, column: int) -> _Slip | None:
    """`handle: @team.bsky.social`: @ and ` cannot start a value without quotes."""
    body = _body(lines, line)
    char = body[column : column + 1]
    if not char or char not in _RESERVED:
        return None
    rest = body[column:]
    if _in_brackets(body[:column]):
        text = re.split(r"[,}\]]", rest, maxsplit=1)[0].rstrip()
    else:
        text = _without_comment(rest)[0]
    fix = ((line, body[:column] + _quoted(text) + body[column + len(text) :]),)
    message = f"a value cannot start with {char}: put it in quotes, as {_quoted(_short(text))}"
    return _Slip(line, column, message, fix, (line, column, False))


def _indentation_slip(lines: list[str], line: int) -> _Slip | None:
    """A key or list item out of step with those above it, a list item among keys, or a key among
    list items."""
    body = _body(lines, line)
    content = body.lstrip(" ")
    indent = len(body) - len(content)
    levels = _open_levels(lines, line)
    if not content or not levels:
        return None
    keys = [level for level in levels if not level.item]
    if content == "-" or content.startswith("- "):
        return _item_slip(lines, line, levels, keys)
    own = _KEY_COLON.match(body)
    name = _key_name(own) if own is not None else _short(content)
    item = next((level for level in levels if level.item and level.indent == indent), None)
    if item is not None and all(key.indent != indent for key in keys):
        return _Slip(
            line,
            indent,
            f'"{name}" is where a list item is expected, like "{item.label}" above it: start it with "- ", '
            "or check its indentation",
        )
    if not keys:
        return None
    distance = min(abs(key.indent - indent) for key in keys)
    nearest = [key for key in keys if abs(key.indent - indent) == distance]
    target = nearest[0]
    if target.indent == indent:
        return None
    if len(nearest) > 1:  # halfway between two blocks: which one it belongs to is anybody's guess
        inner, outer = nearest[0], nearest[-1]
        return _Slip(
            line,
            indent,
            f'"{name}" is {_indentation(indent)}, but the keys above it are indented {inner.indent} '
            f'("{inner.label}") or {outer.indent} ("{outer.label}"): line it up with the one it belongs with',
        )
    if _first_of_block(lines, target) and _followed_at(lines, line, indent, min(indent, target.indent)):
        # The lines below agree with this one: the odd one out is the key above.
        row = _body(lines, target.line)
        shifted = " " * (indent - target.indent) + row if indent > target.indent else row[target.indent - indent :]
        return _Slip(
            target.line,
            target.indent,
            f'"{target.label}" is {_indentation(target.indent)}, but "{name}" below it is {_indentation(indent)}: '
            "the keys of one block must line up",
            ((target.line, shifted),),
            (target.line, indent, True),
        )
    message = (
        f'"{name}" is {_indentation(indent)}, but "{target.label}" above it is {_indentation(target.indent)}: '
        "the keys of one block must line up"
    )
    return _Slip(line, indent, message, _shift(lines, line, target.indent), (line, target.indent, True))


def _item_slip(lines: list[str], line: int, levels: list[_Level], keys: list[_Level]) -> _Slip | None:
    body = _body(lines, line)
    content = body.lstrip(" ")
    indent = len(body) - len(content)
    items = [level for level in levels if level.item]
    among = next((key for key in keys if key.indent == indent), None)
    if not items or among is not None:
        neighbour = among or levels[0]
        return _Slip(
            line,
            indent,
            f'"{_short(content)}" is a list item, but the lines around it are "key: value" lines, like '
            f'"{neighbour.label}:" above it: remove the "- ", or check its indentation',
        )
    target = _nearest(items, indent)
    if target.indent == indent:
        return None
    message = (
        f'"{_short(content)}" is {_indentation(indent)}, but "{target.label}" above it is '
        f"{_indentation(target.indent)}: the items of a list must line up"
    )
    value = target.indent + len(content) - len(content[1:].lstrip(" "))
    return _Slip(line, indent, message, _shift(lines, line, target.indent), (line, value, False))


def _first_of_block(lines: list[str], level: _Level) -> bool:
    """Whether the key of `level` opens its block: it follows a `- ` or a less indented line."""
    if level.after_dash:
        return True
    above = _line_above(lines, level.line)
    if above is None:
        return True
    body = _body(lines, above)
    return len(body) - len(body.lstrip(" ")) < level.indent


def _followed_at(lines: list[str], line: int, indent: int, floor: int) -> bool:
    """Whether a later line of the same block is indented exactly `indent`."""
    for number in range(line + 1, len(lines)):
        body = _body(lines, number)
        content = body.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        own = len(body) - len(content)
        if own == indent:
            return True
        if own < floor:
            return False
    return False


def _open_levels(lines: list[str], line: int) -> list[_Level]:
    """The indentations a line could line up with, innermost first: those of the line above it,
    then of each line above with less indentation than any seen so far."""
    levels: list[_Level] = []
    floor: int | None = None
    for number in range(line - 1, -1, -1):
        body = _body(lines, number)
        content = body.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        indent = len(body) - len(content)
        if floor is not None and indent >= floor:
            continue
        floor = indent
        items: list[_Level] = []
        column, rest = indent, content
        while rest == "-" or rest.startswith("- "):
            items.append(_Level(column, True, _short(rest), number))
            step = len(rest) - len(rest[1:].lstrip(" "))
            column, rest = column + step, rest[step:]
        own = _KEY_COLON.match(rest)
        taken = {(level.indent, level.item) for level in levels}
        if own is not None and (column, False) not in taken:
            levels.append(_Level(column, False, _key_name(own), number, bool(items)))
        levels.extend(level for level in reversed(items) if (level.indent, True) not in taken)
        if indent == 0:
            break
    return levels


def _nearest(levels: list[_Level], indent: int) -> _Level:
    """The level closest to `indent`; of two as close, the inner one (the line just above)."""
    return min(levels, key=lambda level: abs(level.indent - indent))


def _positions(root: yaml.Node) -> tuple[dict[tuple[int, int], Path_], dict[tuple[int, int], Path_]]:
    """The key path of each key and of each value, by where it starts (0-based)."""
    keys: dict[tuple[int, int], Path_] = {}
    values: dict[tuple[int, int], Path_] = {}
    seen: set[int] = set()

    def walk(node: yaml.Node, path: Path_) -> None:
        if id(node) in seen or len(path) > MAX_DEPTH:
            return
        seen.add(id(node))
        values.setdefault((node.start_mark.line, node.start_mark.column), path)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = (*path, key_node.value)
                    keys.setdefault((key_node.start_mark.line, key_node.start_mark.column), child)
                    walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    walk(root, ())
    return keys, values


def _shift(lines: list[str], line: int, indent: int) -> tuple[tuple[int, str], ...]:
    """Line `line` moved to `indent`; for a list item, with the lines lined up with its content."""
    first = _body(lines, line)
    content = first.lstrip(" ")
    written = len(first) - len(content)
    moved = [(line, " " * indent + content)]
    if not content.startswith("- "):
        return tuple(moved)  # what is under a key stays deeper than it, wherever it goes
    offset = len(content) - len(content[1:].lstrip(" "))
    for number in range(line + 1, len(lines)):
        body = _body(lines, number)
        rest = body.lstrip(" ")
        own = len(body) - len(rest)
        if not rest or rest.startswith("#"):
            continue
        if own <= max(written, indent):
            break
        if own == written + offset:
            moved.append((number, " " * (indent + offset) + rest))
    return tuple(moved)


def _in_brackets(text: str) -> bool:
    """Whether the end of `text` is inside a {...} or [...] opened on it."""
    return text.count("{") + text.count("[") > text.count("}") + text.count("]")


def _line_above(lines: list[str], line: int) -> int | None:
    for number in range(line - 1, -1, -1):
        content = _body(lines, number).strip()
        if content and not content.startswith("#"):
            return number
    return None


def _body(lines: list[str], line: int) -> str:
    return lines[line] if line < len(lines) else ""


def _key_name(match: re.Match[str]) -> str:
    return match["key"].strip().strip("'\"")


def _without_comment(text: str) -> tuple[str, str]:
    """A plain value and the ` # comment` after it."""
    cut = re.search(r"\s#", text)
    return (text[: cut.start()].rstrip(), text[cut.start() :]) if cut else (text.rstrip(), "")


def _indentation(spaces: int) -> str:
    if spaces == 0:
        return "not indented"
    return "indented 1 space" if spaces == 1 else f"indented {spaces} spaces"


def _short(text: str, limit: int = 30) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _colon_message(key: str, value: str) -> str:
    shown = _short(value)
    mark = "'" if '"' in shown else '"'
    return f"a colon needs a space after it: write {mark}{key}: {shown}{mark}, not {mark}{key}:{shown}{mark}"


def _curly_quotes(opening: str, meant: str, closing: str) -> str:
    shown = _short(meant)
    return (
        f"curly quotes {opening}…{closing} are not YAML quotes: write the text in straight quotes, "
        f"{_quoted(shown)} (or {_quoted(opening + shown + closing)} to publish the curly ones)"
    )
