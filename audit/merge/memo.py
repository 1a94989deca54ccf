"""One merge of conda-lock.yml per `git merge`, shared by every driver that needs it.

git runs a driver for conda-lock.yml and one per explicit `conda-<platform>.lock`, in
an order of its own (reverse path order under merge-ort: `conda-osx-arm64.lock` before
`conda-lock.yml`, `conda-linux-64.lock` after). Each needs the same merged lock. A
per-package merge is a pure function of the three lock versions, so each driver simply
computes it. A re-solve is not (it reads the channels, and takes seconds): the first
driver that re-solves keeps the result in `.git/repro-audit-merge/<key>.json`, keyed by
the lock's path, both commits and the three lock versions, together with the drivers
still to come (the paths git will call the same driver for: changed on both sides, so
not merged by git itself). Each of them takes the result and crosses itself off; the
last one removes the file, and the folder when empty. An entry some driver never
collects (a merge aborted half-way) is removed by the next merge after a day.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from audit.merge.gitview import (
    Sides,
    blob_ids,
    current_sides,
    git_path,
    head_commit,
    merge_attributes,
)
from audit.merge.outcome import MergeResult, Outcome

FOLDER = "repro-audit-merge"
MAX_AGE_SECONDS = 24 * 3600

Texts = tuple[str, str, str]


def explicit_paths(lock_path: str, platforms: Iterable[str]) -> list[str]:
    """`conda-<platform>.lock` beside the lock, as repository paths."""
    folder = posixpath.dirname(lock_path)
    return [posixpath.join(folder, f"conda-{p}.lock") for p in sorted(set(platforms))]


def _key(lock_path: str, theirs: str, texts: Texts) -> str:
    digests = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    data = json.dumps([lock_path, head_commit(), theirs, *digests]).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def drivers_to_come(paths: list[str], sides: Sides, consumer: str) -> list[str]:
    """The paths git will hand to the same driver as `consumer` (not `consumer` itself):
    three different versions, and the same `merge` attribute."""
    ids = [blob_ids(rev, paths) for rev in (sides.base, "HEAD", sides.theirs)]
    attributes = merge_attributes([consumer, *paths])
    ours_driver = attributes.get(consumer)
    out = []
    for path in paths:
        versions = [side.get(path) for side in ids]
        if path == consumer or versions[1] is None or versions[2] is None:
            continue
        if len(set(versions)) == 3 and attributes.get(path) == ours_driver:
            out.append(path)
    return out


def _prune(folder: Path) -> None:
    """Drop entries older than a day: a merge that never finished."""
    now = time.time()
    for entry in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > MAX_AGE_SECONDS:
                entry.unlink()


def _take(entry: Path, consumer: str) -> Outcome | None:
    """The stored outcome, with `consumer` crossed off (the file goes with the last)."""
    from audit.core.fs import atomic_write_text

    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    waiting = [p for p in data.get("waiting", []) if p != consumer]
    if waiting:
        atomic_write_text(entry, json.dumps({**data, "waiting": waiting}, sort_keys=True))
    else:
        _remove(entry)
    document = data.get("lock")
    if document is not None:
        from audit.merge.threeway import parse_lock

        document = parse_lock(document, str(entry.name))
    return Outcome(MergeResult.from_json(data["result"]), document)


def _remove(entry: Path) -> None:
    with contextlib.suppress(OSError):
        entry.unlink()
    _drop_if_empty(entry.parent)


def _drop_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # refuses a folder that still holds entries


def _keep(entry: Path, outcome: Outcome, waiting: list[str]) -> None:
    from audit.core.fs import atomic_write_text
    from audit.lockfile.condalock import dump_lockfile

    assert outcome.document is not None
    entry.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "result": outcome.result.to_json(),
        "lock": dump_lockfile(outcome.document, "conda-lock.yml"),
        "waiting": sorted(waiting),
    }
    atomic_write_text(entry, json.dumps(data, sort_keys=True))


def shared_merge(
    texts: Texts, lock_path: str, consumer: str, compute: Callable[[], Outcome]
) -> Outcome:
    """The merge of `texts` (base, ours, theirs of `lock_path`) for driver `consumer`:
    the stored one if an earlier driver of this `git merge` re-solved, else `compute()`."""
    sides = current_sides()
    folder = git_path(FOLDER) if sides is not None else None
    if sides is None or folder is None:
        return compute()  # not run by git (merge, rebase, cherry-pick): nothing to share
    if folder.is_dir():
        _prune(folder)
        _drop_if_empty(folder)
    entry = folder / f"{_key(lock_path, sides.theirs, texts)}.json"
    if entry.exists():
        stored = _take(entry, consumer)
        if stored is not None:
            return stored
    outcome = compute()
    if outcome.result.status == "resolved" and outcome.document is not None:
        platforms = outcome.document["metadata"].get("platforms") or []
        candidates = [lock_path, *explicit_paths(lock_path, platforms)]
        waiting = drivers_to_come(candidates, sides, consumer)
        if waiting:
            _keep(entry, outcome, waiting)
    _drop_if_empty(folder)
    return outcome
