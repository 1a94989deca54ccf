"""Add an item to a top-level YAML block list without rewriting the rest of the file.

A user's `.pre-commit-config.yaml` or `.gitlab-ci.yml` keeps its comments, quoting and
indentation: the new item is inserted as text after the list's last line, indented the
way the list already is. The caller parses the result to confirm it means what it should.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ITEM = re.compile(r"^( *)-( +)\S")


@dataclass(frozen=True)
class BlockList:
    """Where a top-level `key:` block list ends, and how its items are indented."""

    end: int  # index of the line after the list's last non-blank line
    indent: int  # spaces before each dash
    offset: int  # columns from a dash to its item's content


def find_block_list(lines: list[str], key: str) -> BlockList | None:
    """The block list under a top-level `key:`; None when `key` is absent or not one."""
    head = re.compile(rf"^{re.escape(key)}:[ \t]*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if head.match(line.rstrip("\r\n"))), None)
    if start is None:
        return None
    last, indent, offset = start, 2, 2
    seen = False
    for index in range(start + 1, len(lines)):
        line = lines[index].rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key (or a document marker)
        if not seen:
            match = _ITEM.match(line)
            if match is None:
                return None  # a mapping or a scalar, not a block list
            indent, offset = len(match[1]), 1 + len(match[2])
            seen = True
        last = index
    return BlockList(last + 1, indent, offset)


def insert_item(text: str, block: BlockList, item: str) -> str:
    """`text` with `item` (whole lines) inserted where `block` ends."""
    lines = text.splitlines(keepends=True)
    before = lines[: block.end]
    if before and not before[-1].endswith("\n"):
        before[-1] += "\n"
    return "".join(before) + item + "".join(lines[block.end :])


def append_key(text: str, key: str, item: str) -> str:
    """`text` with a new top-level `key:` list holding `item` at its end."""
    if text and not text.endswith("\n"):
        text += "\n"
    return f"{text}{key}:\n{item}"
