"""Which files `check` and `drift` take for Dockerfiles: the names builders and editors use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import repro_audit

from audit.dockerfile.naming import is_dockerfile


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "services/api/Dockerfile",
        "Containerfile",
        "Dockerfile.dev",
        "Dockerfile.in",
        "worker.Dockerfile",
        "api.dockerfile",
        "docker/gpu.Containerfile",
        "Containerfile.cuda",
    ],
)
def test_dockerfile_names(path: str) -> None:
    assert is_dockerfile(path)


@pytest.mark.parametrize(
    "path",
    ["Dockerfile.dockerignore", "Dockerfile.md", "docs/Dockerfile.txt", "dockerfiles",
     "notes-on-Dockerfile", "Dockerfile-old", "compose.yaml"],
)  # fmt: skip
def test_not_dockerfile_names(path: str) -> None:
    assert not is_dockerfile(path)


def test_check_reads_a_containerfile_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "Containerfile").write_text("FROM python:3.11\n", encoding="utf-8")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "api.dockerfile").write_text("FROM debian:12\n", encoding="utf-8")
    done = repro_audit("check", ".", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    unpinned = {(f["file"], f["line"]) for f in report["findings"] if f["rule_id"] == "RA011"}
    assert unpinned == {("Containerfile", 1), ("build/api.dockerfile", 1)}
