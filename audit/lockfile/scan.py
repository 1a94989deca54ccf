"""A one-pass line scanner for conda-lock.yml (v1): every package entry with its line.

Findings must point at conda-lock.yml:line, which a YAML load does not keep; and loading a
3,000-entry lock (PyYAML, even its C loader, or rattler's reader) costs more than all of
`check` may spend. The v1 layout is regular: a block list of block mappings under
`package:` (`- name:` at column 0 as repro-audit writes it, `  - category:` as conda-lock
does, keys in any order), so one pass with string operations recovers each entry's fields,
its dependency names and its position. The few lines outside `package:` are handed back
(package lines blanked, so YAML errors keep their line numbers) for a real YAML parse.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from audit.core.text import NOT_TEXT, decode_text

__all__ = [
    "NOT_TEXT",
    "LockChunks",
    "ScannedEntry",
    "ScannedLock",
    "decode_text",
    "scan_entry",
    "scan_lock",
    "split_lock",
]

_FIELDS = frozenset({"name", "version", "manager", "platform", "build", "url"})


class ScannedEntry:
    """One `package:` item of a conda-lock.yml (slots: a lock may hold 100,000)."""

    __slots__ = (
        "line",
        "name",
        "version",
        "manager",
        "platform",
        "build",
        "url",
        "hashes",
        "depends",
    )

    def __init__(self, line: int) -> None:
        self.line = line
        self.name = self.version = self.manager = self.platform = self.build = self.url = ""
        self.hashes: dict[str, str] = {}
        self.depends: dict[str, str] = {}  # dependency name → spec, in file order

    @property
    def build_string(self) -> str:
        """The build, or the one in the file name (`name-version-build.conda`) when absent."""
        if self.build:
            return self.build
        stem = self.url.rsplit("/", 1)[-1].removesuffix(".conda").removesuffix(".tar.bz2")
        return stem.rsplit("-", 1)[-1] if stem.count("-") >= 2 else ""

    @property
    def subdir(self) -> str:
        parts = self.url.rsplit("/", 2)
        return parts[1] if len(parts) == 3 else self.platform


@dataclass
class ScannedLock:
    entries: list[ScannedEntry]
    head: str  # the text without the package list (same line numbers)
    key_lines: dict[str, int]  # "metadata.platforms", "platform.linux-64", "content_hash.…"
    channel_lines: dict[str, int]  # channel url → line


def _unquote(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    first = value[0]
    if first == "'" and value.endswith("'") and len(value) >= 2:
        return value[1:-1].replace("''", "'")
    if first == '"' and value.endswith('"') and len(value) >= 2:
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return value


#: `{key: value, …}` holding plain scalars only: no quotes, nesting, anchors, tags, comments
_PLAIN_FLOW = re.compile(r"\{([^{}\[\]'\"&*!|>%@`#]*)\}")


def _plain_flow(value: str) -> dict[str, str] | None:
    """A flow mapping of plain scalars read without the YAML parser (None: not one).

    Each scalar is resolved and constructed by PyYAML's own safe resolver and constructor,
    so the result is the parser's (`0` is int 0, `1.0` a float, `on` a bool): the same
    values at a tenth of the cost, which keeps a lock of a million such entries bounded.
    """
    match = _PLAIN_FLOW.fullmatch(value.strip())
    if match is None:
        return None
    out: dict[Any, Any] = {}  # keyed as the parser keys them: `1` and `1.0` are one key
    for item in match.group(1).split(","):
        key, sep, val = item.partition(": ")
        key, val = key.strip(), val.strip()
        if not sep or not key or not val or ":" in key or ": " in val or val.endswith(":"):
            return None
        parsed_key, parsed_val = _scalar(key), _scalar(val)
        if parsed_key is _NOT_PLAIN or parsed_val is _NOT_PLAIN:
            return None
        out[parsed_key] = parsed_val
    return {str(k): str(v) for k, v in out.items()}


_NOT_PLAIN = object()


def _scalar(text: str) -> Any:
    """A plain scalar as PyYAML's safe loader reads it (or _NOT_PLAIN)."""
    import yaml

    if text[0] in "-?:,[]{}#&*!|>'\"%@`" and not (text[0] == "-" and text[1:2].isdigit()):
        return _NOT_PLAIN
    resolver, constructor = _yaml_helpers()
    tag = resolver.resolve(yaml.ScalarNode, text, (True, False))
    try:
        # the tag's constructor itself: construct_object would keep every node it made
        return constructor.yaml_constructors[tag](constructor, yaml.ScalarNode(tag, text))
    except (yaml.YAMLError, ValueError, OverflowError, KeyError):
        return _NOT_PLAIN


