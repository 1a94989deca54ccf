"""The matrix of small projects: each breaks one thing; exact findings and exit codes.

Every project starts as the clean, locked project of conftest.py (environment.yml locked
for linux-64 and win-64, explicit files, a Dockerfile pinned by digest + image-lock.json).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DIGEST_A, DIGEST_B, IMAGE_REPO, IMAGE_TAG, LINE, image_lock

Run = Callable[..., subprocess.CompletedProcess[str]]


def findings(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, int | None]]:
    """(rule id, file, line) of each finding in a `--format json` run."""
    assert "Traceback" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    assert data["exit_code"] == result.returncode
    return [(f["rule_id"], f["file"], f["line"]) for f in data["findings"]]


def messages(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [f["message"] for f in json.loads(result.stdout)["findings"]]


def lock_line(project: Path, pattern: str) -> int:
    """1-based line of the first line of conda-lock.yml matching `pattern`."""
    for number, line in enumerate((project / "conda-lock.yml").read_text().splitlines(), 1):
        if re.search(pattern, line):
            return number
    raise AssertionError(f"{pattern!r} not in the lock")


def entry_line(project: Path, name: str, platform: str) -> int:
    """Line of the `- name: NAME` entry of `platform` in conda-lock.yml."""
    lines = (project / "conda-lock.yml").read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line == f"- name: {name}" and f"  platform: {platform}" in lines[number : number + 4]:
            return number
    raise AssertionError(f"{name} ({platform}) not in the lock")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def rehash(project: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """Hand-edit the lock's input digest and content hashes to match environment.yml."""
    from audit.lock.run import LockOptions, options_digest, parse_inputs
    from audit.lockfile.condalock import read_metadata

    monkeypatch.setenv("REPRO_AUDIT_CACHE_DIR", str(cache))
    lock = project / "conda-lock.yml"
    options = LockOptions(files=[project / "environment.yml"], lockfile=lock)
    digest = options_digest(options)
    _, _, hashes = parse_inputs(options, digest)
    meta = read_metadata(lock)
    assert meta is not None
    text = lock.read_text().replace(str(meta.input_digest), digest)
    for platform, old in meta.content_hash.items():
        text = text.replace(old, hashes[platform])
    lock.write_text(text)
    for platform, old in meta.content_hash.items():
        explicit = project / f"conda-{platform}.lock"
        explicit.write_text(explicit.read_text().replace(old, hashes[platform]))


# --------------------------------------------------------------------------- clean


