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

import json
from dataclasses import dataclass, field

_FIELDS = frozenset({"name", "version", "manager", "platform", "build", "url"})


@dataclass
class ScannedEntry:
    """One `package:` item of a conda-lock.yml."""

    line: int
    name: str = ""
    version: str = ""
    manager: str = ""
    platform: str = ""
    build: str = ""
    url: str = ""
    hashes: dict[str, str] = field(default_factory=dict)
    depends: list[str] = field(default_factory=list)  # dependency names

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


def _flow_mapping(value: str) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(value)
    except yaml.YAMLError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def scan_lock(text: str) -> ScannedLock:
    """Entries, the non-package text and key positions of a conda-lock.yml."""
    lines = text.splitlines()
    entries: list[ScannedEntry] = []
    head: list[str] = []
    start = end = len(lines)
    for i, raw in enumerate(lines):
        if raw.startswith("package:"):
            start = i
            break
    for j in range(start + 1, len(lines)):
        raw = lines[j]
        if raw and raw[0] not in " -#":
            end = j
            break
    head = lines[: start + 1] + [""] * (end - start - 1) + lines[end:]
    if start < len(lines):
        entries = _scan_entries(lines, start + 1, end)
    key_lines, channel_lines = _head_positions(
        [*enumerate(lines[: start + 1], start=1), *enumerate(lines[end:], start=end + 1)]
    )
    return ScannedLock(entries, "\n".join(head) + "\n", key_lines, channel_lines)


def _scan_entries(lines: list[str], first: int, end: int) -> list[ScannedEntry]:
    entries: list[ScannedEntry] = []
    item_indent = -1
    key_indent = -1
    current: ScannedEntry | None = None
    mode = ""  # "deps" | "hash" | ""
    for index in range(first, end):
        raw = lines[index]
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        indent = len(raw) - len(stripped)
        if stripped[:2] == "- " and (indent == item_indent or item_indent < 0):
            item_indent, key_indent = indent, indent + 2
            current = ScannedEntry(line=index + 1)
            entries.append(current)
            stripped = stripped[2:].lstrip(" ")
            indent = key_indent
        if current is None:
            continue
        key, _, value = stripped.partition(":")
        if indent == key_indent:
            value = value.strip()
            if key == "dependencies":
                mode = "deps"
                if value.startswith("{"):
                    current.depends.extend(_flow_mapping(value))
                    mode = ""
            elif key == "hash":
                mode = "hash"
                if value.startswith("{"):
                    current.hashes.update(_flow_mapping(value))
                    mode = ""
            else:
                mode = ""
                if key in _FIELDS:
                    setattr(current, key, _unquote(value) if value[:1] in "'\"" else value)
        elif indent > key_indent:
            if mode == "deps":
                current.depends.append(_unquote(key) if key[:1] in "'\"" else key)
            elif mode == "hash":
                value = _unquote(value)
                if value not in ("", "null", "~"):
                    current.hashes[key.strip()] = value
    return entries


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
