"""Bad input to `lock`: one clear line, the documented exit code, the lockfile untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from test_lock import BASIC, run, write_env

from audit.core import fs as fsutil


@pytest.fixture
def locked(tmp_path: Path, channel_url: str) -> Path:
    """A project with a good lock, whose bytes every failing run must leave alone."""
    write_env(tmp_path / "environment.yml", channel_url, BASIC, ["linux-64"])
    assert run(["lock"], tmp_path).returncode == 0
    return tmp_path


def assert_clean_failure(result, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def edit_and_fail(project: Path, text: str, code: int, *needles: str) -> None:
    lock = project / "conda-lock.yml"
    before = lock.read_bytes()
    (project / "environment.yml").write_text(text)
    assert_clean_failure(run(["lock"], project), code, *needles)
    assert lock.read_bytes() == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".conda-lock")) == []


def test_missing_file(tmp_path: Path) -> None:
    assert_clean_failure(run(["lock", "-f", "nope.yml"], tmp_path), 2, "nope.yml", "not found")


def test_yaml_syntax_error_names_line_and_column(locked: Path, channel_url: str) -> None:
    text = f"channels:\n  - {channel_url}\ndependencies:\n  - six\n  - [unclosed\n"
    edit_and_fail(locked, text, 2, "environment.yml:6", "not valid YAML")


def test_yaml_alias_bomb(locked: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 8)]
    text = "\n".join(lines) + "\ndependencies: *a7\n"
    edit_and_fail(locked, text, 2, "alias bomb")


def test_unknown_platform_in_file_and_option(locked: Path, channel_url: str) -> None:
    text = f"channels: [{channel_url}]\ndependencies:\n  - six\n"
    text += "platforms:\n  - linux-64\n  - linux-65\n"
    edit_and_fail(locked, text, 2, "environment.yml:6", "linux-65")
    result = run(["lock", "-p", "plan9-64"], locked)
    assert_clean_failure(result, 2, "plan9-64")


def test_invalid_match_spec_names_line(locked: Path, channel_url: str) -> None:
    text = f"channels: [{channel_url}]\ndependencies:\n  - six\n  - numpy >>=1.2\n"
    edit_and_fail(locked, text, 2, "environment.yml:4", "numpy >>=1.2")


def test_not_a_mapping_and_missing_dependencies(locked: Path) -> None:
    edit_and_fail(locked, "- just\n- a list\n", 2, "must be a YAML mapping")
    edit_and_fail(locked, "channels: [x]\n", 2, "no 'dependencies'")


def test_unknown_channel(locked: Path, tmp_path: Path) -> None:
    missing = (tmp_path / "no-such-channel").as_uri()
    text = f"channels: [{missing}]\ndependencies:\n  - six\nplatforms: [linux-64]\n"
    edit_and_fail(locked, text, 2, "unknown channel")


def test_unsatisfiable_names_spec_and_platform(locked: Path, channel_url: str) -> None:
    text = (
        f"channels: [{channel_url}]\ndependencies:\n  - six >=1.16\n  - conflicts-with-six\n"
        "platforms: [linux-64]\n"
    )
    edit_and_fail(locked, text, 2, "linux-64", "six", "conflicts-with-six")


def test_linux_only_package_on_windows(locked: Path, channel_url: str) -> None:
    text = f"channels: [{channel_url}]\ndependencies:\n  - linux-only-tool\nplatforms: [win-64]\n"
    edit_and_fail(locked, text, 2, "win-64", "linux-only-tool", "environment.yml:3")


def test_unreachable_channel_is_infrastructure(locked: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    text = (
        f"channels: [http://127.0.0.1:{port}/chan]\ndependencies:\n  - six\nplatforms: [linux-64]\n"
    )
    edit_and_fail(locked, text, 3, "unreachable")


def test_lockfile_in_missing_directory(locked: Path) -> None:
    result = run(["lock", "--lockfile", "no/such/dir/conda-lock.yml"], locked)
    assert_clean_failure(result, 2, "no/such/dir", "cannot write")


def test_lockfile_path_is_a_directory(tmp_path: Path, channel_url: str) -> None:
    write_env(tmp_path / "environment.yml", channel_url, ["six"], ["linux-64"])
    (tmp_path / "conda-lock.yml").mkdir()
    assert_clean_failure(run(["lock"], tmp_path), 2, "conda-lock.yml")


def test_crash_while_writing_keeps_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "conda-lock.yml"
    target.write_text("old content\n")

    def boom(*_args) -> None:
        raise KeyboardInterrupt  # e.g. Ctrl-C between write and rename

    monkeypatch.setattr(fsutil.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        fsutil.atomic_write_text(target, "new content that must not appear half-written\n" * 1000)
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["conda-lock.yml"]


def test_update_with_check_is_usage_error(locked: Path) -> None:
    assert_clean_failure(run(["lock", "--check", "--update", "six"], locked), 2, "--check")