@functools.cache
def _yaml_helpers() -> tuple[Any, Any]:
    """PyYAML's safe resolver and constructor, made once (no yaml import at start-up)."""
    import yaml

    return yaml.resolver.Resolver(), yaml.constructor.SafeConstructor()


def _flow_mapping(value: str) -> dict[str, str]:
    """A `{…}` value (`{}` without YAML: conda-lock writes it for every leaf package)."""
    if value.replace(" ", "") == "{}":
        return {}
    plain = _plain_flow(value)
    if plain is not None:
        return plain
    from audit.core.errors import InputError
    from audit.core.safeload import load_yaml

    try:
        data = load_yaml(value)
    except InputError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


_TOP_LEVEL = re.compile(r"\n[^\s#-]")


def _package_region(text: str) -> tuple[int, int, int, int]:
    """(start offset, end offset, first line number, item indent) of the package list."""
    start = 0 if text.startswith("package:") else text.find("\npackage:") + 1
    if start <= 0 and not text.startswith("package:"):
        return len(text), len(text), text.count("\n") + 1, 0
    body = text.find("\n", start)
    if body < 0:
        return len(text), len(text), text.count("\n") + 1, 0
    body += 1
    # `\n` + a key, not `^` in MULTILINE mode: the literal lets re skip ahead (10x faster)
    following = _TOP_LEVEL.search(text, body - 1)
    end = following.start() + 1 if following else len(text)
    first = re.compile(r"^( *)- ", re.M).search(text, body, end)
    indent = len(first.group(1)) if first else 0
    return body, end, text.count("\n", 0, body) + 1, indent


@dataclass
class LockChunks:
    """A conda-lock.yml cut into its package entries' texts and the rest (same line numbers).

    An entry's fields depend on its text and the list's indent alone, so a reader of many
    revisions of one lock can reuse what it built from an entry text it has seen.
    """

    chunks: list[tuple[int, str]]  # (1-based line of the `- `, the entry's text)
    pad: str  # the indent of an entry's keys
    head: str
    key_lines: dict[str, int]
    channel_lines: dict[str, int]


def split_lock(text: str) -> LockChunks:
    """The package entries' texts (not yet read) and the positions in the rest."""
    body, end, first_line, indent = _package_region(text)
    region_lines = text.count("\n", body, end)
    head = text[:body] + "\n" * region_lines + text[end:]
    chunks = _chunks(text, body, end, first_line, indent) if body < end else []
    before = text[:body].splitlines()
    after = text[end:].splitlines()
    tail = len(before) + region_lines + 1
    key_lines, channel_lines = _head_positions(
        [*enumerate(before, start=1), *enumerate(after, start=tail)]
    )
    return LockChunks(
        chunks,
        " " * (indent + 2),
        head if head.endswith("\n") else head + "\n",
        key_lines,
        channel_lines,
    )


def scan_lock(text: str, *, depends: bool = True) -> ScannedLock:
    """Entries, the non-package text and key positions of a conda-lock.yml.

    `depends=False` leaves every entry's `depends` empty: most readers (`check`, verify's
    hand-edit scan) never look at them, and they are half of a lock's lines.
    """
    parts = split_lock(text)
    entries = [scan_entry(chunk, line, parts.pad, depends) for line, chunk in parts.chunks]
    return ScannedLock(entries, parts.head, parts.key_lines, parts.channel_lines)


