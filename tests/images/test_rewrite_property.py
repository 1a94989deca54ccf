"""Property tests: random and mutated Dockerfiles against the parser and the rewriter.

Two promises are checked. The parser either returns or raises InputError (one clear line),
whatever it is given. And pinning changes nothing but the references: removing the exact
text the rewrite inserted gives back the original file byte for byte, the result parses to
the same images (now pinned), and pinning it again changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.errors import InputError
from audit.dockerfile.compose import parse_compose
from audit.dockerfile.parser import apply_edits, parse_dockerfile

IMPLICIT = "sha256:" + "e" * 64  # digest given to references without a tag
EXPLICIT = "sha256:" + "f" * 64  # digest given to references with a tag
GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.Dockerfile"))
SETTINGS = settings(
    max_examples=int(os.environ.get("REPRO_AUDIT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def pin_and_check(text: str) -> None:
    """Pin `text` if it parses; assert the rewrite touched only references."""
    try:
        sites = parse_dockerfile(text).sites
    except InputError as exc:
        assert "\n" not in exc.one_line()
        return
    edits = [
        s.pin_edit(IMPLICIT if s.ref.implicit_tag else EXPLICIT) for s in sites if not s.ref.pinned
    ]
    try:
        pinned = apply_edits(text, edits)
    except InputError:
        return
    stripped = pinned.replace(":latest@" + IMPLICIT, "").replace("@" + EXPLICIT, "")
    if IMPLICIT not in text and EXPLICIT not in text:
        assert stripped == text
    again = parse_dockerfile(pinned).sites
    assert len(again) == len(sites)
    for before, after in zip(sites, again, strict=True):
        assert after.ref.pinned
        assert (after.ref.registry, after.ref.repository) == (
            before.ref.registry,
            before.ref.repository,
        )
        assert after.ref.tag == before.ref.tag
        assert after.line == before.line
    assert apply_edits(pinned, [s.pin_edit(EXPLICIT) for s in again if not s.ref.pinned]) == pinned


# --------------------------------------------------------------------------- random text

DOCKER_ALPHABET = st.sampled_from(
    list("FROMASCOPYRUNARGfromas \t\n\r\\`$:{}-+?@/._'\"#=0123456789abcxyz<>[]")
    + ["FROM ", "ARG ", "COPY --from=", "${", "# escape=`\n", "\\\n", " AS ", "<<EOF\n", "EOF\n"]
)


@SETTINGS
@given(st.lists(DOCKER_ALPHABET, max_size=80).map("".join))
def test_random_text_gives_result_or_clear_error(text: str) -> None:
    pin_and_check(text)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_unicode_gives_result_or_clear_error(text: str) -> None:
    pin_and_check(text)


# --------------------------------------------------------------------------- mutations

MUTATION = st.tuples(
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["delete", "insert", "replace", "duplicate-line"]),
    st.sampled_from(list(" \n\\`$:{}@/\"'#-=Aa0") + ["FROM ", "${X}", " AS y", "\r\n"]),
)


@SETTINGS
@given(st.sampled_from(GOLDEN), st.lists(MUTATION, min_size=1, max_size=6))
def test_mutated_golden_dockerfiles(path: Path, mutations: list[tuple[int, str, str]]) -> None:
    text = path.read_bytes().decode()
    for position, operation, piece in mutations:
        index = position % (len(text) + 1)
        if operation == "delete":
            text = text[:index] + text[index + 1 :]
        elif operation == "insert":
            text = text[:index] + piece + text[index:]
        elif operation == "replace":
            text = text[:index] + piece + text[index + 1 :]
        else:
            lines = text.splitlines(keepends=True) or [""]
            line = lines[index % len(lines)]
            text = "".join(lines[: index % len(lines)] + [line] + lines[index % len(lines) :])
    pin_and_check(text)


# --------------------------------------------------------------------------- generated files

COMPONENT = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)
REGISTRY = st.sampled_from(
    ["", "docker.io/", "localhost:5000/", "ghcr.io/", "r.example.com:8443/", "127.0.0.1:5000/"]
)
TAG = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))


@st.composite
def image_refs(draw: st.DrawFn, tagged: bool = True) -> str:
    path = "/".join(draw(st.lists(COMPONENT, min_size=1, max_size=3)))
    tag = draw(TAG) if tagged else None
    return draw(REGISTRY) + path + (f":{tag}" if tag else "")


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    escape = draw(st.sampled_from(["\\", "`"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("# syntax=docker/dockerfile:1")
    if escape == "`":
        lines.append("# escape=`")
    args = {}
    for index in range(draw(st.integers(0, 3))):
        name, value = f"A{index}", draw(image_refs())
        quote = draw(st.sampled_from(["", '"', "'"]))
        args[name] = value
        lines.append(f"ARG {name}={quote}{value}{quote}")
    if draw(st.booleans()):
        lines.append("ARG TAG=1.0")
        args["TAG"] = "1.0"
    stages: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        choices = [image_refs(), st.just("scratch"), image_refs().map(lambda r: f"${{UNSET:-{r}}}")]
        if args:
            choices.append(st.sampled_from([f"${{{n}}}" for n in args] + [f"${n}" for n in args]))
        if "TAG" in args:
            choices.append(COMPONENT.map(lambda c: f"{c}:${{TAG}}"))
        if stages:
            choices.append(st.sampled_from(stages))
        image = draw(st.one_of(*choices))
        platform = draw(
            st.sampled_from(["", "--platform=linux/arm64 ", "--platform=$BUILDPLATFORM "])
        )
        keyword = draw(st.sampled_from(["FROM", "from", "From"]))
        line = f"{keyword} {platform}{image}"
        if draw(st.booleans()):
            stage = f"s{index}"
            line += f" {draw(st.sampled_from(['AS', 'as', 'As']))} {stage}"
            stages.append(stage)
        lines.append(line)
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(
                st.sampled_from(["run", "copy-stage", "copy-image", "comment", "blank", "arg"])
            )
            if kind == "run":
                lines.append("RUN echo FROM busybox && true")
            elif kind == "copy-stage" and stages[:-1]:
                lines.append(f"COPY --from={draw(st.sampled_from(stages[:-1]))} /a /b")
            elif kind == "copy-image":
                lines.append(f"COPY --from={draw(image_refs(tagged=False))}:x /a /b")
            elif kind == "comment":
                lines.append("# FROM commented:out")
            elif kind == "blank":
                lines.append("")
            elif kind == "arg":
                lines.append("ARG A0=stage-local:1")
    text = newline.join(lines) + newline
    if draw(st.booleans()):  # split one instruction across lines
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        comments = {i for i in starts if text.startswith("#", i)}
        spaces = [
            i
            for i, ch in enumerate(text)
            if ch == " " and max(s for s in starts if s <= i) not in comments
        ]
        if spaces:
            at = draw(st.sampled_from(spaces))
            middle = draw(st.sampled_from(["", f"# inside{newline}", newline]))
            text = text[:at] + f" {escape}{newline}{middle}   " + text[at + 1 :]
    return text


@SETTINGS
@given(dockerfiles())
def test_generated_dockerfiles_pin_exactly(text: str) -> None:
    parse_dockerfile(text)  # generated files are valid: this must not raise
    pin_and_check(text)


# --------------------------------------------------------------------------- compose


@SETTINGS
@given(
    st.lists(image_refs(), min_size=1, max_size=4),
    st.sampled_from(["", '"', "'"]),
    st.sampled_from(["", "  # note"]),
)
def test_generated_compose_pins_exactly(refs: list[str], quote: str, comment: str) -> None:
    body = "".join(
        f"  s{i}:\n    image: {quote}{ref}{quote}{comment}\n" for i, ref in enumerate(refs)
    )
    text = f"services:\n{body}"
    sites = parse_compose(text)
    pinned = apply_edits(
        text, [s.pin_edit(IMPLICIT if s.ref.implicit_tag else EXPLICIT) for s in sites]
    )
    assert pinned.replace(":latest@" + IMPLICIT, "").replace("@" + EXPLICIT, "") == text
    assert all(s.ref.pinned for s in parse_compose(pinned))


@SETTINGS
@given(st.text(max_size=200))
def test_random_compose_gives_result_or_clear_error(text: str) -> None:
    try:
        parse_compose(text)
    except InputError as exc:
        assert "\n" not in exc.one_line()
