"""Files `check` cannot read are findings, said as what they are; names that are not
files (a folder, a FIFO) are passed over without hanging."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support.cli import repro_audit


def _findings(root: Path) -> list[tuple[str, str, str]]:
    done = repro_audit("check", ".", "--format", "json", cwd=root, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == done.returncode
    return [(f["rule_id"], f["file"], f["message"]) for f in report["findings"]]


def test_a_dangling_symlink_is_a_finding_in_git_and_outside(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").symlink_to("docker/gone")
    (tmp_path / "environment.yml").symlink_to("../envs/gone.yml")
    want = {
        ("RA038", "Dockerfile", "a symbolic link to 'docker/gone', which does not exist"),
        ("RA037", "environment.yml", "a symbolic link to '../envs/gone.yml', which does not exist"),
    }
    assert want <= set(_findings(tmp_path))  # a walk, outside git
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert want <= set(_findings(tmp_path))  # git ls-files lists the links


def test_a_folder_or_a_fifo_of_a_dockerfiles_name_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").mkdir()
    os.mkfifo(tmp_path / "worker.Dockerfile")  # reading it would block for ever
    (tmp_path / "api.Dockerfile").write_text("FROM python:3.11\n", encoding="utf-8")
    assert [(r, f) for r, f, _ in _findings(tmp_path)] == [("RA011", "api.Dockerfile")]
