"""The record to verify: a path, or `git:REV[:path]` extracted from git."""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from audit.core.errors import InputError
from audit.core.git import GitRepo
from audit.verify.inputs import RECORD_NAME


@contextlib.contextmanager
def materialize_record(spec: str) -> Iterator[Path]:
    """A record path for `spec`: a file, or `git:REV[:path]` extracted with `git archive`.

    At a revision the whole tree is extracted (the lock, the pinned Dockerfile and the
    build context as committed), so the record's relative paths resolve as they did.
    """
    if not spec.startswith("git:"):
        path = Path(spec)
        if path.is_dir():
            path = path / RECORD_NAME
        if not path.is_file():
            raise InputError("no such build record", where=str(path))
        yield path
        return
    rev, _, inner = spec[len("git:") :].partition(":")
    if not rev:
        raise InputError(f"expected git:REV or git:REV:path, got {spec!r}")
    inner = inner or RECORD_NAME
    try:
        repo = GitRepo(Path.cwd())
    except InputError:
        raise InputError("not inside a git repository", where=spec) from None
    with repo, tempfile.TemporaryDirectory(prefix="repro-audit-verify-git-") as tmp:
        try:
            data = repo.archive(rev)
        except InputError as exc:
            raise InputError(exc.message, where=spec) from None
        prefix = repo.prefix
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        for candidate in (Path(tmp) / prefix / inner, Path(tmp) / inner):
            if candidate.is_file():
                yield candidate
                return
        raise InputError(f"{inner} does not exist at revision {rev}", where=spec)
