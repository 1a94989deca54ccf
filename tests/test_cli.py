"""The CLI shell: usage errors are exit 2 with click's message, never a traceback."""

from __future__ import annotations

import subprocess

import pytest
from support.cli import repro_audit

from audit import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return repro_audit(*args, timeout=60)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["lock", "--update"], "requires an argument"),
        (["nosuchcmd"], "No such command"),
        (["lock", "--nosuch"], "No such option"),
        (["inventory"], "Missing argument"),
        (["check", "--format"], "requires an argument"),
        (["diff", "--fail-on"], "requires an argument"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"repro-audit {__version__}"
    help_text = run("--help").stdout
    for command in ("lock", "pin", "build", "inventory", "diff", "drift", "check", "verify"):
        assert command in help_text
