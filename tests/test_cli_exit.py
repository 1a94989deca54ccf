"""The process entry point ends with os._exit once rattler is loaded: output still complete.

py-rattler's background threads can crash an interpreter that is finalizing (SIGSEGV or
SIGABRT "PyGILState_Release … finalizing", bench/stress_solve.py). `audit.cli.run` skips
that teardown; these check nothing is lost on the way: exit codes, stdout, stderr.
"""

from __future__ import annotations

import subprocess
import sys

RUN = "import sys, rattler; sys.argv = ['repro-audit', *sys.argv[1:]]; " + (
    "from audit.cli import run; run()"
)


def entry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=120
    )


def test_exit_codes_and_output_survive_the_hard_exit(tmp_path) -> None:
    version = entry("--version")
    assert (version.returncode, version.stdout.startswith("repro-audit ")) == (0, True)
    missing = entry("check", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: "), missing.stderr
    usage = entry("lock", "--no-such-option")
    assert usage.returncode == 2 and "No such option" in usage.stderr


def test_large_output_is_flushed_before_exit(tmp_path) -> None:
    lines = ["version: 1", "metadata:", "  platforms:", "  - linux-64", "package:"]
    for i in range(3000):
        lines += [
            f"- name: p{i}",
            f"  version: 1.{i}",
            "  manager: conda",
            "  platform: linux-64",
            f"  url: https://x.invalid/linux-64/p{i}-1.{i}-h0_0.conda",
            "  hash:",
            f"    sha256: {i:064x}",
            "  build: h0_0",
        ]
    (tmp_path / "conda-lock.yml").write_text("\n".join(lines) + "\n")
    done = entry("inventory", str(tmp_path / "conda-lock.yml"), "--format", "json")
    assert done.returncode == 0, done.stderr
    import json

    assert len(json.loads(done.stdout)["packages"]) == 3000
