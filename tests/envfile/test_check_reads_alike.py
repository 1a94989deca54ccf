"""`check` reads environment files as `lock` does: the same spec forms, duplicates, pip
sections; local pip sources are flagged (RA019) at their line."""

from __future__ import annotations

import json
from pathlib import Path

from test_lock import run


def _check(root: Path) -> tuple[int, list[dict]]:
    result = run(["check", ".", "--format", "json"], root)
    data = json.loads(result.stdout)
    return result.returncode, data["findings"]


def test_check_agrees_with_lock_and_flags_local_pip(tmp_path: Path, channel_url: str) -> None:
    (tmp_path / "environment.yml").write_text(
        f"channels:\n  - {channel_url}\ndependencies:\n"
        "  - python=3.11.9=h9f0c242_0_cpython\n"
        "  - libzlib[version='>=1.2,<1.3', build_number=0]\n"
        "  - six >=1.15\n"
        "  - six 1.15.*\n"
        "  - sel(linux): tzdata=2024a\n"
        "  - pip:\n"
        "    - -e .\n"
        "platforms:\n  - linux-64\n"
    )
    locked = run(["lock"], tmp_path)
    assert locked.returncode == 0, locked.stderr
    code, findings = _check(tmp_path)
    assert [(f["rule_id"], f["file"], f["line"]) for f in findings] == [
        ("RA019", "environment.yml", 10)
    ], findings
    assert code == 1
    assert "-e ." in findings[0]["message"]


def test_check_sees_a_duplicate_constraint_the_lock_breaks(
    tmp_path: Path, channel_url: str
) -> None:
    env = tmp_path / "environment.yml"
    env.write_text(
        f"channels:\n  - {channel_url}\ndependencies:\n  - six >=1.15\n  - six 1.15.*\n"
        "platforms:\n  - linux-64\n"
    )
    assert run(["lock"], tmp_path).returncode == 0
    lock = tmp_path / "conda-lock.yml"
    text = lock.read_text()
    assert "version: 1.15.0" in text
    lock.write_text(text.replace("version: 1.15.0", "version: 1.16.0"))
    code, findings = _check(tmp_path)
    unmet = [(f["rule_id"], f["line"]) for f in findings if f["rule_id"] == "RA006"]
    assert unmet == [("RA006", 5)], findings  # `six 1.15.*` (line 5), not `six >=1.15`
    assert code == 1
