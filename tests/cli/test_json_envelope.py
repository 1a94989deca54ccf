"""Every command's `--format json` starts with the same envelope: schema, kind, exit_code.

One project is locked against the fixture channel, committed to git, and each command is
run on it as a user would (a subprocess, real exit codes).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.cli import repro_audit

ENV = """\
name: envelope
channels:
  - {channel}
dependencies:
  - python 3.11.*
  - six
platforms:
  - linux-64
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, channel_url: str) -> Path:
    root = tmp_path_factory.mktemp("envelope")
    (root / "environment.yml").write_text(ENV.format(channel=channel_url))
    (root / "Dockerfile").write_text("FROM busybox:1.36\n")
    cache = root.parent / "envelope-cache"
    done = repro_audit("lock", "--cache-dir", str(cache), "--format", "json", cwd=root)
    assert done.returncode == 0, done.stderr
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "lock")
    return root


def envelope(done: subprocess.CompletedProcess[str], command: str) -> dict:
    document = json.loads(done.stdout)
    assert document["kind"] == f"repro-audit/{command}"
    assert isinstance(document["schema"], int) and document["schema"] >= 1
    assert document["exit_code"] == done.returncode
    return document


@pytest.mark.parametrize(
    ("command", "args", "code"),
    [
        ("lock", ["lock", "--check", "--format", "json"], 0),
        ("lock", ["lock", "--check", "--json"], 0),  # the old flag stays an alias
        ("inventory", ["inventory", "conda-lock.yml", "--format", "json"], 0),
        ("diff", ["diff", "conda-lock.yml", "git:HEAD:conda-lock.yml", "--format", "json"], 0),
        ("check", ["check", ".", "--format", "json"], 1),  # busybox:1.36 is unpinned
        ("pin", ["pin", "--check", "--format", "json"], 1),
        ("drift", ["drift", ".", "--no-upstream", "--no-images", "--format", "json"], 0),
    ],
)
def test_every_command_prints_the_envelope(
    project: Path, command: str, args: list[str], code: int
) -> None:
    done = repro_audit(*args, cwd=project)
    assert done.returncode == code, done.stderr
    envelope(done, command)


def test_format_must_be_known(project: Path) -> None:
    done = repro_audit("pin", "--check", "--format", "yaml", cwd=project)
    assert done.returncode == 2
    assert "--format must be one of text, json, not 'yaml'" in done.stderr
