"""Hostile input and interruption, through the real CLI in subprocesses.

Each case runs `python -m audit` as a user would and measures the child (wait4): an
alias bomb, terminal escapes, UTF-16 files and a mistyped build record end with one
`error:` line (file and line), exit 1 or 2, no traceback, well under 200 MB; SIGTERM
ends a real `lock` cleanly; stale temp folders of a killed run are swept, nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.hostile import bomb_lock

from audit.core.tempdirs import sweep_stale

LIMIT_KB = 200 * 1024


def measured(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in KB) of `repro-audit ARGS` in `cwd`."""
    from support.spawner import run_small

    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    code, peak = run_small(
        [sys.executable, "-m", "audit", *args],
        str(cwd),
        {**os.environ, "REPRO_AUDIT_CACHE_DIR": str(cwd / ".cache"), **env},
        str(out_path),
        str(err_path),
    )
    texts = out_path.read_text(), err_path.read_text()
    out_path.unlink()
    err_path.unlink()
    return code, *texts, peak


ENV = "channels: [conda-forge]\ndependencies:\n  - six\nplatforms: [linux-64]\n"


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("args", [["check"], ["lock", "--check"], ["inventory", "conda-lock.yml"]])
def test_alias_bomb_in_conda_lock(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "environment.yml").write_text(ENV)
    (tmp_path / "conda-lock.yml").write_text(bomb_lock())
    code, out, err, rss = measured(args, tmp_path)
    assert code in (1, 2), err
    assert rss < LIMIT_KB, rss
    text = out + err
    assert "alias bomb" in text and "conda-lock.yml:13" in text, text
    assert "Traceback" not in text and "MemoryError" not in text


def test_alias_bomb_in_merge_lock(tmp_path: Path) -> None:
    good = bomb_lock().split("  custom_metadata:")[0] + "package: []\n"
    for name, text in (("base.yml", good), ("ours.yml", good), ("theirs.yml", bomb_lock())):
        (tmp_path / name).write_text(text)
    code, _, err, rss = measured(["merge-lock", "base.yml", "ours.yml", "theirs.yml"], tmp_path)
    assert code == 2 and rss < LIMIT_KB, (code, err)
    assert "(theirs):13" in one_error_line(err) and "alias bomb" in err
    assert (tmp_path / "ours.yml").read_text() == good  # nothing written


