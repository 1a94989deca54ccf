"""`reconstruct git:REV[:path]` on a real git repository with dated commits, real solver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tm_helpers import custom_metadata, env_text, git, run, versions


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, dated_channel: Path) -> Path:
    """environment.yml edited on three dated commits, then locked today (2025 releases).

    Shared by the module: every test writes only outside it and checks it stays clean.
    """
    root = tmp_path_factory.mktemp("reconstruct") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".cache/\n")
    git(root, "add", ".gitignore")
    channel = dated_channel.as_uri()
    history = [
        ("2024-03-01T09:00:00+00:00", ["python 3.11.*", "numpy", "six"], "start"),
        ("2024-06-20T09:00:00+00:00", ["python", "numpy", "six"], "python any"),
        ("2024-07-01T09:00:00+00:00", ["python", "numpy", "six", "tzdata"], "add tzdata"),
    ]
    for date, deps, message in history:
        (root / "environment.yml").write_text(env_text(channel, deps))
        git(root, "add", "environment.yml")
        git(root, "commit", "-q", "-m", message, date=date)
    assert run(["lock"], root).returncode == 0
    git(root, "add", "conda-lock.yml", "conda-linux-64.lock")
    git(root, "commit", "-q", "-m", "lock", date="2025-03-01T09:00:00+00:00")
    return root


def test_reconstruct_solves_as_of_the_commit_date(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "then.yml"
    result = run(["reconstruct", "git:HEAD~2", "-o", str(out)], repo)
    assert result.returncode == 0, result.stderr
    # 2024-06-20: numpy 2.0.0 (06-17) and python 3.12.4 (06-06) were out, six 1.17 was not
    assert versions(out) == {
        "libzlib": "1.3.1",
        "numpy": "2.0.0",
        "python": "3.12.4",
        "python_abi": "3.12",
        "six": "1.16.0",
    }
    meta = custom_metadata(out)
    sha = git(repo, "rev-parse", "HEAD~2").strip()
    assert meta["repro-audit-as-of"] == "2024-06-20T09:00:00Z"
    assert meta["repro-audit-reconstructed-from"] == f"git:{sha}:environment.yml"
    assert str(tmp_path) not in out.read_text()
    # then → today: what moved since, against the working tree's lock
    assert "difference(s), then → today (conda-lock.yml)" in result.stderr
    assert "numpy    2.0.0-py312h22e1c76_0  2.1.0-py312h58c1407_0" in result.stderr
    # the working tree is untouched
    assert git(repo, "status", "--porcelain") == ""


def test_reconstruct_json_and_older_commit(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "march.yml"
    result = run(
        [
            "reconstruct",
            "git:HEAD~3:environment.yml",
            "-o",
            str(out),
            "--as-of",
            "2024-04-05",
            "--json",
        ],
        repo,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "repro-audit/reconstruct" and data["as_of"] == "2024-04-05T00:00:00Z"
    assert versions(out)["python"] == "3.11.9" and versions(out)["numpy"] == "1.26.4"
    changed = {c["name"]: (c["old"], c["new"]) for c in data["changes"]}
    assert changed["python"] == ("3.11.9-h9f0c242_0_cpython", "3.12.4-h194c7f8_0_cpython")
    assert "tzdata" in changed and changed["tzdata"][0] is None  # added since


def test_reconstruct_is_deterministic(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = tmp_path / "a" / "then.yml", tmp_path / "b" / "then.yml"
    assert run(["reconstruct", "git:HEAD~1", "-o", str(a)], repo).returncode == 0
    assert run(["reconstruct", "git:HEAD~1", "-o", str(b)], repo).returncode == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("source", "output", "message"),
    [
        ("git:no-such-rev", "x.yml", "git:no-such-rev: unknown revision 'no-such-rev'"),
        ("git:HEAD~1:env/other.yml", "x.yml", "env/other.yml does not exist at revision HEAD~1"),
        ("HEAD~1", "x.yml", "expected git:REV or git:REV:path"),
        ("git:HEAD~1", "conda-lock.yml", "refusing to write the reconstructed lock over the"),
        ("git:HEAD~1", "environment.yml", "over a file git tracks"),
        # 2024-03-01: python 3.11.9 (2024-04-02) was not out yet: the date says why
        ("git:HEAD~3", "x.yml", "as of 2024-03-01T09:00:00Z: cannot solve on linux-64"),
    ],
)
def test_bad_input_one_line_exit_2(repo: Path, source: str, output: str, message: str) -> None:
    before = {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()}
    result = run(["reconstruct", source, "-o", output], repo)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "repro-audit-reconstruct-" not in result.stderr  # no temporary path
    after = {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()}
    assert after == before


def test_not_a_repository(tmp_path: Path) -> None:
    result = run(["reconstruct", "git:HEAD", "-o", "x.yml"], tmp_path)
    assert result.returncode == 2 and "not inside a git repository" in result.stderr


def test_verify_lock_against_lock_and_record_kinds(repo: Path, tmp_path: Path) -> None:
    then = tmp_path / "then.yml"
    assert run(["reconstruct", "git:HEAD~1", "-o", str(then)], repo).returncode == 0
    same = run(["verify", str(then), "--lock", str(then)], repo)
    assert same.returncode == 0 and same.stdout.startswith("REPRODUCED")
    drifted = run(["verify", "conda-lock.yml", "--lock", str(then), "--json"], repo)
    assert drifted.returncode == 1
    data = json.loads(drifted.stdout)
    assert data["verdict"] == "DRIFTED"
    assert data["summary"]["downgraded"] == 3 and data["summary"]["rebuilt"] == 1


def test_drift_upstream_as_of(repo: Path) -> None:
    args = ["drift", ".", "--no-history", "--no-images", "--format", "json"]
    today = json.loads(run(args, repo).stdout)
    assert today["summary"]["findings"] == 0  # the lock is today's solve
    then = run([*args, "--as-of", "2024-07-01"], repo)
    assert then.returncode == 1, then.stderr
    findings = next(s for s in json.loads(then.stdout)["sections"] if s["name"] == "upstream")
    kinds = {(f["subject"], f["kind"]) for f in findings["findings"]}
    assert ("numpy", "downgraded") in kinds and ("six", "downgraded") in kinds
