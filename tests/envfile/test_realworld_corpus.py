"""The real-world environment files (../shared/data/real-world/envs) all reach the solver.

Each file is locked against empty local channels (one per channel it names, so
`channel::pkg` binds locally and nothing touches the network): a file conda accepts must
get as far as the solver's "No candidates were found for …" (exit 2); a file that is
genuinely invalid must fail with file:line. conda-lock's own fixture corpus is covered by
tests/test_spec_compat.py and tests/check/test_check_compat.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from audit.core.errors import ReproAuditError
from audit.lock.run import LockOptions, run_lock

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ENVS = DATA / "real-world" / "envs"
#: Files that are invalid as published, with the reason (must fail with file:line).
GENUINELY_INVALID = {
    # `-r another-project-requirements.txt`: the file is not part of the published example
    "10-conda-conda-environment.yml": "pip requirements file 'another-project-requirements.txt'",
}


def _files() -> list[Path]:
    return sorted(ENVS.glob("[0-9][0-9]-*")) if ENVS.is_dir() else []


def _empty_channels(path: Path, root: Path) -> list[str]:
    """An empty local channel for every channel the file names (listed or `chan::`)."""
    text = path.read_text(encoding="utf-8")
    names = {"defaults"}
    doc = yaml.safe_load(text) or {}
    names.update(str(c).strip() for c in doc.get("channels") or [])
    names.update(re.findall(r"([A-Za-z0-9_./-]+)::", text))
    names.discard("nodefaults")
    out = []
    for name in sorted(names):
        local = root / re.sub(r"^[a-z]+://[^/]+/", "", name)
        (local / "noarch").mkdir(parents=True, exist_ok=True)
        empty = {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}}
        (local / "noarch" / "repodata.json").write_text(json.dumps(empty))
        out.append(str(local))
    return out


def _outcome(path: Path, tmp: Path) -> str:
    options = LockOptions(
        files=[path],
        lockfile=tmp / "conda-lock.yml",
        channels=_empty_channels(path, tmp / "channels"),
        cache_dir=tmp / "cache",
    )
    try:
        run_lock(options)
    except ReproAuditError as exc:
        assert exc.exit_code == 2, exc.one_line()
        return exc.one_line()
    raise AssertionError("locking against empty channels cannot succeed")


@pytest.mark.skipif(not ENVS.is_dir(), reason=f"{ENVS} is absent (shared data not mounted)")
@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
def test_real_world_file_reaches_the_solver(path: Path, tmp_path: Path) -> None:
    line = _outcome(path, tmp_path)
    assert "\n" not in line
    if path.name in GENUINELY_INVALID:
        assert re.match(rf"{re.escape(str(path))}:\d+: ", line), line
        assert GENUINELY_INVALID[path.name] in line
        return
    assert "No candidates were found for" in line, line
    assert not (tmp_path / "conda-lock.yml").exists()


@pytest.mark.skipif(not ENVS.is_dir(), reason=f"{ENVS} is absent (shared data not mounted)")
def test_corpus_is_complete() -> None:
    """The corpus is what SOURCES.md lists (a missing file must not pass silently)."""
    assert len(_files()) == 40
    assert set(GENUINELY_INVALID) <= {p.name for p in _files()}


@pytest.mark.skipif(not ENVS.is_dir(), reason=f"{ENVS} is absent (shared data not mounted)")
@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
def test_check_reads_every_real_world_file(path: Path) -> None:
    """`check` reads the same files with the same reader (no solve): same verdicts."""
    from audit.core.errors import InputError
    from audit.core.platforms import KNOWN_PLATFORMS
    from audit.envfile.lines import read_envfiles

    try:
        env = read_envfiles([path], [path.name], KNOWN_PLATFORMS)
    except InputError as exc:
        assert path.name in GENUINELY_INVALID, exc.one_line()
        assert re.match(rf"{re.escape(path.name)}:\d+: ", exc.one_line())
        return
    assert path.name not in GENUINELY_INVALID
    assert any(env.conda[p] for p in env.conda)
