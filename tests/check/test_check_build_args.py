"""RA036: an image named by a build ARG without a default is a finding of `check` (the other
rules still run on the file), while `pin` keeps refusing it (it cannot resolve it)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from support.cli import repro_audit

from audit.check import CheckOptions, run_check
from audit.check.rules.images import dockerfile_image_findings
from audit.core.errors import InputError
from audit.dockerfile.parser import UndefinedArgError, parse_dockerfile
from check.steps_corpus import corpus_files

DIGEST = "@sha256:" + "0" * 64


def test_lenient_parse_lists_the_image_and_goes_on() -> None:
    text = (
        f"ARG YQ\nFROM mikefarah/yq:${{YQ}} AS yq\nFROM debian:12{DIGEST}\nCOPY --from=yq /y /y\n"
    )
    with pytest.raises(UndefinedArgError, match="undefined ARG 'YQ'"):
        parse_dockerfile(text)
    parsed = parse_dockerfile(text, lenient=True)
    assert [(u.line, u.kind, u.written, u.arg) for u in parsed.unresolved] == [
        (2, "from", "mikefarah/yq:${YQ}", "YQ")
    ]
    # the stage still exists (COPY --from=yq names it) and the later FROM is read
    assert [s.name for s in parsed.stages] == ["yq", None]
    assert [site.expanded for site in parsed.sites] == [f"debian:12{DIGEST}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ARG T\nFROM python:$T\n", [("RA036", 2)]),
        ("FROM alpine\nARG IMG\nCOPY --from=$IMG /a /a\n", [("RA036", 3)]),
        ("ARG T=3.11\nFROM python:$T\n", []),  # a default: pin can resolve it
        ("ARG T\nFROM python:${T:-3.11}\n", []),  # a default in the substitution
        ("ARG T\nFROM python:3.11\n", []),  # declared but not used by an image
        ("ARG BASE=<base>\nFROM $BASE\n", [("RA036", 2)]),  # a template's placeholder
        ("ARG B=<img>\nFROM busybox AS b\nCOPY --from=${B} /a /a\n", [("RA036", 3)]),
    ],
)
def test_rule_cases(text: str, expected: list[tuple[str, int]]) -> None:
    assert [(f.rule_id, f.line) for f in dockerfile_image_findings(text, "Dockerfile")] == expected


def test_an_image_per_target_platform_stays_bad_input() -> None:
    # BuildKit gives TARGETARCH a value: no missing ARG, but one digest cannot pin both
    with pytest.raises(InputError, match="depends on the target platform"):
        dockerfile_image_findings("FROM python:$TARGETARCH\n", "Dockerfile")


def test_check_reports_it_and_runs_the_other_rules(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG TAG\nFROM mambaorg/micromamba:$TAG\nRUN micromamba install -y -n base numpy\n"
    )
    done = repro_audit("check", str(tmp_path), "--format", "json")
    assert done.returncode == 1, done.stderr
    found = {(f["rule_id"], f["line"], f["level"]) for f in json.loads(done.stdout)["findings"]}
    assert found == {("RA036", 2, "warning"), ("RA020", 3, "error")}
    human = repro_audit("check", str(tmp_path))
    assert "Dockerfile:2: warning RA036 base-needs-build-arg" in human.stdout
    assert "--build-arg TAG=" in human.stdout
    # pin cannot resolve it: bad input with file:line, as before
    refused = repro_audit("pin", "--check", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: Dockerfile:2: undefined ARG 'TAG' (declare it with a default before FROM)\n"
    )


def test_policy_can_regrade_it(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("ARG TAG\nFROM python:$TAG\n")
    (tmp_path / "repro-audit.toml").write_text('rule-levels = { base-needs-build-arg = "note" }\n')
    done = repro_audit("check", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(f["rule_id"], f["level"]) for f in json.loads(done.stdout)["findings"]] == [
        ("RA036", "note")
    ]


@pytest.mark.skipif(not corpus_files(), reason="../shared/data/real-world/dockerfiles is absent")
def test_check_runs_to_completion_on_the_real_world_dockerfiles(tmp_path: Path) -> None:
    completed, refused = [], []
    started = time.perf_counter()
    for index, path in enumerate(corpus_files()):
        project = tmp_path / f"{index:02d}"
        project.mkdir()
        shutil.copyfile(path, project / "Dockerfile")
        try:
            result = run_check(CheckOptions(root=project, repo_root=project))
        except InputError as exc:
            refused.append((path.name, exc.one_line()))
            continue
        completed.append(path.name)
        if path.name.startswith(("01-", "06-", "07-")):  # each has an ARG-named FROM
            assert "RA036" in {f.rule_id for f in result.findings}
            assert {"RA026", "RA020"} & {f.rule_id for f in result.findings}
    elapsed = time.perf_counter() - started
    assert refused == []
    assert len(completed) == len(corpus_files())
    assert elapsed < 5.0  # the whole of check (lock rules, images, steps), not only the steps


def test_a_placeholder_default_is_named_and_a_literal_one_stays_bad_input() -> None:
    (finding,) = dockerfile_image_findings("ARG BASE=<base>\nFROM $BASE\n", "Dockerfile")
    assert "default '<base>' is no image reference" in finding.message
    with pytest.raises(InputError, match="the default of ARG BASE"):
        parse_dockerfile("ARG BASE=<base>\nFROM $BASE\n")  # pin: still exit 2, saying why
    with pytest.raises(InputError, match="malformed image reference") as caught:
        parse_dockerfile("FROM <base>\n", lenient=True)  # no ARG: a broken file
    assert "default of ARG" not in caught.value.one_line()
