"""Golden tests: parse and pin every Dockerfile under golden/ and compare with the record.

Each `NAME.Dockerfile` has `NAME.expected.json` (the image sites found) and
`NAME.pinned.Dockerfile` (the rewrite with stand-in digests). Regenerate after a reviewed
change with `REPRO_AUDIT_UPDATE_GOLDEN=1 pytest tests/images/test_dockerfile_parse.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from audit.core.errors import InputError
from audit.dockerfile.compose import parse_compose
from audit.dockerfile.parser import (
    ImageSite,
    apply_edits,
    parse_dockerfile,
    parse_for_platforms,
    platform_args,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("REPRO_AUDIT_UPDATE_GOLDEN") == "1"
CASES = sorted(p for p in GOLDEN.glob("*.Dockerfile") if not p.name.endswith(".pinned.Dockerfile"))


def fake_digest(site: ImageSite) -> str:
    """A stand-in digest that differs per image, so a misplaced rewrite shows."""
    return "sha256:" + hashlib.sha256(site.ref.with_digest(None).tagged().encode()).hexdigest()


def describe(sites: list[ImageSite]) -> list[dict]:
    return [
        {
            "line": s.line,
            "kind": s.kind,
            "written": s.written,
            "expanded": s.expanded,
            "canonical": s.ref.canonical(),
            "platform": s.platform,
            "stage": s.stage,
        }
        for s in sites
    ]


def pin_text(text: str, sites: list[ImageSite], path: str) -> str:
    return apply_edits(text, [s.pin_edit(fake_digest(s)) for s in sites if not s.ref.pinned], path)


def compare(path: Path, actual: str) -> None:
    if UPDATE or not path.exists():
        path.write_bytes(actual.encode())
    assert path.read_bytes().decode() == actual


def read(path: Path) -> str:
    return path.read_bytes().decode()  # keep CRLF as it is


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden_dockerfile(case: Path) -> None:
    text = read(case)
    sites = parse_dockerfile(text, case.name).sites
    compare(case.with_suffix(".expected.json"), json.dumps(describe(sites), indent=2) + "\n")
    pinned = pin_text(text, sites, case.name)
    compare(case.with_name(case.stem + ".pinned.Dockerfile"), pinned)

    again = parse_dockerfile(pinned, case.name).sites
    assert all(s.ref.pinned for s in again)
    assert [s.ref.with_digest(None).tagged() for s in again] == [
        s.ref.with_digest(None).tagged() for s in sites
    ]
    assert [s.line for s in again] == [s.line for s in sites]
    assert pin_text(pinned, again, case.name) == pinned  # idempotent


def test_golden_compose() -> None:
    path = GOLDEN / "compose.yml"
    text = read(path)
    sites = parse_compose(text, path.name)
    compare(GOLDEN / "compose.expected.json", json.dumps(describe(sites), indent=2) + "\n")
    pinned = pin_text(text, sites, path.name)
    compare(GOLDEN / "compose.pinned.yml", pinned)
    again = parse_compose(pinned, path.name)
    assert all(s.ref.pinned for s in again)
    assert pin_text(pinned, again, path.name) == pinned


def test_arg_after_from_does_not_reach_later_from() -> None:
    text = "ARG V=1\nFROM a:${V}\nARG V=2\nFROM b:${V}\n"
    assert [s.expanded for s in parse_dockerfile(text).sites] == ["a:1", "b:1"]


def test_arg_default_shared_by_two_froms_is_pinned_once() -> None:
    text = "ARG BASE=python:3.11\nFROM ${BASE} AS a\nFROM ${BASE}\n"
    sites = parse_dockerfile(text).sites
    pinned = apply_edits(text, [s.pin_edit("sha256:" + "a" * 64) for s in sites])
    assert (
        pinned == f"ARG BASE=python:3.11@sha256:{'a' * 64}\nFROM ${{BASE}} AS a\nFROM ${{BASE}}\n"
    )


def test_arg_used_in_part_is_not_rewritten() -> None:
    text = "ARG IMG=python\nFROM ${IMG}\nFROM ${IMG}:3.11\n"
    sites = parse_dockerfile(text).sites
    pinned = apply_edits(text, [s.pin_edit("sha256:" + "b" * 64) for s in sites])
    assert pinned.startswith("ARG IMG=python\n")
    assert [s.ref.pinned for s in parse_dockerfile(pinned).sites] == [True, True]


def test_update_replaces_only_the_digest() -> None:
    old, new = "1" * 64, "2" * 64
    text = f"FROM python:3.11@sha256:{old} AS x\n"
    (site,) = parse_dockerfile(text).sites
    assert apply_edits(text, [site.replace_digest_edit("sha256:" + new)]) == (
        f"FROM python:3.11@sha256:{new} AS x\n"
    )


def test_bom_is_kept() -> None:
    text = "\ufeffFROM alpine:3.20\n"
    (site,) = parse_dockerfile(text).sites
    assert apply_edits(text, [site.pin_edit("sha256:" + "c" * 64)]).startswith("\ufeffFROM alpine")


ERRORS = [
    ("FROM\n", 1, "FROM has no image"),
    ("RUN x\nFROM a\n", 1, "before the first FROM"),
    ("FROM --platform=linux/amd64\n", 1, "FROM has no image"),
    ("ARG X\nFROM python:${X}\n", 2, "undefined ARG 'X'"),
    ("FROM alpine\nARG T=1\nFROM python:$T\n", 3, "undefined ARG 'T'"),
    ("FROM a AS b\nCOPY --from=nosuch /a /b\n", 2, "unknown stage"),
    ("FROM a AS b\nCOPY --from=b /a /b\n", 2, "its own stage"),
    ("FROM a\nCOPY --from=3 /a /b\n", 2, "no earlier stage"),
    ("FROM a AS b\nFROM c\nCOPY --from=later /x /y\nFROM d AS later\n", 3, "unknown stage"),
    ("FROM Python:3.11\n", 1, "lowercase"),
    ("FROM python:3.11:x\n", 1, "malformed image reference"),
    ("FROM python@sha256:abc\n", 1, "malformed image reference"),
    ("FROM python:\n", 1, "malformed image reference"),
    ("FROM a b\n", 1, "FROM takes an image"),
    ("FROM a AS 1bad\n", 1, "invalid stage name"),
    ("FROM ${X\n", 1, "missing"),
    ("FROM ${X/a/b}\n", 1, "unsupported substitution"),
    ("FROM ${X:?needX}\n", 1, "needX"),
    ("# escape=x\nFROM a\n", 1, "invalid escape"),
    ("FROM 'alpine\n", 1, "unterminated single quote"),
    ("FROM --network=host alpine\n", 1, "unknown FROM flag"),
    ("FROM docker://alpine:3\n", 1, "plain reference"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_bad_input_is_one_clear_error(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_dockerfile(text, "Dockerfile")
    assert caught.value.where == f"Dockerfile:{line}"
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


COMPOSE_ERRORS = [
    ("services:\n  a:\n    image: ${NOPE}\n", 3, "no default"),
    ("services:\n  a:\n    image: Bad/Name\n", 3, "lowercase"),
    ("services:\n  a:\n    image: [1]\n", 3, "plain or quoted string"),
    ("services: [\n", 2, "not valid YAML"),
]


@pytest.mark.parametrize(("text", "line", "message"), COMPOSE_ERRORS)
def test_compose_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_compose(text, "compose.yml")
    assert caught.value.where == f"compose.yml:{line}"
    assert message in caught.value.message


def test_buildkit_platform_args_are_defined_for_each_target() -> None:
    text = (
        "FROM scratch AS binaries-linux\n"
        "FROM binaries-$TARGETOS AS picked\n"
        "FROM python:3.11-$TARGETOS@sha256:" + "a" * 64 + "\n"
        "ARG TARGETARCH\n"
        "COPY --from=tools:${TARGETARCH} /x /x\n"
    )
    amd = parse_dockerfile(text, "Dockerfile", "linux/amd64")
    arm = parse_dockerfile(text, "Dockerfile", "linux/arm64/v8")
    assert [s.expanded for s in amd.sites] == [
        "python:3.11-linux@sha256:" + "a" * 64,
        "tools:amd64",
    ]
    assert [s.expanded for s in arm.sites][1] == "tools:arm64"
    assert amd.parents[1] == {0}  # binaries-$TARGETOS is the stage, not an image
    with pytest.raises(InputError) as caught:
        parse_for_platforms(text, "Dockerfile")
    assert caught.value.where == "Dockerfile:5"
    assert "tools:amd64 on linux/amd64, tools:arm64 on linux/arm64" in caught.value.one_line()


def test_platform_args_split_os_arch_variant() -> None:
    args = platform_args("linux/arm/v7", "linux/amd64")
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == ("linux", "arm", "v7")
    assert (args["BUILDPLATFORM"], args["BUILDARCH"], args["BUILDVARIANT"]) == (
        "linux/amd64",
        "amd64",
        "",
    )


def test_duplicate_stage_names_resolve_to_the_later_stage_as_buildkit_does() -> None:
    text = "FROM a:1 AS b\nFROM c:1 AS B\nFROM scratch\nCOPY --from=b /x /y\n"
    parsed = parse_dockerfile(text, "Dockerfile")
    assert [s.expanded for s in parsed.sites] == ["a:1", "c:1"]
    assert parsed.parents[2] == {1}
    assert parsed.built_stages() == {1, 2}
    assert parsed.warnings == ["Dockerfile:2: duplicate stage name 'b'"]


def test_the_environment_image_is_not_a_registry_image() -> None:
    text = (
        "FROM repro-audit-env AS env\n"
        "FROM busybox:1@sha256:" + "b" * 64 + "\n"
        "COPY --from=repro-audit-env /opt/conda/envs/x /opt/conda/envs/x\n"
    )
    parsed = parse_dockerfile(text, "Dockerfile")
    assert [s.expanded for s in parsed.sites] == ["busybox:1@sha256:" + "b" * 64]
    assert [(u.kind, u.line, u.stage, u.sources, u.dest) for u in parsed.env_uses] == [
        ("from", 1, 0, (), ""),
        ("copy", 3, 1, ("/opt/conda/envs/x",), "/opt/conda/envs/x"),
    ]
    assert parsed.built_stages() == {1}
