"""Undecodable input reads the same everywhere; an oversized environment file is refused at once."""

from __future__ import annotations

import time
from pathlib import Path

from support.cli import repro_audit

from audit.core.text import MAX_ENV_BYTES, NOT_TEXT

JUNK = b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary"


def one_error_line(done) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_binary_junk_is_not_text_in_every_command(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_bytes(JUNK)
    lock = repro_audit("lock", "-p", "linux-64", cwd=tmp_path)
    assert lock.returncode == 2 and NOT_TEXT in one_error_line(lock)
    check = repro_audit("check", ".", cwd=tmp_path)  # a finding (RA037), not the end
    assert (check.returncode, check.stderr) == (1, "") and NOT_TEXT in check.stdout
    assert "environment.yml: error RA037 env-invalid" in check.stdout

    (tmp_path / "environment.yml").unlink()
    (tmp_path / "conda-lock.yml").write_bytes(b"version: 1\nmetadata:\n" + JUNK)
    inventory = repro_audit("inventory", "conda-lock.yml", cwd=tmp_path)
    assert inventory.returncode == 2 and NOT_TEXT in one_error_line(inventory)
    gate = repro_audit("check", ".", "--format", "json", cwd=tmp_path)
    assert gate.returncode == 1 and NOT_TEXT in gate.stdout  # RA002 finding, not a crash
    locked = repro_audit("lock", "--check", cwd=tmp_path)
    assert locked.returncode == 2 and NOT_TEXT in one_error_line(locked)

    (tmp_path / "Dockerfile").write_bytes(JUNK)
    pin = repro_audit("pin", "--check", cwd=tmp_path)
    assert pin.returncode == 2 and NOT_TEXT in one_error_line(pin)


def test_oversized_environment_file_is_refused_at_once(tmp_path: Path) -> None:
    env = tmp_path / "environment.yml"
    with env.open("w") as handle:
        handle.write("channels: [conda-forge]\ndependencies:\n")
        line = "  - pkg-with-a-long-name-to-fill-the-file >=1.0\n"
        handle.write(line * (MAX_ENV_BYTES // len(line) + 10))
    for args in (["lock", "-p", "linux-64"], ["check", "."]):
        started = time.perf_counter()
        done = repro_audit(*args, cwd=tmp_path)
        elapsed = time.perf_counter() - started
        if args[0] == "check":  # a finding (RA037) on stdout, exit 1
            assert (done.returncode, done.stderr) == (1, "")
            message = next(x for x in done.stdout.splitlines() if "RA037 env-invalid" in x)
        else:
            message = one_error_line(done)
            assert done.returncode == 2, done.stderr
        assert "environment.yml" in message and "MB limit" in message, message
        assert "alias bomb" not in message
        assert elapsed < 30  # refused before parsing, not after seconds of YAML