def test_clean_project_is_quiet_and_exits_0(project: Path, run: Run) -> None:
    result = run(project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = run(project, "--format", "json")
    assert findings(result) == []
    data = json.loads(result.stdout)
    assert data["files"] == [
        "Dockerfile",
        "conda-linux-64.lock",
        "conda-lock.yml",
        "conda-win-64.lock",
        "environment.yml",
        "image-lock.json",
    ]


def test_comment_only_edit_is_not_stale(project: Path, run: Run) -> None:
    """The input digest differs, conda-lock's content hash does not: `lock --check` agrees."""
    (project / "environment.yml").write_text(
        (project / "environment.yml").read_text() + "# a comment\n"
    )
    assert findings(run(project, "--format", "json")) == []


# --------------------------------------------------------------------------- lock sync


def test_stale_hash(project: Path, run: Run) -> None:
    """A loosened spec the lock still meets: only the content hash says stale."""
    edit(project / "environment.yml", "numpy >=1.26", "numpy >=1.20")
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [
        ("RA005", "conda-lock.yml", lock_line(project, r"^    linux-64: [0-9a-f]{64}$"))
    ]
    assert "content hash differs for linux-64, win-64" in messages(result)[0]


def test_new_spec_is_stale_and_unmet(project: Path, run: Run) -> None:
    edit(project / "environment.yml", "  - six\n", "  - six >=1.17\n")
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [
        ("RA005", "conda-lock.yml", lock_line(project, r"^    linux-64: [0-9a-f]{64}$")),
        ("RA006", "environment.yml", LINE["six"]),
    ]
    assert messages(result)[1] == (
        "'six >=1.17' is not met by conda-lock.yml (linux-64: locked six 1.16.0 "
        "pyh6c4a22f_0; win-64: locked six 1.16.0 pyh6c4a22f_0)"
    )


def test_hand_edited_hash_but_unmet_spec(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, check_cache: Path
) -> None:
    """Hashes copied by hand into the lock: only the semantic check can tell."""
    edit(project / "environment.yml", "  - six\n", "  - six >=1.17\n")
    rehash(project, monkeypatch, check_cache)
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [("RA006", "environment.yml", LINE["six"])]


def test_hand_edited_hash_spec_removed_leaves_package(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, check_cache: Path
) -> None:
    """six removed from environment.yml, lock kept: six is locked but nothing needs it."""
    edit(project / "environment.yml", "  - six\n", "")
    rehash(project, monkeypatch, check_cache)
    result = run(project, "--format", "json")
    assert findings(result) == [("RA007", "conda-lock.yml", entry_line(project, "six", "linux-64"))]
    assert messages(result) == [
        "package six 1.16.0 is locked (linux-64, win-64) but nothing in environment.yml needs it"
    ]


def test_selector_spec_unmet_only_where_selected(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch, check_cache: Path
) -> None:
    """`# [linux]` applies a spec to linux-64 only: win-64 is not asked to meet it."""
    env = project / "environment.yml"
    edit(env, "linux-only-tool  # [linux]", "linux-only-tool >=2  # [linux]")
    rehash(project, monkeypatch, check_cache)
    result = run(project, "--format", "json")
    assert findings(result) == [("RA006", "environment.yml", LINE["linux-only-tool"])]
    assert "(linux-64: locked linux-only-tool 1.0.0" in messages(result)[0]
    assert "win-64" not in messages(result)[0]


def test_missing_platform(project: Path, run: Run) -> None:
    edit(project / "environment.yml", "  - win-64\n", "  - win-64\n  - osx-arm64\n")
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [("RA003", "environment.yml", LINE["platforms"] + 3)]
    assert messages(result) == [
        "platform osx-arm64 is not in conda-lock.yml (locked: linux-64, win-64)"
    ]


def test_platform_no_longer_asked(project: Path, run: Run) -> None:
    edit(project / "environment.yml", "  - win-64\n", "")
    result = run(project, "--format", "json")
    assert findings(result) == [("RA004", "conda-lock.yml", lock_line(project, r"^  - win-64$"))]


def test_missing_lock(project: Path, run: Run) -> None:
    for path in project.glob("conda-*"):
        path.unlink()
    result = run(project, "--format", "json")
    assert (result.returncode, findings(result)) == (1, [("RA001", "environment.yml", None)])


def test_corrupt_lock_is_a_finding(project: Path, run: Run) -> None:
    (project / "conda-lock.yml").write_text("version: 1\nmetadata: [unclosed\n")
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert ("RA002", "conda-lock.yml", 3) in findings(result)


def test_malformed_lock_entry(project: Path, run: Run) -> None:
    line = entry_line(project, "six", "win-64")
    lock = project / "conda-lock.yml"
    lines = lock.read_text().splitlines(keepends=True)
    lines = [
        x for i, x in enumerate(lines, 1) if not (line <= i <= line + 12 and x.startswith("  url:"))
    ]
    lock.write_text("".join(lines))
    result = run(project, "--format", "json")
    assert ("RA002", "conda-lock.yml", line) in findings(result)


def test_hand_edited_version_keeps_url_and_hash(project: Path, run: Run) -> None:
    """six 1.16.0 → 1.17.0 in conda-lock.yml, URL and hash unchanged: RA035 at the entry."""
    line = entry_line(project, "six", "linux-64")
    lock = project / "conda-lock.yml"
    lines = lock.read_text().splitlines(keepends=True)
    assert lines[line] == "  version: 1.16.0\n"
    lines[line] = "  version: 1.17.0\n"
    lock.write_text("".join(lines))
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert ("RA035", "conda-lock.yml", line) in findings(result)
    (message,) = [m for m in messages(result) if "edited by hand" in m]
    assert "version '1.17.0' (the file says '1.16.0')" in message


# --------------------------------------------------------------------------- explicit, pip


def test_explicit_file_disagrees(project: Path, run: Run) -> None:
    edit(project / "conda-linux-64.lock", "# input_hash: ", "# input_hash: 0")
    (project / "conda-win-64.lock").unlink()
    result = run(project, "--format", "json")
    assert findings(result) == [
        ("RA008", "conda-linux-64.lock", 3),
        ("RA008", "conda-lock.yml", lock_line(project, r"^  - win-64$")),
    ]


def test_explicit_url_not_in_lock(project: Path, run: Run) -> None:
    path = project / "conda-win-64.lock"
    evil = "https://example.org/win-64/evil-1.0-0.conda#sha256:" + "0" * 64
    path.write_text(path.read_text() + evil + "\n")
    result = run(project, "--format", "json")
    last = len(path.read_text().splitlines())
    assert findings(result) == [("RA008", "conda-win-64.lock", last)]


PIP_ENTRY = """\
- name: requests
  version: 2.32.3
  manager: pip
  platform: linux-64
  dependencies: {}
  url: https://files.pythonhosted.org/packages/requests-2.32.3-py3-none-any.whl
  hash: {}
  category: main
  optional: false
"""


def test_pip_without_hash(project: Path, run: Run) -> None:
    lock = project / "conda-lock.yml"
    text = lock.read_text()
    lock.write_text(text + PIP_ENTRY)
    line = len(text.splitlines()) + 1
    result = run(project, "--format", "json")
    assert findings(result) == [
        ("RA007", "conda-lock.yml", line),
        ("RA009", "conda-lock.yml", line),
    ]
    assert messages(result)[1] == "pip package requests 2.32.3 (linux-64) has no sha256"


# --------------------------------------------------------------------------- credentials


def test_token_in_channel_url(project: Path, run: Run) -> None:
    secret = "tk-1234secret"
    edit(
        project / "environment.yml",
        "channels:\n",
        f"channels:\n  - https://conda.anaconda.org/t/{secret}/private\n",
    )
    (project / "Dockerfile").write_text(
        (project / "Dockerfile").read_text()
        + "RUN pip install --index-url https://bob:hunter2@pypi.example.org/simple x\n"
    )
    result = run(project, "--format", "json")
    got = findings(result)
    assert ("RA010", "environment.yml", 3) in got
    assert ("RA010", "Dockerfile", 3) in got
    # the step itself installs an unpinned package the lock lacks (RA021, RA022)
    assert {r for r, _, _ in got} == {"RA005", "RA010", "RA021", "RA022"}
    for fmt in ("json", "human", "github", "sarif", "junit"):
        out = run(project, "--format", fmt).stdout
        assert secret not in out and "hunter2" not in out, fmt
    assert "https://conda.anaconda.org/private" in " ".join(messages(result))


# --------------------------------------------------------------------------- images


def test_unpinned_from(project: Path, run: Run) -> None:
    (project / "worker.Dockerfile").write_text("FROM python:3.11-slim AS base\nRUN true\n")
    result = run(project, "--format", "json")
    assert (result.returncode, findings(result)) == (1, [("RA011", "worker.Dockerfile", 1)])


def test_digest_not_matching_image_lock(project: Path, run: Run) -> None:
    (project / "image-lock.json").write_text(image_lock(DIGEST_B))
    result = run(project, "--format", "json")
    assert (result.returncode, findings(result)) == (1, [("RA012", "Dockerfile", 1)])
    assert DIGEST_B in messages(result)[0]


def test_compose_and_nested_dirs(project: Path, run: Run) -> None:
    sub = project / "services"
    (sub / "node_modules").mkdir(parents=True)
    (sub / "node_modules" / "Dockerfile").write_text("FROM ignored\n")
    (sub / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx:1.27\n  db:\n"
        f"    image: docker.io/{IMAGE_REPO}:{IMAGE_TAG}@{DIGEST_A}\n"
    )
    (sub / "image-lock.json").write_text(image_lock(DIGEST_A, ("compose.yaml",)))
    result = run(project, "--format", "json")
    assert findings(result) == [("RA011", "services/compose.yaml", 3)]


# --------------------------------------------------------------------------- policy


POLICY = """\
[project]
name = "x"

[tool.repro-audit]
allowed-channels = ["conda-forge"]
banned-packages = ["six <2", "openssl <3"]
required-platforms = ["linux-64", "osx-arm64"]
max-lock-age-days = 30
"""


def test_policy_violations(project: Path, run: Run, channel_url: str) -> None:
    (project / "pyproject.toml").write_text(POLICY)
    old = 1_600_000_000
    os.utime(project / "conda-lock.yml", (old, old))
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [
        ("RA016", "conda-lock.yml", None),
        ("RA013", "conda-lock.yml", lock_line(project, r"^  - url: ")),
        ("RA015", "conda-lock.yml", lock_line(project, r"^  platforms:")),
        ("RA014", "conda-lock.yml", entry_line(project, "six", "linux-64")),
        ("RA014", "conda-lock.yml", entry_line(project, "six", "win-64")),
        ("RA013", "environment.yml", LINE["channel"]),
    ]
    text = " | ".join(messages(result))
    assert "policy allows 30 days (pyproject.toml:8)" in text
    assert "six 1.16.0 (linux-64) is banned by 'six <2' (pyproject.toml:6)" in text
    assert "platform osx-arm64 is required by policy (pyproject.toml:7)" in text
    assert f"channel {channel_url} is not in allowed-channels (pyproject.toml:5)" in text


def test_policy_allows_the_project(project: Path, run: Run, channel_url: str) -> None:
    (project / "repro-audit.toml").write_text(
        f'allowed-channels = ["{channel_url}/"]\nbanned-packages = ["six >=2"]\n'
        'required-platforms = ["win-64"]\nmax-lock-age-days = 1\n'
    )
    result = run(project, "--format", "json")
    assert (result.returncode, findings(result)) == (0, [])


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        (
            '[tool.repro-audit]\nallowed-channels = []\nbaned-packages = ["x"]\n',
            ":3",
            "unknown policy key 'baned-packages'",
        ),
        ("[tool.repro-audit]\nmax-lock-age-days = 'old'\n", ":2", "max-lock-age-days"),
        ('[tool.repro-audit]\nrequired-platforms = ["linux-32"]\n', ":2", "linux-32"),
        ('[tool.repro-audit]\nbanned-packages = ["six >=>1"]\n', ":2", "six >=>1"),
        ("[tool.repro-audit\n", ":1", "invalid TOML"),
    ],
)
def test_bad_policy_is_a_finding_naming_key_and_line(
    project: Path, run: Run, text: str, where: str, needle: str
) -> None:
    (project / "pyproject.toml").write_text(text)
    result = run(project, "--format", "json")
    assert result.returncode == 1
    line = int(where[1:])
    assert findings(result) == [("RA040", "pyproject.toml", line)]
    assert needle in messages(result)[0]
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("dependencies: [python\n", 2),
        ("- just a list\n", None),
        ("name: x\ndependencies:\n  - python >=>3\n", 3),
        (b"\xff\xfe\x00garbage", None),
    ],
)
@pytest.mark.parametrize("output_format", ["json", "sarif", "junit", "github", "human"])
def test_corrupt_environment_is_a_finding_in_every_format(
    project: Path, run: Run, content: str | bytes, line: int | None, output_format: str
) -> None:
    path = project / "environment.yml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (project / "worker.Dockerfile").write_text("FROM python:3.11-slim\n")  # still checked
    result = run(project, "--format", output_format)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stderr == ""
    where = f"environment.yml:{line}" if line else "environment.yml"
    if output_format == "json":
        assert ("RA037", "environment.yml", line) in findings(result)
        assert ("RA011", "worker.Dockerfile", 1) in findings(result)
    elif output_format == "sarif":
        results = json.loads(result.stdout)["runs"][0]["results"]
        found = {
            (r["ruleId"], r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"))
            for r in results
        }
        assert {("RA037", line), ("RA011", 1)} <= found
    elif output_format == "junit":
        import xml.etree.ElementTree as ET

        cases = {c.get("name"): c for c in ET.fromstring(result.stdout).iter("testcase")}
        failure = cases["RA037 env-invalid"].find("failure")
        assert failure is not None and f"{where}: error:" in (failure.text or "")
    elif output_format == "github":
        props = f"file=environment.yml,line={line}," if line else "file=environment.yml,"
        assert f"::error {props}title=RA037 env-invalid::" in result.stdout
    else:
        assert f"{where}: error RA037 env-invalid" in result.stdout


def test_bad_arguments_exit_2(project: Path, run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in ([str(tmp_path / "nope")], [str(empty)], [str(project), "--format", "xml"]):
        result = run(*[Path(args[0])], *args[1:])
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: "), result.stderr


def test_corrupt_dockerfile_and_image_lock_are_findings(project: Path, run: Run) -> None:
    (project / "image-lock.json").write_text("{not json\n")
    digest = "sha256:" + "0" * 63  # one digit short, as in a real Dockerfile
    (project / "go.Dockerfile").write_text(f"FROM golang:1.24.2-alpine3.20@{digest}\n")
    (project / "tool.Dockerfile").write_text("FROM python:3.11-slim\nRUN apt-get install -y x\n")
    result = run(project, "--format", "json")
    assert result.returncode == 1
    assert findings(result) == [
        ("RA038", "go.Dockerfile", 1),
        ("RA039", "image-lock.json", 1),
        ("RA011", "tool.Dockerfile", 1),
        ("RA026", "tool.Dockerfile", 2),
    ]
    assert "invalid sha256 digest" in messages(result)[0]


def test_failed_run_still_writes_a_whole_document(tmp_path: Path, run: Run, validator) -> None:
    import xml.etree.ElementTree as ET

    empty = tmp_path / "empty"
    empty.mkdir()
    sarif = run(empty, "--format", "sarif")
    assert sarif.returncode == 2 and sarif.stderr.startswith("error: ")
    document = json.loads(sarif.stdout)
    assert not sorted(validator.iter_errors(document), key=str)
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    assert "nothing to check" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    junit = ET.fromstring(run(empty, "--format", "junit").stdout)
    assert junit.find("testsuite").get("errors") == "1"
    data = json.loads(run(empty, "--format", "json").stdout)
    assert data["exit_code"] == 2 and "nothing to check" in data["error"]
    assert run(empty, "--format", "github").stdout.startswith("::error title=repro-audit check::")


def test_human_output_lists_findings(project: Path, run: Run) -> None:
    (project / "worker.Dockerfile").write_text(f"FROM {IMAGE_REPO}:{IMAGE_TAG}\n")
    result = run(project)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "worker.Dockerfile:1: error RA011 image-unpinned "
        f"{IMAGE_REPO}:{IMAGE_TAG} is not pinned by digest (run `repro-audit pin`)",
        "repro-audit check: 1 error in .",  # the repository root: no path of this machine
    ]
