"""A set-up as data: the files and git config values `init` would write, and their diff.

Planning and writing are apart so that `--dry-run` prints the very changes a real run
makes, and a run whose plan is empty says so instead of touching anything.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileChange:
    """One file's new content; `old` is None for a file that does not exist yet."""

    path: str  # relative to the repository root, POSIX
    old: str | None
    new: str

    @property
    def verb(self) -> str:
        return "create" if self.old is None else "update"

    def diff(self) -> str:
        """A unified diff, as `git diff` shows a new or changed file."""
        before = "/dev/null" if self.old is None else f"a/{self.path}"
        lines = difflib.unified_diff(
            (self.old or "").splitlines(keepends=True),
            self.new.splitlines(keepends=True),
            fromfile=before,
            tofile=f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class ConfigChange:
    """One `git config --local KEY VALUE`; `old` is the value git had (None: unset)."""

    key: str
    old: str | None
    new: str

    def command(self) -> str:
        return f"git config --local {self.key} {shlex.quote(self.new)}"


@dataclass
class Plan:
    """What a run writes; `kept` are the files and keys already as they should be."""

    files: list[FileChange] = field(default_factory=list)
    config: list[ConfigChange] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.files and not self.config

    def diff(self) -> str:
        """Every change, diff-like: file diffs, then the git config commands."""
        parts = [change.diff() for change in self.files]
        parts += [f"{change.command()}\n" for change in self.config]
        return "".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [{"path": c.path, "action": c.verb, "diff": c.diff()} for c in self.files],
            "git_config": [{"key": c.key, "old": c.old, "new": c.new} for c in self.config],
            "unchanged": sorted(self.kept),
            "notes": list(self.notes),
        }
