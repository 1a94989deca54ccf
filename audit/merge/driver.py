"""The one command git runs for every file `lock` writes: conda-lock.yml or an explicit
`conda-<platform>.lock`, told apart by name and content."""

from __future__ import annotations

from pathlib import Path

from audit.core.errors import InputError
from audit.merge.explicit import is_explicit, merge_explicit
from audit.merge.outcome import MergeResult
from audit.merge.run import merge_lock


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read the {label} version: {exc.strerror}", where=str(path)
        ) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", where=str(path)) from None


def merge_file(base: Path, ours: Path, theirs: Path, path: str) -> MergeResult:
    """Merge `theirs` into `ours` (%A, rewritten in place only on success)."""
    texts = [_read(p, label) for p, label in ((base, "base"), (ours, "ours"), (theirs, "theirs"))]
    if is_explicit(path, texts):
        return merge_explicit(texts, ours, path)
    return merge_lock(base, ours, theirs, path)
