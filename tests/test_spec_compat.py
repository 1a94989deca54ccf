"""The parser against real-world inputs and random ones: only our clear errors come out.

Real inputs: conda-lock's own environment.yml fixtures and real conda-lock.yml files in
../shared/data (skipped with a reason where that folder is absent).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.errors import InputError
from audit.envfile.spec import load_spec
from audit.lockfile.condalock import document_entries, read_entries, read_metadata

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ENVS = sorted((SHARED / "envs-conda-lock").rglob("*.y*ml")) if SHARED.exists() else []
LOCKS = sorted((SHARED / "lockfiles" / "conda-lock").rglob("*.y*ml")) if SHARED.exists() else []
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present")

# Files in the corpus that are not environment files (virtual package specs, lookups, ...)
NOT_ENVIRONMENTS = ("virtual-packages", "lookup", "meta.yaml", "default-virtual-packages")


def _environment_files() -> list[Path]:
    return [p for p in ENVS if not any(part in str(p) for part in NOT_ENVIRONMENTS)]


@needs_shared
@pytest.mark.parametrize("path", _environment_files(), ids=lambda p: str(p.relative_to(SHARED)))
def test_corpus_environment_parses_or_fails_clearly(path: Path) -> None:
    try:
        spec = load_spec([path])
    except InputError as exc:
        line = exc.one_line()
        assert "\n" not in line and str(path) in line
        return
    assert spec.platforms
    for platform in spec.platforms:
        # every conda spec must be something rattler parses
        from rattler import MatchSpec

        for text in spec.conda_specs[platform]:
            if "::" not in text:
                MatchSpec(text)


@needs_shared
def test_corpus_mostly_parses() -> None:
    """The parser is useful on real files, not only clear in refusing them."""
    ok = 0
    for path in _environment_files():
        try:
            load_spec([path])
            ok += 1
        except InputError:
            pass
    assert ok >= len(_environment_files()) * 0.7, ok


@needs_shared
@pytest.mark.parametrize("path", LOCKS, ids=lambda p: str(p.relative_to(SHARED)))
def test_corpus_lockfile_reads(path: Path) -> None:
    import yaml

    data = yaml.safe_load(path.read_text())
    meta = read_metadata(path)
    assert meta is not None
    entries = read_entries(path)
    assert len(entries) == len({(p["platform"], p["manager"], p["name"]) for p in data["package"]})
    # the line scanner reads exactly what a YAML load reads
    assert entries == document_entries(data)
    assert set(meta.platforms) >= {e.platform for e in entries}


# --------------------------------------------------------------------------- properties

BASE = """\
name: prop
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python 3.11.*
  - numpy >=1.26  # [linux]
  - six
  - pip
  - pip:
      - requests >=2
platforms:
  - linux-64
"""

_yaml_chars = st.sampled_from(list(":-#[]{}&*!|>'\"%@`, \n\t?~=<.^$\\"))
_yaml_chunks = st.sampled_from(
    ["  ", "\n  - ", "\n  - pip:\n      - ", "# [win]", "::", "*", "&a "]
)


def _mutate(text: str, data: st.DataObject) -> str:
    pos = data.draw(st.integers(0, len(text)))
    action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    chunk = data.draw(
        _yaml_chunks | st.text(_yaml_chars | st.characters(codec="utf-8"), max_size=6)
    )
    if action == "insert":
        return text[:pos] + chunk + text[pos:]
    end = min(len(text), pos + data.draw(st.integers(1, 12)))
    return text[:pos] + (chunk if action == "replace" else "") + text[end:]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_environment_only_clear_errors(tmp_path: Path, data: st.DataObject) -> None:
    text = BASE
    for _ in range(data.draw(st.integers(1, 4))):
        text = _mutate(text, data)
    path = tmp_path / "environment.yml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec([path])
    except InputError as exc:
        assert "\n" not in exc.one_line()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=300))
def test_random_text_only_clear_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec([path])
    except InputError as exc:
        assert "\n" not in exc.one_line()
