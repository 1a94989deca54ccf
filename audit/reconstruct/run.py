"""`reconstruct git:REV[:path]`: the lock an old, unlocked environment.yml would have had.

The environment file as committed at REV is solved as of the commit's date (`lock
--as-of`), with exactly `lock`'s parse, solver and lock document, and written to a path
the user names — never over a tracked file or the working tree's lock. What differs
from today's lock (when there is one) is listed, then → today.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.core.asof import format_instant
from audit.core.errors import EXIT_OK, InputError, ReproAuditError
from audit.reconstruct.gitrev import Revision, is_tracked, read_revision

#: custom_metadata key naming the revision a reconstructed lock comes from.
FROM_KEY = "repro-audit-reconstructed-from"


@dataclass
class ReconstructOptions:
    source: str  # git:REV[:path]
    output: Path
    against: Path | None = None  # today's lock; default: conda-lock.yml beside the file
    platforms: list[str] = field(default_factory=list)
    undated: str = "exclude"
    as_of: datetime | None = None  # overrides the commit date
    pypi_index_url: str | None = None
    cache_dir: Path | None = None


@dataclass
class ReconstructResult:
    source: str
    revision: str
    path: str
    as_of: str
    output: Path
    against: Path | None
    counts: dict[str, int]
    changes: list[Any]  # audit.lock.run.PackageChange, reconstructed → today
    as_of_report: dict[str, Any] | None = None
    exit_code: int = EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "revision": self.revision,
            "path": self.path,
            "as_of": self.as_of,
            "output": self.output.as_posix(),
            "against": self.against.as_posix() if self.against else None,
            "counts": dict(sorted(self.counts.items())),
            "changes": [c.to_json() for c in sorted(self.changes)],
            "as_of_report": self.as_of_report,
        }


def default_against(revision: Revision) -> Path:
    """Today's lock of that environment: conda-lock.yml beside the file, in the work tree."""
    return Path(revision.path).parent / "conda-lock.yml"


def refuse_overwrite(output: Path, against: Path | None) -> None:
    """Never write over the working tree's lock, nor over any file git tracks."""
    if against is not None and output.resolve() == against.resolve():
        raise InputError(
            "refusing to write the reconstructed lock over the working tree's lock",
            where=str(output),
            hint="pass another -o PATH",
        )
    if output.exists() and is_tracked(output):
        raise InputError(
            "refusing to write the reconstructed lock over a file git tracks",
            where=str(output),
            hint="pass another -o PATH",
        )


def run_reconstruct(options: ReconstructOptions) -> ReconstructResult:
    """Solve the committed environment file as of its commit date; write it to `output`."""
    from audit.core.platforms import check_platform

    for platform in options.platforms:
        check_platform(platform)
    revision = read_revision(options.source)
    against = options.against or default_against(revision)
    refuse_overwrite(options.output, against)
    when = options.as_of or revision.date
    with tempfile.TemporaryDirectory(prefix="repro-audit-reconstruct-") as tmp:
        env_file = Path(tmp) / Path(revision.path).name
        env_file.write_bytes(revision.data)
        try:
            source_dir = Path(revision.path).parent
            document, solved = _solve(options, env_file, when, source_dir)
        except ReproAuditError as exc:
            raise _relocated(exc, tmp, revision) from None
    meta = document["metadata"]
    meta["sources"] = [f"git:{revision.sha}:{revision.path}"]
    meta["custom_metadata"] = dict(
        sorted({**meta["custom_metadata"], FROM_KEY: meta["sources"][0]}.items())
    )
    from audit.lockfile.condalock import document_entries, read_entries, write_lockfile

    write_lockfile(document, options.output)
    from audit.lock.run import diff_entries

    today = read_entries(against) if against.is_file() else None
    changes = diff_entries(document_entries(document), today) if today is not None else []
    counts = {
        p: sum(1 for e in document_entries(document) if e.platform == p) for p in meta["platforms"]
    }
    return ReconstructResult(
        source=options.source,
        revision=revision.sha,
        path=revision.path,
        as_of=format_instant(when),
        output=options.output,
        against=against if today is not None else None,
        counts=counts,
        changes=changes,
        as_of_report=solved.as_of.to_json() if solved.as_of else None,
    )


def _solve(
    options: ReconstructOptions, env_file: Path, when: datetime, source_dir: Path
) -> tuple[dict, Any]:
    """`lock`'s own parse and solve, as of `when`; nothing written."""
    from audit.lock.asof import AsOf
    from audit.lock.run import LockOptions, options_digest, parse_inputs, solve_document

    lock_options = LockOptions(
        files=[env_file],
        platforms=list(options.platforms),
        lockfile=options.output,
        explicit=False,
        pypi_index_url=options.pypi_index_url,
        cache_dir=options.cache_dir,
        as_of=AsOf(when, options.undated),
        # relative channel paths resolve where the file lives in the working tree
        channel_base_dir=(Path.cwd() / source_dir).resolve(),
    )
    digest = options_digest(lock_options)
    spec, virtual, hashes = parse_inputs(lock_options, digest)
    solved = solve_document(lock_options, spec, virtual, hashes, digest)
    return solved.document, solved


def _relocated(exc: ReproAuditError, tmp: str, revision: Revision) -> ReproAuditError:
    """The same error, naming `git:REV:path` instead of the temporary copy."""
    name = f"git:{revision.sha[:12]}:{revision.path}"
    prefixes = (os.path.join(tmp, Path(revision.path).name), os.path.realpath(tmp))

    def fix(text: str | None) -> str | None:
        if text is None:
            return None
        for prefix in prefixes:
            text = text.replace(prefix, name)
        return text

    exc.where = fix(exc.where)
    exc.message = fix(exc.message) or exc.message
    return exc