def _chunks(text: str, body: int, end: int, line: int, indent: int) -> list[tuple[int, str]]:
    """Every entry's text between `body` and `end`, with its 1-based line number.

    The list is split at its item marker (`\\n- `, or `\\n  - ` for conda-lock's indented
    layout) in C.
    """
    marker = "\n" + " " * indent + "- "
    chunks = ("\n" + text[body:end]).split(marker)
    line += chunks[0].count("\n") - 1
    out: list[tuple[int, str]] = []
    for chunk in chunks[1:]:
        line += 1
        out.append((line, chunk))
        line += chunk.count("\n")
    return out


def scan_entry(chunk: str, line: int, pad: str, depends: bool = True) -> ScannedEntry:
    """One entry's text (from after its `- `) read into a ScannedEntry at `line`."""
    entry = ScannedEntry(line)
    _fill(entry, chunk.split("\n"), pad, depends)
    return entry


def _fill(entry: ScannedEntry, lines: list[str], pad: str, depends: bool = True) -> None:
    """Assign one entry's `key: value` lines (the first line is the one after `- `).

    The hot loop of reading a big lock: ~15 lines per entry, so it stays inline.
    """
    width = len(pad)
    nested = pad + " "
    target: dict[str, str] | None = None  # the mapping nested lines go to
    first = True
    for raw in lines:
        if first:
            rest, first = raw, False
        elif raw.startswith(nested):
            if target is None:
                continue
            key, colon, value = raw.strip().partition(":")
            if not colon or key[:1] in ("#", "-", ""):
                continue
            value = value.strip()
            if key[:1] in QUOTES:
                key = _unquote(key)
            if value[:1] in QUOTES:
                value = _quoted(value)
            if target is entry.depends or value not in ("", "null", "~"):
                target[key] = value
            continue
        elif raw.startswith(pad):
            rest = raw[width:]
        else:
            continue  # blank, a comment, or a nested list item (`categories:`)
        key, colon, value = rest.partition(":")
        if not colon or key[:1] in ("#", "-", ""):
            continue
        value = value.strip()
        target = None
        if key == "dependencies":
            if not depends:
                continue  # its nested lines are skipped: `target` stays None
            if value[:1] == "{":
                entry.depends.update(_flow_mapping(value))
            else:
                target = entry.depends
        elif key == "hash":
            if value[:1] == "{":
                entry.hashes.update(_flow_mapping(value))
            else:
                target = entry.hashes
        elif key in _FIELDS:
            setattr(entry, key, _quoted(value) if value[:1] in QUOTES else value)


QUOTES = ("'", '"')


def _quoted(value: str) -> str:
    """A quoted scalar's text; the common `'…'` without escapes is a slice."""
    if value[0] == "'" and value[-1] == "'" and len(value) >= 2 and "''" not in value:
        return value[1:-1]
    return _unquote(value)


def _head_positions(head: list[tuple[int, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Lines of metadata keys, per-platform content hashes, platforms and channels."""
    key_lines: dict[str, int] = {}
    channel_lines: dict[str, int] = {}
    section = subkey = ""
    for number, raw in head:
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        indent = len(raw) - len(stripped)
        if indent == 0 and stripped[0] != "-":
            section = stripped.split(":", 1)[0].strip()
            subkey = ""
            key_lines.setdefault(section, number)
            continue
        is_item = stripped[:2] == "- "
        body = stripped[2:].strip() if is_item else stripped
        key, colon, value = body.partition(":")
        has_key = bool(colon) and "://" not in body.split(" ", 1)[0]
        if not is_item and has_key and indent <= 2:
            subkey = _unquote(key)
            key_lines.setdefault(f"{section}.{subkey}", number)
        elif subkey == "content_hash" and has_key and not is_item:
            key_lines.setdefault(f"content_hash.{_unquote(key)}", number)
        elif subkey == "channels":
            if has_key and _unquote(key) == "url":
                channel_lines.setdefault(_unquote(value), number)
            elif is_item and not has_key:
                channel_lines.setdefault(_unquote(body), number)
        elif subkey == "platforms" and is_item:
            key_lines.setdefault(f"platform.{_unquote(body)}", number)
    return key_lines, channel_lines