def test_recursive_alias_and_deep_nesting(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies: &d\n  - six\n  - *d\n")
    code, _, err, _ = measured(["lock", "--check"], tmp_path)
    assert code == 2 and "environment.yml:1" in one_error_line(err) and "itself" in err
    (tmp_path / "environment.yml").write_text("dependencies:\n  - " + "[" * 500 + "]" * 500)
    code, _, err, _ = measured(["lock", "--check"], tmp_path)
    assert code == 2 and "environment.yml" in one_error_line(err), err


def test_terminal_escapes_are_shown_escaped(tmp_path: Path) -> None:
    spec = '"numpy\\x1b]0;pwned\\x07\\x1b[2J"'
    (tmp_path / "environment.yml").write_text(f"channels: [c]\ndependencies:\n  - {spec}\n")
    (tmp_path / "Dockerfile").write_text("FROM evil\x1b[2J:1\n")
    for args in (["lock", "--check"], ["check"], ["check", "--format", "github"]):
        code, out, err, _ = measured(args, tmp_path)
        assert code in (1, 2), err
        assert "\x1b" not in out + err and "\x07" not in out + err, (out, err)
        assert "\\x1b" in out + err, (out, err)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_environment_is_named_with_its_fix(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "environment.yml").write_bytes(ENV.encode(encoding))
    for args in (["lock", "--check"], ["check"]):
        code, out, err, _ = measured(args, tmp_path)
        assert code in (1, 2), err
        line = next(x for x in (out + err).splitlines() if "UTF-16" in x)
        assert "environment.yml" in line and "Set-Content -Encoding utf8" in line, line


def test_record_with_a_mistyped_field_is_refused(tmp_path: Path) -> None:
    record = {
        "schema": 1,
        "kind": "repro-audit/build-record",
        "inputs": {"lockfile": {"path": "conda-lock.yml", "sha256": "0" * 64}},
        "outputs": {"image_id": "sha256:" + "1" * 64},
        "inventory": 12345,
    }
    (tmp_path / "build-record.json").write_text(json.dumps(record))
    for args in (["verify", "build-record.json"], ["inventory", "build-record.json"]):
        code, _, err, _ = measured(args, tmp_path)
        line = one_error_line(err)
        assert code == 2 and "build-record.json" in line and "inventory:" in line, err


def test_sigterm_ends_lock_cleanly(tmp_path: Path) -> None:
    """A real `lock` stuck on a channel that never answers, sent SIGTERM."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(60)
    port = server.getsockname()[1]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    channel = f"http://127.0.0.1:{port}/stall"
    (tmp_path / "environment.yml").write_text(ENV.replace("conda-forge", channel))
    env = {**os.environ, "TMPDIR": str(scratch), "REPRO_AUDIT_CACHE_DIR": str(tmp_path / "c")}
    process = subprocess.Popen(
        [sys.executable, "-m", "audit", "lock"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        connection, _ = server.accept()  # the solve is now waiting for repodata
        time.sleep(0.5)
        assert any(p.name.startswith("repro-audit-") for p in scratch.iterdir())
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        connection.close()
    finally:
        process.kill()
        server.close()
    assert process.returncode == 143, err
    line = one_error_line(err)
    assert "lock interrupted (SIGTERM)" in line, line
    assert list(scratch.iterdir()) == []  # ours and conda-lock's temp folders removed
    assert not (tmp_path / "conda-lock.yml").exists()  # nothing half-written


def test_stale_temp_folders_are_swept_by_age_only_ours(tmp_path: Path) -> None:
    old = time.time() - 7 * 24 * 3600
    stale = tmp_path / "repro-audit-bk-abc12_xy"
    fresh = tmp_path / "repro-audit-merge-q1w2e3r4"
    user_dir = tmp_path / "repro-audit-notes"  # not a name tempfile makes
    user_file = tmp_path / "repro-audit-pip-zzzzzzzz"  # a file, not a folder
    for folder in (stale, fresh, user_dir):
        folder.mkdir()
        (folder / "inside").write_text("x")
    user_file.write_text("mine")
    for path in (stale / "inside", stale, user_dir / "inside", user_dir, user_file):
        os.utime(path, (old, old))
    assert sweep_stale(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and user_dir.exists() and user_file.exists()


def test_the_next_run_sweeps_a_killed_runs_folder(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    left = scratch / "repro-audit-merge-k1ll3d00"
    left.mkdir()
    old = time.time() - 7 * 24 * 3600
    os.utime(left, (old, old))
    code, _, _, _ = measured(["--version"], tmp_path, TMPDIR=str(scratch))
    assert code == 0 and not left.exists()


def test_relative_cache_dir_is_resolved_at_the_cli(tmp_path: Path, monkeypatch) -> None:
    from typer.main import get_command

    from audit.cli import load_commands

    monkeypatch.chdir(tmp_path)
    command = get_command(load_commands(["build"]))
    build = command.commands["build"]  # type: ignore[attr-defined]
    context = build.make_context("build", ["--cache-dir", "cache"], resilient_parsing=True)
    assert Path(context.params["cache_dir"]) == tmp_path.resolve() / "cache"


def test_a_5000_digit_number_in_the_lock_is_one_line(tmp_path: Path) -> None:
    """Found by the hostile fuzz run: int() refused it with a ValueError traceback."""
    (tmp_path / "environment.yml").write_text(ENV)
    text = bomb_lock().split("  custom_metadata:")[0] + "  n: " + "9" * 5000 + "\npackage: []\n"
    (tmp_path / "conda-lock.yml").write_text(text)
    code, _, err, _ = measured(["lock", "--check"], tmp_path)
    assert code == 2 and "conda-lock.yml" in one_error_line(err) and "digits" in err, err


def test_every_temp_prefix_in_the_code_is_one_the_sweep_knows() -> None:
    """A prefix missing from PREFIXES would leave a killed run's folder forever."""
    import re

    from audit.core.tempdirs import PREFIXES

    package = Path(__file__).resolve().parents[1] / "audit"
    used = {
        match
        for source in package.rglob("*.py")
        for match in re.findall(r"prefix=f?[\"'](repro-audit-[a-z-]+)[\"']", source.read_text())
    }
    assert len(used) >= 10, used  # the scan finds them
    assert used - set(PREFIXES) == set()


def test_a_killed_builds_leftovers_in_the_cache_are_swept_by_age(tmp_path: Path) -> None:
    from audit.core.tempdirs import sweep_stale_cache

    old = time.time() - 7 * 24 * 3600
    stages, bucket = tmp_path / "stages", tmp_path / "wheel-trees" / "ab"
    bucket.mkdir(parents=True)
    stages.mkdir()
    stale_stage, fresh_stage = stages / "stage-k1ll3d00", stages / "stage-l1v3l1v3"
    stale_tar, finished_tar = stages / ".env-k1ll3d00.tar", stages / ("a" * 64 + ".tar")
    stale_tree, finished_tree = bucket / ".tree-k1ll3d00", bucket / ("ab" + "c" * 62)
    for folder in (stale_stage, fresh_stage, stale_tree, finished_tree):
        (folder / "env").mkdir(parents=True)
    for file in (stale_tar, finished_tar):
        file.write_bytes(b"x")
    for path in (stale_stage / "env", stale_stage, stale_tar, finished_tar):
        os.utime(path, (old, old))
    for path in (stale_tree / "env", stale_tree, finished_tree / "env", finished_tree):
        os.utime(path, (old, old))
    removed = sweep_stale_cache(tmp_path)
    assert sorted(removed) == sorted([stale_stage, stale_tar, stale_tree])
    assert fresh_stage.exists() and finished_tar.exists() and finished_tree.exists()


def test_a_lock_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A million junk entries (100 MB) cost check 78 s and 1.4 GB: a lock over the limit is
    one finding, found from its size alone (the file here is sparse: nothing is read)."""
    from audit.core.text import MAX_LOCK_BYTES

    (tmp_path / "environment.yml").write_text(ENV)
    with (tmp_path / "conda-lock.yml").open("w") as handle:
        handle.write("version: 1\nmetadata:\n  platforms: [linux-64]\npackage:\n")
        handle.truncate(MAX_LOCK_BYTES + 1)
    code, out, err, rss = measured(["check", "--format", "json"], tmp_path)
    assert code == 1 and rss < LIMIT_KB, err
    (finding,) = [f for f in json.loads(out)["findings"] if f["rule_id"] == "RA002"]
    assert finding["file"] == "conda-lock.yml"
    assert "over the 64.0 MB limit for this file (is it really a conda-lock.yml?)" in (
        finding["message"]
    )
