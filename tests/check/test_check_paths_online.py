"""Output paths from the repository root, `--max-findings`, and what `--online` could not ask."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from support.http import serve_handler

from audit.check.formats.github import format_github
from audit.check.formats.human import format_human
from audit.check.run import CheckResult, finding


def monorepo(project: Path, tmp_path: Path) -> Path:
    """A git repository holding the project under services/ml, with an unpinned image."""
    repo = tmp_path / "repo"
    target = repo / "services" / "ml"
    shutil.copytree(project, target)
    (target / "worker.Dockerfile").write_text("FROM python:3.11\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_paths_are_relative_to_the_repository_root(project: Path, tmp_path: Path, run) -> None:
    repo = monorepo(project, tmp_path)
    ml = repo / "services" / "ml"
    github = run(ml, "--format", "github")
    assert github.returncode == 1
    assert "::error file=services/ml/worker.Dockerfile,line=1," in github.stdout
    human = run(ml)
    assert human.stdout.startswith("services/ml/worker.Dockerfile:1: error RA011"), human.stdout
    assert human.stdout.rstrip().endswith("in services/ml")
    sarif = run(ml, "--format", "sarif")
    assert "file://" not in sarif.stdout and str(tmp_path) not in sarif.stdout
    run_ = json.loads(sarif.stdout)["runs"][0]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    }
    assert uris == {"services/ml/worker.Dockerfile"}
    assert "uri" not in run_["originalUriBaseIds"]["%SRCROOT%"]
    data = json.loads(run(ml, "--format", "json").stdout)
    assert data["root"] == "services/ml" and "services/ml/conda-lock.yml" in data["files"]
    # --root overrides git's top level
    override = run(ml, "--format", "github", "--root", str(repo / "services"))
    assert "::error file=ml/worker.Dockerfile,line=1," in override.stdout


def test_outside_git_paths_stay_relative_to_the_directory(project: Path, run) -> None:
    (project / "worker.Dockerfile").write_text("FROM python:3.11\n")
    result = run(project, "--format", "github")
    assert "::error file=worker.Dockerfile,line=1," in result.stdout


def many(n: int) -> CheckResult:
    found = [finding("RA007", "conda-lock.yml", i + 1, f"package p{i} is locked") for i in range(n)]
    return CheckResult(Path("."), sorted(found), ["conda-lock.yml"])


def test_max_findings_caps_human_and_github_output() -> None:
    result = many(250)
    human = format_human(result).splitlines()
    assert len(human) == 200 + 2
    assert "50 more finding(s) (250 in all" in human[-2]
    assert human[-1] == "repro-audit check: 250 errors in ."
    assert len(format_human(result, max_findings=0).splitlines()) == 251
    github = format_github(result, max_findings=10).splitlines()
    assert sum(line.startswith("::error ") for line in github) == 10
    assert "240 more finding(s) not annotated" in github[10]


def test_max_findings_from_the_cli_and_json_keeps_all(project: Path, run) -> None:
    for i in range(3):
        (project / f"w{i}.Dockerfile").write_text("FROM python:3.11\n")
    capped = run(project, "--max-findings", "2")
    assert capped.returncode == 1
    assert capped.stdout.count("error RA011") == 2 and "1 more finding(s)" in capped.stdout
    data = json.loads(run(project, "--max-findings", "2", "--format", "json").stdout)
    assert len(data["findings"]) == 3
    assert run(project, "--max-findings", "-1").returncode == 2


class _Failing(BaseHTTPRequestHandler):
    """A registry or channel behind a broken proxy: every request answers 500."""

    def _fail(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _fail

    def log_message(self, *_args) -> None:
        """Quiet."""


def test_online_unchecked_items_are_visible(project: Path, run) -> None:
    """Some URLs answer 500: a warning line each, a SARIF notification, a JUnit skip."""
    for name in ("Dockerfile", "image-lock.json", *(p.name for p in project.glob("conda-*.lock"))):
        (project / name).unlink()
    lock = project / "conda-lock.yml"
    with serve_handler(_Failing) as host:
        kept: list[str] = []
        moved: set[str] = set()

        def move(match: re.Match) -> str:
            if not kept or match.group(1) == kept[0]:
                kept.append(match.group(1))  # one URL stays reachable: something was checked
                return match.group(0)
            url = f"http://{host}/channel/{match.group(1).rsplit('/', 1)[-1]}"
            moved.add(url)
            return f"  url: {url}"

        package_url = re.compile(r"^  url: (file://\S+)", re.MULTILINE)
        lock.write_text(package_url.sub(move, lock.read_text()))
        seen = len(moved) + 1
        assert seen > 2
        human = run(project, "--online", "--timeout", "5")
        data = json.loads(run(project, "--online", "--timeout", "5", "--format", "json").stdout)
        sarif = json.loads(run(project, "--online", "--timeout", "5", "--format", "sarif").stdout)
        junit = ET.fromstring(
            run(project, "--online", "--timeout", "5", "--format", "junit").stdout
        )
    unchecked = data["online"]["unchecked"]
    assert len(unchecked) == data["online"]["unreachable"] == seen - 1
    assert human.returncode == 0, human.stdout + human.stderr
    warnings = [line for line in human.stdout.splitlines() if ": warning could not check" in line]
    assert len(warnings) == seen - 1 and all("HTTP 500" in line for line in warnings)
    assert warnings[0].startswith("conda-lock.yml:")
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == seen - 1 and notes[0]["level"] == "warning"
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("skipped") == str(seen - 1)
    assert len(suite.findall("testcase/skipped")) == seen - 1
