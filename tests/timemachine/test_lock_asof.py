"""`lock --as-of DATE`: the real solver, as the fixture channel stood at several dates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tm_helpers import custom_metadata, env_text, run, versions

DEPS = ["python", "numpy", "six", "tzdata"]


@pytest.fixture
def project(tmp_path: Path, dated_channel: Path) -> Path:
    (tmp_path / "environment.yml").write_text(env_text(dated_channel.as_uri(), DEPS))
    return tmp_path


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # today: the releases of 2025
        (None, {"numpy": "2.1.0", "six": "1.17.0", "tzdata": "2025a", "python": "3.12.4"}),
        # numpy 2.0.0 (2024-06-17) not yet out, python 3.12.4 (2024-06-06) just out
        ("2024-06-10", {"numpy": "1.26.4", "six": "1.16.0", "tzdata": "2024a", "python": "3.12.4"}),
        # before python 3.12.4 and numpy 1.26.4 build 1
        ("2024-05-01T12:00:00Z", {"numpy": "1.26.4", "python": "3.11.9"}),
        ("2025-01-10", {"numpy": "2.0.0", "six": "1.17.0", "tzdata": "2024a"}),
    ],
)
def test_as_of_picks_what_the_channel_had_then(
    project: Path, as_of: str | None, expected: dict[str, str]
) -> None:
    result = run(["lock", *(["--as-of", as_of] if as_of else [])], project)
    assert result.returncode == 0, result.stderr
    got = versions(project / "conda-lock.yml")
    assert {k: got[k] for k in expected} == expected


def test_as_of_lands_in_metadata_and_digest(project: Path) -> None:
    assert run(["lock", "--as-of", "2024-06-10"], project).returncode == 0
    lock = project / "conda-lock.yml"
    meta = custom_metadata(lock)
    assert meta["repro-audit-as-of"] == "2024-06-10T00:00:00Z"
    assert meta["repro-audit-undated-policy"] == "exclude"
    first = lock.read_bytes()
    again = run(["lock", "--as-of", "2024-06-10"], project)
    assert "is current" in again.stderr and lock.read_bytes() == first
    # another date is another input: the lock is stale for `--check` and re-solved by `lock`
    check = run(["lock", "--check", "--as-of", "2024-05-01"], project)
    assert check.returncode == 1 and "locked as of 2024-06-10T00:00:00Z" in check.stderr
    assert run(["lock", "--check"], project).returncode == 1  # today is another date too
    moved = run(["lock", "--as-of", "2024-05-01"], project)
    assert moved.returncode == 0, moved.stderr
    assert custom_metadata(lock)["repro-audit-as-of"] == "2024-05-01T00:00:00Z"
    assert custom_metadata(lock)["repro-audit-input-digest"] != meta["repro-audit-input-digest"]
    assert "python" in moved.stderr and "3.11.9" in moved.stderr


def test_as_of_is_deterministic_across_directories(tmp_path: Path, dated_channel: Path) -> None:
    texts = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        (d / "environment.yml").write_text(env_text(dated_channel.as_uri(), DEPS))
        assert run(["lock", "--as-of", "2024-06-10T00:00:00+00:00"], d).returncode == 0
        texts.append((d / "conda-lock.yml").read_bytes())
    assert texts[0] == texts[1]
    assert str(tmp_path).encode() not in texts[0]


def test_undated_records_counted_and_policy_decides(tmp_path: Path, dated_channel: Path) -> None:
    env = env_text(dated_channel.as_uri(), ["legacy-data"])
    (tmp_path / "environment.yml").write_text(env)
    # only legacy-data 1.0.0 (undated) existed before 2024-09-01: excluded by default
    refused = run(["lock", "--as-of", "2024-06-01"], tmp_path)
    assert refused.returncode == 2
    assert "before every record of channel" in refused.stderr
    assert "(earliest 2024-09-01T00:00:00Z)" in refused.stderr
    assert not (tmp_path / "conda-lock.yml").exists()
    # a spec only an undated record satisfies, later on: the solver says why
    (tmp_path / "environment.yml").write_text(env.replace("legacy-data", "legacy-data <2"))
    refused = run(["lock", "--as-of", "2024-10-01"], tmp_path)
    assert refused.returncode == 2
    assert "no timestamp" in refused.stderr and "as of 2024-10-01T00:00:00Z" in refused.stderr
    (tmp_path / "environment.yml").write_text(env)
    assert not (tmp_path / "conda-lock.yml").exists()
    allowed = run(["lock", "--as-of", "2024-06-01", "--undated", "allow", "--json"], tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    report = json.loads(allowed.stdout)["as_of"]
    assert report["undated"] == {"linux-64": 1}
    assert report["newer"] == {"linux-64": 1}  # legacy-data 2.0.0
    assert report["undated_selected"] == {"linux-64": ["legacy-data 1.0.0"]}
    assert versions(tmp_path / "conda-lock.yml") == {"legacy-data": "1.0.0"}
    assert custom_metadata(tmp_path / "conda-lock.yml")["repro-audit-undated-policy"] == "allow"
    # without --as-of, undated records are ordinary candidates: the newest wins
    assert run(["lock"], tmp_path).returncode == 0
    assert versions(tmp_path / "conda-lock.yml") == {"legacy-data": "2.0.0"}


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("not-a-date", "--as-of 'not-a-date': not an ISO date or datetime"),
        ("2024-02-30", "not an ISO date"),
        ("2999-01-01", "--as-of 2999-01-01T00:00:00Z is in the future"),
        ("2019-06-01", "is before every record of channel"),
    ],
)
def test_bad_dates_are_one_line_exit_2(project: Path, as_of: str, message: str) -> None:
    result = run(["lock", "--as-of", as_of], project)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (project / "conda-lock.yml").exists()


def test_unknown_undated_policy_is_bad_input(project: Path) -> None:
    result = run(["lock", "--as-of", "2024-06-10", "--undated", "maybe"], project)
    assert result.returncode == 2 and "--undated must be one of exclude, allow" in result.stderr
