"""Output formats: SARIF valid against the 2.1.0 schema, GitHub workflow commands, JUnit, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from audit.check.formats.github import format_github
from audit.check.formats.human import format_human
from audit.check.formats.json import format_check_json
from audit.check.formats.junit import format_junit
from audit.check.formats.sarif import format_sarif
from audit.check.run import RULES, CheckResult, Finding, finding


def sample(findings: list[Finding] | None = None) -> CheckResult:
    if findings is None:
        findings = [
            finding("RA006", "environment.yml", 4, "'six >=2' is not met, 100% sure: a,b"),
            finding("RA011", "docker/Dockerfile", 1, "python:3.11 is not pinned\nby digest"),
            finding("RA016", "conda-lock.yml", 0, "the lock is 99 days old"),
            Finding("Dockerfile", 2, "RA010", "a note", "note"),
        ]
    return CheckResult(Path("."), sorted(findings), ["environment.yml"])


@pytest.mark.parametrize("findings", [None, []], ids=["findings", "clean"])
def test_sarif_validates_against_schema(validator, findings) -> None:
    document = json.loads(format_sarif(sample(findings)))
    errors = sorted(validator.iter_errors(document), key=str)
    assert not errors, errors[0]
    run = document["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_locations() -> None:
    results = json.loads(format_sarif(sample()))["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    location = by_rule["RA006"]["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "environment.yml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 4},
    }
    assert "region" not in by_rule["RA016"]["locations"][0]["physicalLocation"]


def test_sarif_from_the_cli_validates(project: Path, run, validator) -> None:
    (project / "worker.Dockerfile").write_text("FROM python:3.11\n")
    (project / "environment.yml").write_text(
        (project / "environment.yml").read_text().replace("  - six\n", "  - six >=2\n")
    )
    result = run(project, "--format", "sarif")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert not list(validator.iter_errors(document))
    got = [
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"),
        )
        for r in document["runs"][0]["results"]
    ]
    assert ("RA006", "environment.yml", 7) in got
    assert ("RA011", "worker.Dockerfile", 1) in got


def test_github_workflow_commands() -> None:
    lines = format_github(sample()).splitlines()
    assert lines == [
        "::notice file=Dockerfile,line=2,title=RA010 url-credentials::a note",
        "::error file=conda-lock.yml,title=RA016 lock-too-old::the lock is 99 days old",
        "::error file=docker/Dockerfile,line=1,title=RA011 image-unpinned::"
        "python:3.11 is not pinned%0Aby digest",
        "::error file=environment.yml,line=4,title=RA006 spec-unmet::"
        "'six >=2' is not met, 100%25 sure: a,b",
        "repro-audit check: 3 error(s), 0 warning(s), 1 note(s)",
    ]


def test_github_from_the_cli(project: Path, run) -> None:
    (project / "worker.Dockerfile").write_text("FROM python:3.11\n")
    result = run(project, "--format", "github")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        "::error file=worker.Dockerfile,line=1,title=RA011 image-unpinned::"
    )


def test_junit_parses_and_counts() -> None:
    root = ET.fromstring(format_junit(sample()))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(len(RULES))
    assert suite.get("failures") == "3"
    failed = {case.get("name"): case.find("failure") for case in suite.iter("testcase")}
    assert failed["RA006 spec-unmet"] is not None
    assert "environment.yml:4: error:" in (failed["RA006 spec-unmet"].text or "")
    assert failed["RA001 lock-missing"] is None
    assert failed["RA010 url-credentials"] is None  # a note does not fail


def test_json_document() -> None:
    data = json.loads(format_check_json(sample()))
    assert data["summary"] == {"error": 3, "warning": 0, "note": 1}
    assert data["exit_code"] == 1
    assert data["findings"][1] == {
        "file": "conda-lock.yml",
        "level": "error",
        "line": None,
        "message": "the lock is 99 days old",
        "rule": "lock-too-old",
        "rule_id": "RA016",
    }


def test_human_is_empty_when_clean_and_escapes_markup() -> None:
    assert format_human(sample([])) == ""
    text = format_human(sample([finding("RA006", "environment.yml", 4, "'x [linux]' unmet")]))
    assert "'x [linux]' unmet" in text
    assert text.endswith("repro-audit check: 1 error in .\n")


def test_findings_sort_deterministically() -> None:
    a = finding("RA011", "b", 2, "x")
    b = finding("RA006", "a", 9, "y")
    c = finding("RA005", "a", 9, "z")
    assert sorted([a, b, c]) == [c, b, a]


def test_output_file(project: Path, run, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    result = run(project, "--format", "sarif", "-o", str(out))
    assert (result.returncode, result.stdout) == (0, "")
    assert json.loads(out.read_text())["runs"][0]["results"] == []
