"""posts.yaml as plain data plus the position of every key and value, read defensively.

The file is composed to a node graph by libyaml (which caps flow nesting) and converted here
by hand, so that duplicate keys, alias bombs, deep nesting and binary junk are caught with a
line number instead of silently accepted or allowed to exhaust memory. Timestamps are kept as
the text the user wrote: times are interpreted later, in the campaign's timezone.
"""

from __future__ import annotations

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

Path_ = tuple[str | int, ...]


class SourceError(Exception):
    """The file cannot be read as a YAML mapping at all."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.message)


@dataclass
class Document:
    """The data of a YAML file and where each part of it was written."""

    data: dict[str, Any]
    # path -> (line, column), 1-based; keys map to where the key itself was written.
    value_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

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
    doc.data = _Converter(doc).mapping(root, ())
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
    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def value(self, node: yaml.Node, path: Path_) -> Any:
        if len(path) > MAX_DEPTH:
            raise _fail(*_pos(node), "the file nests lists or mappings too deeply")
        self.doc.value_positions[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(child, (*path, i)) for i, child in enumerate(node.value)]
        return _scalar(node)

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        self.doc.value_positions[path] = _pos(node)
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge_source(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(*_pos(key_node), "a key must be plain text, not a list or mapping")
            key = key_node.value
            if key in result:
                first_line = self.doc.key_positions[(*path, key)][0]
                raise _fail(*_pos(key_node), f"duplicate key '{key}' (first written on line {first_line})")
            self.doc.key_positions[(*path, key)] = _pos(key_node)
            result[key] = self.value(value_node, (*path, key))
        return {**merged, **result}

    def _merge_source(self, node: yaml.Node, path: Path_) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise _fail(*_pos(source), "'<<' merges only mappings")
            merged.update(self.mapping(source, path))
        return merged


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
