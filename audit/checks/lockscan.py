"""A line scanner for conda-lock.yml (v1): every package entry with the line it starts on.

Findings must point at conda-lock.yml:line, which a YAML load does not keep, and composing
a 3,000-entry lock with marks costs more than all of `check`. The v1 layout is regular
(a block list of block mappings under `package:`, as conda-lock and repro-audit write it),
so a single pass over the lines recovers each entry's fields and position. Semantics
(versions, match specs) come from rattler's own reader; this only adds the positions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.\-]+|'[^']*'|\"[^\"]*\"):(?:\s+(.*?))?\s*$")


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
    dependencies: dict[str, str] = field(default_factory=dict)


@dataclass
class ScannedLock:
    entries: list[ScannedEntry]
    key_lines: dict[str, int]  # top-level and metadata keys → line (e.g. "platforms")
    channel_lines: dict[str, int]  # channel url → line


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
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
    """Entries and key positions of a conda-lock.yml's text (tolerant: skips what it can't read)."""
    entries: list[ScannedEntry] = []
    key_lines: dict[str, int] = {}
    channel_lines: dict[str, int] = {}
    lines = text.splitlines()
    in_package = False
    item_indent = -1
    current: ScannedEntry | None = None
    nested: dict[str, str] | None = None
    nested_indent = -1
    section = ""
    subkey = ""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw.startswith((" ", "-")):
            key = raw.split(":", 1)[0].strip()
            key_lines.setdefault(key, number)
            in_package = key == "package"
            section = key
            subkey = ""
            current = None
            continue
        if not in_package:
            stripped = raw.lstrip()
            is_item = stripped.startswith("- ")
            body = stripped[2:] if is_item else stripped
            match = _KEY.match(body)
            if not is_item and match and len(raw) - len(stripped) <= 2:
                subkey = _unquote(match.group(2))
                key_lines.setdefault(f"{section}.{subkey}", number)
            elif match and not is_item and subkey == "content_hash":
                key_lines.setdefault(f"content_hash.{_unquote(match.group(2))}", number)
            elif subkey == "channels" and (is_item or match):
                if match and _unquote(match.group(2)) == "url":
                    channel_lines.setdefault(_unquote(match.group(3) or ""), number)
                elif is_item and not match:
                    channel_lines.setdefault(_unquote(body), number)
            elif subkey == "platforms" and is_item:
                key_lines.setdefault(f"platform.{_unquote(body)}", number)
            continue
        stripped = raw.lstrip()
        indent = len(raw) - len(stripped)
        if stripped.startswith("- ") and (item_indent < 0 or indent == item_indent):
            item_indent = indent
            current = ScannedEntry(line=number)
            entries.append(current)
            nested = None
            raw = " " * (indent + 2) + stripped[2:]
            stripped = raw.lstrip()
            indent = indent + 2
        if current is None:
            continue
        match = _KEY.match(raw)
        if match is None:
            continue
        key, value = _unquote(match.group(2)), match.group(3)
        if nested is not None and indent > nested_indent:
            nested[key] = _unquote(value or "")
            continue
        nested = None
        if key in ("dependencies", "hash"):
            target = current.dependencies if key == "dependencies" else current.hashes
            if value and value.startswith("{"):
                target.update(_flow_mapping(value))
            else:
                nested, nested_indent = target, indent
        elif key in ("name", "version", "manager", "platform", "build", "url"):
            setattr(current, key, _unquote(value or ""))
    return ScannedLock(entries, key_lines, channel_lines)
