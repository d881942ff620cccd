"""Reading YAML: the one module that does it, three ways.

- `load_file`/`parse`: the strict loader for files a team writes, which
  remembers where every value came from. PyYAML's safe loader still accepts
  things a config file should never contain: duplicate keys (the last one
  silently wins), anchors and aliases (the "billion laughs" bomb), merge keys,
  and tags. We therefore build the data ourselves from the parser's event
  stream (libyaml when available, which is about 7x faster and still gives
  marks) and record the line and column of every key and value, so later
  errors can point at the user's line.
- `read`: plain data from files this tool or DVC generated (`dvc.yaml`,
  `dvc.lock`, `params.yaml`, `steps.yaml`) or old versions read from git.
- `edit`: a round-trip edit that keeps comments and layout (ruamel.yaml,
  imported on first use so `mlops validate` never loads it).

Writing generated files is `runner.compile.yamlout`'s job.
"""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from runner.errors import ConfigError, Problem
from runner.fsutil import FileTooLarge, read_bytes_bounded

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024
# Deeper nesting than any config file needs; far below the recursion limit.
MAX_DEPTH = 64
# What `read` raises on text that is not YAML.
YAMLError = yaml.YAMLError
T = TypeVar("T")
Loc = tuple[str | int, ...]

_YAML_TAG = "tag:yaml.org,2002:"
# Explicit tags a user may write; anything else (`!!python/object`, `!custom`) is refused.
_ALLOWED_TAGS = {
    f"{_YAML_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
}
_CONFLICT = re.compile(r"^(<{7}|={7}|>{7})(?: |$)", re.MULTILINE)


class Mark(NamedTuple):
    """Where a key or value starts. A tuple: a large project records hundreds of thousands."""

    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Document:
    """Parsed data plus the marks needed to point errors at source lines."""

    path: str
    text: str
    data: Any
    values: dict[Loc, Mark] = field(default_factory=dict)
    keys: dict[Loc, Mark] = field(default_factory=dict)

    def source_line(self, line: int | None) -> str | None:
        if not line:
            return None
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None

    def mark(self, loc: Loc, *, prefer_key: bool = False) -> Mark:
        """The most precise mark for `loc`, climbing to a parent when needed."""
        loc = tuple(loc)
        if prefer_key and loc in self.keys:
            return self.keys[loc]
        while loc:
            if loc in self.values:
                return self.values[loc]
            if loc in self.keys:
                return self.keys[loc]
            loc = loc[:-1]
        return self.values.get((), Mark(1, 1))

    def problem_at(
        self, line: int | None, col: int | None, message: str, hint: str | None
    ) -> Problem:
        return Problem(self.path, line, col, message, hint, self.source_line(line))

    def problem(
        self, loc: Loc, message: str, hint: str | None = None, *, prefer_key: bool = False
    ) -> Problem:
        mark = self.mark(loc, prefer_key=prefer_key)
        return Problem(
            file=self.path,
            line=mark.line,
            col=mark.col,
            message=message,
            hint=hint,
            source=self.source_line(mark.line),
        )


def format_loc(loc: Loc) -> str:
    """`("stages", "train", "with")` -> `stages.train.with`; list indices as `[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Fail(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def load_file(path: Path, display: str) -> Document:
    """Read and parse one YAML config file; raise ConfigError on any problem."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A FIFO blocks or reads as empty, a device reads without end: refuse both.
            raise ConfigError(
                [
                    Problem(
                        display,
                        None,
                        None,
                        f"not a regular file ({_file_kind(info.st_mode)})",
                        f"replace {display} with a plain YAML file",
                    )
                ]
            )
        size = info.st_size
        if size > MAX_BYTES:
            raise ConfigError(
                [
                    Problem(
                        display,
                        1,
                        1,
                        f"file is too large ({size:,} bytes; the limit is {MAX_BYTES:,})",
                        "config files are small; move data into files tracked by DVC",
                    )
                ]
            )
        raw = read_bytes_bounded(path, MAX_BYTES)  # a FIFO or device has no size to check
    except FileTooLarge:
        raise ConfigError(
            [
                Problem(
                    display,
                    1,
                    1,
                    f"file is too large (over {MAX_BYTES:,} bytes)",
                    "config files are small; move data into files tracked by DVC",
                )
            ]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [
                Problem(
                    display,
                    None,
                    None,
                    f"cannot read file: {exc.strerror or exc}",
                    "check that the file exists and is readable",
                )
            ]
        ) from exc
    return parse(raw, display)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def read(text: str) -> Any:
    """Plain data from generated YAML (a safe loader, libyaml when PyYAML has it).

    No marks and no strictness: for files this tool or DVC wrote. Raises YAMLError.
    """
    return yaml.load(text, Loader=_Loader)  # _Loader is CSafeLoader or SafeLoader


