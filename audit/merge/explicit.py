"""The driver for explicit `conda-<platform>.lock` files: derived, never merged as text.

An explicit file is a function of conda-lock.yml (`audit.lock.explicit`), so its merge
is that function of the merged conda-lock.yml. The three explicit versions are only
checked (no conflict markers, an `@EXPLICIT` line); the three conda-lock.yml versions
beside it come from git (HEAD, the merged commit, their merge base) and go through the
same merge as conda-lock.yml's own driver (`merged_lock`, shared through the memo when
it re-solves), so whatever order git runs the drivers in, all of them agree.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from audit.core.errors import InputError
from audit.merge.gitview import current_sides, folder_files, show
from audit.merge.memo import Texts
from audit.merge.outcome import MergeResult
from audit.merge.threeway import check_markers

#: conda-lock's name for an explicit file: conda-<platform>.lock
_NAME = re.compile(r"^conda-(?P<platform>[a-z0-9]+-[a-z0-9_]+)\.lock$")
_PLATFORM = re.compile(r"^# platform: *(\S+)", re.MULTILINE)
_EXPLICIT = re.compile(r"^@EXPLICIT\s*$", re.MULTILINE)
_INPUT_HASH = re.compile(r"^# input_hash: *(\S+)", re.MULTILINE)
LOCK_NAME = "conda-lock.yml"


def is_explicit(path: str, texts: list[str]) -> bool:
    """By name (`conda-<platform>.lock`) or content (an `@EXPLICIT` line)."""
    return bool(_NAME.match(posixpath.basename(path))) or any(_EXPLICIT.search(t) for t in texts)


def check_explicit(text: str, where: str) -> None:
    """Conflict markers or no `@EXPLICIT` line: bad input, named `FILE (side):LINE`."""
    check_markers(text, where)
    if text.strip() and not _EXPLICIT.search(text):
        raise InputError("not an explicit lock file: no @EXPLICIT line", where=f"{where}:1")


def platform_of(path: str, text: str) -> str | None:
    """The `# platform:` header, else the platform in the file's name."""
    found = _PLATFORM.search(text)
    if found:
        return found.group(1)
    named = _NAME.match(posixpath.basename(path))
    return named.group("platform") if named else None


def lock_beside(path: str, explicit: str) -> str:
    """The lock this explicit file was written with: conda-lock.yml beside it, or (made
    with `lock --lockfile NAME`) the YAML file beside it whose content hash it carries."""
    folder = posixpath.dirname(path)
    default = posixpath.join(folder, LOCK_NAME)
    found = _INPUT_HASH.search(explicit)
    if show("HEAD", default) is not None or found is None:
        return default
    for name in folder_files("HEAD", folder):
        if name.endswith((".yml", ".yaml")):
            text = show("HEAD", name) or b""
            if b"content_hash:" in text and found.group(1).encode() in text:
                return name
    return default


def _conflict(path: str, reason: str, *more: str) -> MergeResult:
    return MergeResult(path=path, status="conflict", reasons=[reason, *more])


def merge_explicit(texts: list[str], ours: Path, path: str) -> MergeResult:
    """Write to `ours` the explicit file `lock` writes for the merged conda-lock.yml."""
    platform = platform_of(path, texts[1]) or platform_of(path, texts[2])
    if platform is not None and not _NAME.match(posixpath.basename(path)):
        path = posixpath.join(posixpath.dirname(path), f"conda-{platform}.lock")  # no %P
    for text, label in zip(texts, ("base", "ours", "theirs"), strict=True):
        check_explicit(text, f"{path} ({label})")
    if platform is None:
        return _conflict(path, "no `# platform:` line and not named conda-<platform>.lock")
    sides = current_sides()
    lock_path = lock_beside(path, texts[1])
    if sides is None:
        return _conflict(
            path,
            f"derived from {lock_path}, whose versions git does not say (not a merge, rebase "
            "or cherry-pick of commits on a branch)",
            "run `repro-audit lock` after the merge",
        )
    lock_texts = lock_versions(lock_path, sides.base, sides.theirs)
    if lock_texts is None:
        return _conflict(path, f"no {lock_path} beside it on both sides: run `repro-audit lock`")
    return _derive(lock_texts, lock_path, platform, ours, path)


def lock_versions(lock_path: str, base_rev: str | None, theirs: str) -> Texts | None:
    """The lock at the merge's base, HEAD and `theirs` (None: missing on a side)."""
    base, ours, other = (show(rev, lock_path) for rev in (base_rev, "HEAD", theirs))
    if ours is None or other is None:
        return None
    return (
        _decode(base or b"", lock_path, "base"),
        _decode(ours, lock_path, "ours"),
        _decode(other, lock_path, "theirs"),
    )


def _derive(lock_texts: Texts, lock_path: str, platform: str, ours: Path, path: str) -> MergeResult:
    """Merge the lock as its own driver does, then write this platform's explicit file."""
    from audit.core.fs import atomic_write_text
    from audit.lock.explicit import explicit_text
    from audit.merge.run import merged_lock

    try:
        outcome = merged_lock(lock_texts, lock_path, consumer=path)
    except InputError as exc:
        if exc.where != lock_path:
            raise  # about one of the lock's versions: named after it
        raise InputError(exc.message, where=path, hint=exc.hint) from None
    if outcome.document is None:
        return _conflict(path, f"{lock_path} does not merge:", *outcome.result.reasons)
    if platform not in (outcome.document["metadata"].get("platforms") or []):
        return _conflict(path, f"the merged {lock_path} does not lock {platform}")
    atomic_write_text(ours, explicit_text(outcome.document, platform))
    result = MergeResult(path, outcome.result.status, reasons=outcome.result.reasons)
    result.derived_from = f"the merged {posixpath.basename(lock_path)}"
    return result


def _decode(data: bytes, path: str, side: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", where=f"{path} ({side})") from None
