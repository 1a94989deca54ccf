"""Messages a user reads: no Python `None`, no "0 days old; allows 0", no deleted temp paths."""

from __future__ import annotations

from pathlib import Path

from audit.artifacts import Artifact
from audit.check.policy import age_text
from audit.verify.rebuild import _without_record
from audit.verify.static import _gone
from audit.verify.verdict import Problem


def test_problem_line_never_says_none() -> None:
    only_expected = Problem("artifact", "six", "u", "mismatch", "sha256 mismatch", expected="ab")
    assert "None" not in only_expected.line() and "(expected ab)" in only_expected.line()
    both = Problem("artifact", "six", "u", "mismatch", "x", expected="ab", got="cd")
    assert "(expected ab, got cd)" in both.line()


def test_lock_age_is_readable_below_a_day() -> None:
    assert age_text(0.3) == "7 hours"
    assert age_text(0.0001) == "1 minute"
    assert age_text(1.5) == "1.5 days" and age_text(120) == "120 days" and age_text(1) == "1 day"


def test_fresh_lock_against_zero_day_policy(tmp_path: Path) -> None:
    import os
    import time

    from audit.check.policy import Policy, _age
    from audit.check.rules.conda import CondaProject

    lock = tmp_path / "conda-lock.yml"
    lock.write_text("version: 1\n")
    old = time.time() - 5 * 3600
    os.utime(lock, (old, old))
    policy = Policy(file="repro-audit.toml", max_lock_age_days=0)
    (found,) = _age(policy, tmp_path, CondaProject(tmp_path, lock_path=lock))
    assert found.message.startswith("the lock is 5 hours old; policy allows 0 days"), found.message


def test_wheels_are_gone_from_an_index_not_a_channel() -> None:
    wheel = Artifact("six", "1.16.0", "linux-64", "u", "0" * 64, "six-1.16.0-py2.py3-none-any.whl")
    conda = Artifact("six", "1.16.0", "noarch", "u", "0" * 64, "six-1.16.0-pyh_0.conda")
    assert _gone(wheel) == "gone from its package index"
    assert _gone(conda) == "gone from its channel"


def test_rebuild_does_not_announce_its_discarded_record() -> None:
    said: list[tuple[str, str]] = []
    forward = _without_record(lambda phase, message: said.append((phase, message)))
    forward("record", "wrote /tmp/repro-audit-rebuild-x/build-record.json")
    forward("building", "step 1")
    assert said == [("building", "step 1")]
