"""The one command git runs for every file `lock` writes: conda-lock.yml or an explicit
`conda-<platform>.lock`, told apart by name and content."""

from __future__ import annotations

from pathlib import Path

from audit.core.errors import InputError
from audit.merge.explicit import is_explicit, merge_explicit
from audit.merge.gitview import forget_sides, learn_sides
from audit.merge.outcome import MergeResult
from audit.merge.run import write_merged_lock


def _read(file: Path, label: str, path: str) -> str:
    """One version, errors named after the file it is a version of (`PATH (side)`)."""
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror}", where=f"{path} ({label})") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", where=f"{path} ({label})") from None


def merge_file(base: Path, ours: Path, theirs: Path, path: str) -> MergeResult:
    """Merge `theirs` into `ours` (%A, rewritten in place only on success)."""
    sides = ((base, "base"), (ours, "ours"), (theirs, "theirs"))
    texts = [_read(file, label, path) for file, label in sides]
    learn_sides(path, base.read_bytes(), theirs.read_bytes())  # the commits git is merging
    try:
        if is_explicit(path, texts):
            return merge_explicit(texts, ours, path)
        return write_merged_lock((texts[0], texts[1], texts[2]), ours, path)
    finally:
        forget_sides()
