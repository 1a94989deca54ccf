"""`repro-audit merge-lock %O %A %B %P`: git's merge driver for conda-lock.yml.

Exit codes follow git's contract for drivers (0 merged; anything else leaves a
conflict) and ours: 1 a conflict the driver could not resolve, 2 bad input (conflict
markers in a lock, a file that is not a lock, a merged environment.yml that still has
conflicts). On any non-zero exit %A is left exactly as it was: no conflict markers are
ever written into YAML.
"""

from __future__ import annotations

from pathlib import Path

from audit.core.errors import InputError
from audit.merge.envmerge import EnvMerge, merge_environment
from audit.merge.memo import Texts, shared_merge
from audit.merge.outcome import MergeResult, Outcome
from audit.merge.threeway import Merged, merge_documents, parse_lock

__all__ = ["MergeResult", "merge_lock", "merged_lock", "write_merged_lock"]


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the {label} lock: {exc.strerror}", where=str(path)) from None


def merge_lock(base: Path, ours: Path, theirs: Path, path: str) -> MergeResult:
    """Merge `theirs` into `ours` (rewritten in place only on success)."""
    texts = (_read(base, "base"), _read(ours, "ours"), _read(theirs, "theirs"))
    return write_merged_lock(texts, ours, path)


def write_merged_lock(texts: Texts, ours: Path, path: str) -> MergeResult:
    """Merge the three versions of the lock at `path` into `ours` (only on success)."""
    from audit.core.fs import atomic_write_text
    from audit.lockfile.condalock import dump_lockfile

    outcome = merged_lock(texts, path, consumer=path)
    if outcome.document is not None:
        atomic_write_text(ours, dump_lockfile(outcome.document, Path(path).name))
    return outcome.result


def merged_lock(texts: Texts, path: str, consumer: str) -> Outcome:
    """The merge of the lock at `path` (base, ours, theirs), the same for every driver
    of one `git merge` (`consumer`: the file the calling driver merges)."""
    return shared_merge(texts, path, consumer, lambda: _merge_texts(texts, path))


def _merge_texts(texts: Texts, path: str) -> Outcome:
    """Per package, re-solved where that is not enough; document None: a conflict."""
    docs = [
        parse_lock(text, f"{path} ({label})")
        for text, label in zip(texts, ("base", "ours", "theirs"), strict=True)
    ]
    merged = merge_documents(*docs)
    env = merge_environment(path, list(docs[1]["metadata"].get("sources") or []))
    if env is not None and env.merged is None:
        raise InputError(
            f"{env.path} still has conflicts after merging it: resolve it, then run "
            "`repro-audit lock`",
            where=path,
        )
    reasons = _why_resolve(merged, env)
    result = MergeResult(path=path, status="merged", taken=_taken(merged))
    result.conflicts = [f"{p} {m} {n}" for p, m, n in merged.conflicts]
    document = _choose_metadata(merged, env, docs)
    if reasons:
        if env is None:
            result.status, result.reasons = "conflict", reasons
            result.reasons.append("the merged environment file is unknown: cannot re-solve")
            return Outcome(result, None)
        from audit.merge.resolve import preferences, resolve

        locked = preferences(document, docs[1], docs[2], merged.conflicts)
        document = resolve(env.merged or b"", env.path, path, document, locked)
        result.status, result.reasons = "resolved", reasons
    return Outcome(result, document)


def _why_resolve(merged: Merged, env: EnvMerge | None) -> list[str]:
    """Why a per-package merge is not enough (empty: it is)."""
    reasons = [f"both sides changed {p} {m} {n}" for p, m, n in merged.conflicts]
    if env is not None and env.both_edited:
        reasons.append(f"both sides edited {env.path}")
    elif merged.meta_conflicts and env is None:
        reasons.append(f"both sides changed metadata: {', '.join(merged.meta_conflicts)}")
    if reasons:
        return reasons
    from audit.merge.resolve import merged_records, unmet_specs, unsatisfied

    records = merged_records(merged.document)
    if records is None:
        return []  # rattler cannot read the merged lock: merged as text, nothing to check
    unmet = [f"merged packages disagree: {p}" for p in unsatisfied(merged.document, records)]
    if not unmet and env is not None and env.merged is not None:
        unmet = [
            f"the merged {env.path} asks otherwise: {p}"
            for p in unmet_specs(merged.document, env.merged, env.path, records)
        ]
    return unmet[:5]


def _choose_metadata(merged: Merged, env: EnvMerge | None, docs: list[dict]) -> dict:
    """Metadata conflicts go to the side whose environment file the merge keeps."""
    document = merged.document
    if not merged.meta_conflicts or env is None or env.both_edited:
        return document
    side = docs[1] if env.merged == env.ours else docs[2]
    document["metadata"] = {
        **document["metadata"],
        **{
            k: side["metadata"][k]
            for k in ("content_hash", "custom_metadata")
            if k in side["metadata"]
        },
    }
    return document


def _taken(merged: Merged) -> dict[str, int]:
    out: dict[str, int] = {}
    for side in merged.taken.values():
        out[side] = out.get(side, 0) + 1
    return out