def edit(text: str, display: str, change: Callable[[MutableMapping[str, Any]], T]) -> tuple[str, T]:
    """Apply `change` to the top mapping of `text`, keeping comments and layout.

    The strict loader checks the text before and after, so tags, anchors and
    the like never reach ruamel, and the result still loads. Returns the new
    text and what `change` returned.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    if text.strip():
        parse(text, display)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    # The round-trip loader keeps comments; it builds plain mappings, never objects.
    data = rt.load(text) if text.strip() else None
    if data is None:
        data = CommentedMap()
    result = change(data)
    out = io.StringIO()
    rt.dump(data, out)
    parse(out.getvalue(), display)
    return out.getvalue(), result


def child_mapping(parent: MutableMapping[str, Any], key: str) -> MutableMapping[str, Any]:
    """The mapping under `key` in an `edit`, created when missing, in block style."""
    from ruamel.yaml.comments import CommentedMap

    child = parent.get(key)
    if child is None or not hasattr(child, "get"):
        child = CommentedMap()
        parent[key] = child
    if hasattr(child, "fa"):
        child.fa.set_block_style()  # `production: {}` becomes a block mapping
    return child


def parse(raw: bytes | str, display: str) -> Document:
    """Parse YAML text or bytes strictly into a mapping with marks."""
    try:
        return _parse(raw, display)
    except _Fail as fail:
        raise ConfigError([fail.problem]) from None


def _parse(raw: bytes | str, display: str) -> Document:
    text = _decode(raw, display)
    doc = Document(path=display, text=text, data=None)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _Fail(Problem(display, 1, 1, f"file is too large (over {MAX_BYTES:,} bytes)", None))
    conflict = _CONFLICT.search(text)
    if conflict:
        conflict_line = text.count("\n", 0, conflict.start()) + 1
        raise _Fail(
            doc.problem_at(
                conflict_line,
                1,
                "merge-conflict marker in file",
                "resolve the conflict and remove the <<<<<<<, ======= and >>>>>>> lines",
            )
        )
    try:
        events = _events(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        line: int | None = mark.line + 1 if mark else None
        col: int | None = mark.column + 1 if mark else None
        source = doc.source_line(line) or ""
        raise _Fail(
            doc.problem_at(line, col, f"invalid YAML: {what}", _yaml_hint(what, source))
        ) from None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise _Fail(
            doc.problem_at(
                None, None, f"invalid YAML: {exc}", "remove control characters from the file"
            )
        ) from None
    builder = _Builder(doc, iter(events))
    doc.data = builder.build()
    return doc


def _events(text: str) -> list[yaml.Event]:
    """Every parser event of `text` (as `yaml.parse`, without its generator per event)."""
    loader = _Loader(text)
    try:
        events: list[yaml.Event] = []
        while (event := loader.get_event()) is not None:
            events.append(event)
            if type(event) is yaml.StreamEndEvent:
                break
        return events
    finally:
        loader.dispose()


# Plain scalars repeat (keys, `true`, small numbers): what the resolver and the
# constructor made of them, by (value, implicit) and (tag, value). Bounded.
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
_CONSTRUCTED: dict[tuple[str, str], Any] = {}
_CACHE_MAX = 100_000


def _decode(raw: bytes | str, display: str) -> str:
    if isinstance(raw, str):
        text = raw
    else:
        if len(raw) > MAX_BYTES:
            raise _Fail(
                Problem(
                    display,
                    1,
                    1,
                    f"file is too large ({len(raw):,} bytes; the limit is {MAX_BYTES:,})",
                    "config files are small; move data into files tracked by DVC",
                )
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = raw[: exc.start]
            line = before.count(b"\n") + 1
            col = exc.start - (before.rfind(b"\n") + 1) + 1
            raise _Fail(
                Problem(
                    display,
                    line,
                    col,
                    f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    "save the file as UTF-8",
                )
            ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _yaml_hint(what: str, source: str) -> str:
    if "tab" in what or "\t" in source[: len(source) - len(source.lstrip())]:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in what:
        return "quote values that contain ': ' or fix the indentation"
    return "check the indentation and quoting around this line"


class _Builder:
    """Turns parser events into plain Python data, recording marks as it goes."""

    def __init__(self, doc: Document, events: Iterator[yaml.Event]) -> None:
        self.doc = doc
        self.events = events
        self.resolver = Resolver()
        self.constructor = SafeConstructor()

    def _fail(self, event: yaml.Event, message: str, hint: str | None = None) -> _Fail:
        line, col = _position(event)
        return _Fail(self.doc.problem_at(line, col, message, hint))

    def build(self) -> Any:
        next(self.events)  # StreamStart
        event = next(self.events)
        if isinstance(event, yaml.StreamEndEvent):
            raise _Fail(
                self.doc.problem_at(1, 1, "file is empty", "see `mlops init` for a starting point")
            )
        event = next(self.events)  # first event inside the document
        data = self._node(event, ())
        next(self.events)  # DocumentEnd
        extra = next(self.events)
        if not isinstance(extra, yaml.StreamEndEvent):
            raise self._fail(
                extra, "more than one YAML document in file", "remove the '---' separator"
            )
        if data is None:
            raise _Fail(
                self.doc.problem_at(1, 1, "file is empty", "see `mlops init` for a starting point")
            )
        if not isinstance(data, dict):
            kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
            raise self._fail_at(
                (),
                f"top level must be a mapping of keys to values, got {kind}",
                "see `mlops init` for an example of this file",
            )
        return data

    def _fail_at(self, loc: Loc, message: str, hint: str | None) -> _Fail:
        return _Fail(self.doc.problem(loc, message, hint))

    def _check_node_event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.AliasEvent):
            raise self._fail(
                event,
                f"alias '*{event.anchor}' is not allowed",
                "anchors and aliases are refused (they can expand without bound); repeat the value",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise self._fail(
                event,
                f"anchor '&{anchor}' is not allowed",
                "anchors and aliases are refused (they can expand without bound); repeat the value",
            )
        tag = getattr(event, "tag", None)
        explicit = tag is not None and (
            not isinstance(event, yaml.ScalarEvent) or not event.implicit[0]
        )
        if isinstance(event, yaml.ScalarEvent) and tag == "!":
            explicit = False
        if explicit and tag is not None and tag not in _ALLOWED_TAGS:
            shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
            raise self._fail(
                event,
                f"tag '{shown}' is not allowed",
                "remove the tag; config files hold plain strings, numbers, lists and mappings",
            )

    def _node(self, event: yaml.Event, loc: Loc) -> Any:
        if _marked(event):
            self._check_node_event(event)
        if len(loc) > MAX_DEPTH:
            # Deep nesting is never meant; refusing it keeps every recursive walk
            # below (models, checks, diagnostics) far from Python's recursion limit.
            raise self._fail(
                event,
                f"values are nested more than {MAX_DEPTH} levels deep",
                "flatten the value; config files nest a few levels at most",
            )
        self.doc.values[loc] = Mark(*_position(event))
        kind = type(event)
        if kind is yaml.ScalarEvent:
            return self._scalar(event)  # type: ignore[arg-type]
        if kind is yaml.SequenceStartEvent:
            items: list[Any] = []
            while not isinstance(event := next(self.events), yaml.SequenceEndEvent):
                items.append(self._node(event, (*loc, len(items))))
            return items
        if kind is yaml.MappingStartEvent:
            return self._mapping(loc)
        raise self._fail(
            event, f"unexpected YAML event {type(event).__name__}", "simplify this value"
        )

    def _mapping(self, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while type(event := next(self.events)) is not yaml.MappingEndEvent:
            if _marked(event):
                self._check_node_event(event)
            if not isinstance(event, yaml.ScalarEvent):
                raise self._fail(
                    event, "mapping keys must be plain strings", "write the key as plain text"
                )
            key = self._scalar(event)
            if event.value == "<<" and event.implicit[0]:
                raise self._fail(
                    event, "merge keys ('<<') are not allowed", "write the keys out in full"
                )
            if not isinstance(key, str):
                raise self._fail(
                    event,
                    f"key {event.value!r} is read as {_kind(key)}, not a string",
                    f'quote it: "{event.value}"',
                )
            mark = Mark(*_position(event))
            child = (*loc, key)
            if key in out:
                first = self.doc.keys[child]
                raise self._fail(
                    event,
                    f"duplicate key '{key}' (first defined at line {first.line})",
                    "remove one of them; YAML would silently keep only the last",
                )
            self.doc.keys[child] = mark
            out[key] = self._node(next(self.events), child)
        return out

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!" or event.implicit[0]:
            if event.style or tag == "!":  # quoted scalars are always strings
                return event.value
            resolved = (event.value, event.implicit)
            tag = _RESOLVED.get(resolved)
            if tag is None:
                tag = str(self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit))  # type: ignore[no-untyped-call]
                _remember(_RESOLVED, resolved, tag)
        short = tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else ""
        if short not in ("bool", "int", "float", "null", "timestamp"):
            return event.value
        built = (tag, event.value)
        if built in _CONSTRUCTED:
            return _CONSTRUCTED[built]
        node = yaml.ScalarNode(tag, event.value)
        try:
            value = self.constructor.construct_object(node, deep=True)
            _remember(_CONSTRUCTED, built, value)
            return value
        except (yaml.YAMLError, ValueError) as exc:
            raise self._fail(
                event, f"cannot read {event.value!r} as {short}: {exc}", "quote it or fix it"
            ) from None
        except (KeyError, TypeError, OverflowError):  # `!!bool maybe`: PyYAML's table lookup
            raise self._fail(
                event, f"cannot read {event.value!r} as {short}", "quote it or fix it"
            ) from None


def _marked(event: yaml.Event) -> bool:
    """Whether a node event carries an anchor or a tag (the rare events worth checking)."""
    return getattr(event, "anchor", None) is not None or getattr(event, "tag", None) is not None


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def _position(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"
