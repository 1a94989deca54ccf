"""The `pip:` section of environment.yml, read as the pip requirements file conda hands to pip.

conda writes the `pip:` list to a requirements file and runs `pip install -r` on it, so
every line pip accepts there is accepted here: requirements with extras and markers
(parsed with `packaging.requirements`, the PyPA reference implementation; pip's own
parser is not a public API), `--index-url`, `--extra-index-url`, `--find-links`, `--pre`,
`--require-hashes`, `--hash=` per requirement, `-c constraints.txt`, `-r other.txt`
(relative to the including file, recursively, cycles refused), `name @ URL#sha256=…`,
VCS URLs. Local sources (`-e .`, `./dir`, `file:` URLs) cannot be locked from an index:
they are collected as such, never dropped silently. Every requirement keeps its file:line.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from audit.core.errors import InputError

_VCS = ("git+", "hg+", "svn+", "bzr+")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHA256 = re.compile(r"[#&]sha256=([0-9a-fA-F]{64})\b")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
#: Options that take a value, by every spelling pip accepts.
_VALUED = {
    "-i": "index",
    "--index-url": "index",
    "--extra-index-url": "extra",
    "-f": "find",
    "--find-links": "find",
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-e": "editable",
    "--editable": "editable",
    "--trusted-host": "ignored",
    "--only-binary": "ignored",
    "--use-feature": "ignored",
}
_FLAGS = {"--pre": "pre", "--require-hashes": "require-hashes", "--prefer-binary": "ignored"}
#: Per-requirement options (after the requirement on its line).
_PER_LINE = {"--hash", "--only-binary", "--prefer-binary", "--config-settings", "--global-option"}


@dataclass(frozen=True)
class PipLine:
    """One requirement as the resolver gets it, with where it was written."""

    text: str  # a PEP 508 requirement (or a bare VCS URL), per-line options removed
    name: str  # PEP 503 normalised name ('' when the line names none)
    file: str
    line: int
    written: str = ""  # the line as written
    hashes: tuple[str, ...] = ()  # expected sha256 (from --hash= and #sha256=)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class PipSection:
    """A pip requirements file, read."""

    requirements: list[PipLine] = field(default_factory=list)
    constraints: list[PipLine] = field(default_factory=list)
    local: list[PipLine] = field(default_factory=list)  # local sources: not lockable
    index_urls: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    pre: bool = False
    require_hashes: bool = False


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pip_section(
    items: Iterable[tuple[str, str, int]], base_dir: Path, *, section: PipSection | None = None
) -> PipSection:
    """Read the `pip:` list: `items` are (text, file shown in messages, line)."""
    out = section or PipSection()
    reader = _Reader(out, base_dir)
    for text, file, line in items:
        reader.line(text, file, line, base_dir, stack=())
    reader.finish()
    return out


class _Reader:
    def __init__(self, out: PipSection, base_dir: Path) -> None:
        self.out = out
        self.base_dir = base_dir

    def line(
        self,
        raw: str,
        file: str,
        line: int,
        here: Path,
        *,
        stack: tuple[Path, ...],
        constraint: bool = False,
    ) -> None:
        text = _COMMENT.sub("", str(raw)).strip()
        if not text:
            return
        where = f"{file}:{line}"
        if text.startswith("-"):
            self.options(text, where, file, line, here, stack, constraint)
            return
        self.requirement(text, str(raw).strip(), file, line, here, constraint)

    def options(
        self,
        text: str,
        where: str,
        file: str,
        line: int,
        here: Path,
        stack: tuple[Path, ...],
        constraint: bool,
    ) -> None:
        tokens = _split(text, where)
        i = 0
        while i < len(tokens):
            option, value, i = _take_option(tokens, i, where)
            kind = _FLAGS.get(option)
            if kind is None and option not in _VALUED:
                raise InputError(
                    f"pip option '{option}' is not supported in the pip list",
                    where=where,
                    hint="supported: --index-url, --extra-index-url, --find-links, --pre, "
                    "--require-hashes, -r, -c, -e, --hash",
                )
            if kind == "pre":
                self.out.pre = True
            elif kind == "require-hashes":
                self.out.require_hashes = True
            elif kind is None and _VALUED[option] != "ignored":
                self.valued(
                    _VALUED[option], option, value or "", where, file, line, here, stack, constraint
                )

    def valued(
        self,
        kind: str,
        option: str,
        value: str,
        where: str,
        file: str,
        line: int,
        here: Path,
        stack: tuple[Path, ...],
        constraint: bool,
    ) -> None:
        if not value:
            raise InputError(f"pip option '{option}' needs a value", where=where)
        if kind == "index":
            self.out.index_urls.append(value)
        elif kind == "extra":
            self.out.extra_index_urls.append(value)
        elif kind == "find":
            local = "://" not in value and not Path(value).is_absolute()
            self.out.find_links.append(str((here / value).resolve()) if local else value)
        elif kind in ("requirement", "constraint"):
            self.include(value, where, file, here, stack, constraint or kind == "constraint")
        elif kind == "editable":
            if value.startswith(_VCS):
                self.requirement(value, f"{option} {value}", file, line, here, constraint)
            else:
                self.out.local.append(PipLine(value, _local_name(value), file, line, f"-e {value}"))

    def include(
        self,
        target: str,
        where: str,
        file: str,
        here: Path,
        stack: tuple[Path, ...],
        constraint: bool,
    ) -> None:
        """Read `-r`/`-c` files relative to the including file, refusing cycles."""
        if "://" in target:
            raise InputError(
                f"pip requirements from a URL ('{target}') cannot be locked", where=where
            )
        path = (here / target).resolve()
        if path in stack:
            raise InputError(
                f"pip requirements file '{target}' includes itself (a cycle)", where=where
            )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"pip requirements file '{target}' not found", where=where) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read pip requirements file '{target}': {exc}", where=where
            ) from None
        shown = os.path.normpath(os.path.join(os.path.dirname(file), target))
        for number, joined in _logical_lines(text):
            self.line(
                joined, shown, number, path.parent, stack=(*stack, path), constraint=constraint
            )

    def requirement(
        self, text: str, written: str, file: str, line: int, here: Path, constraint: bool
    ) -> None:
        where = f"{file}:{line}"
        head, hashes = _per_line_options(text, where)
        if _is_local(head, here):
            self.out.local.append(PipLine(head, _local_name(head), file, line, written))
            return
        hashes += tuple(h.lower() for h in _SHA256.findall(head))
        resolved, name = _requirement(head, where)
        item = PipLine(resolved, name, file, line, written, hashes)
        (self.out.constraints if constraint else self.out.requirements).append(item)

    def finish(self) -> None:
        if not self.out.require_hashes:
            return
        for req in self.out.requirements:
            if not req.hashes:
                raise InputError(
                    f"--require-hashes: pip requirement '{req.written}' has no --hash",
                    where=req.where,
                    hint=f"add --hash=sha256:<hex> to '{req.written}'",
                )


def _split(text: str, where: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise InputError(f"cannot read pip line '{text}': {exc}", where=where) from None


def _take_option(tokens: list[str], i: int, where: str) -> tuple[str, str | None, int]:
    """(option, value or None, next index) for `--opt=v`, `--opt v`, `-rfile`, flags."""
    token = tokens[i]
    if not token.startswith("-"):
        raise InputError(f"unexpected '{token}' in a pip option line", where=where)
    if "=" in token and token.startswith("--"):
        option, value = token.split("=", 1)
        return option, value, i + 1
    if token in _FLAGS:
        return token, None, i + 1
    if token in _VALUED or token in _PER_LINE - {"--prefer-binary"}:
        value = tokens[i + 1] if i + 1 < len(tokens) else ""
        return token, value, i + 2
    short = token[:2]
    if short in _VALUED and len(token) > 2:
        return short, token[2:], i + 1
    return token, None, i + 1


def _per_line_options(text: str, where: str) -> tuple[str, tuple[str, ...]]:
    """Split `req --hash=sha256:… --only-binary x` into the requirement and its hashes."""
    match = re.search(r"(^|\s)--?[A-Za-z]", text)
    if match is None:
        return text, ()
    head, tail = text[: match.start()].strip(), text[match.start() :]
    hashes: list[str] = []
    tokens = _split(tail, where)
    i = 0
    while i < len(tokens):
        option, value, i = _take_option(tokens, i, where)
        if option not in _PER_LINE:
            raise InputError(
                f"pip option '{option}' is not allowed after a requirement", where=where
            )
        if option == "--hash":
            algo, _, digest = (value or "").partition(":")
            if algo != "sha256" or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise InputError(
                    f"--hash '{value}' is not sha256:<64 hex digits>",
                    where=where,
                    hint="repro-audit checks sha256 hashes",
                )
            hashes.append(digest.lower())
    return head, tuple(hashes)


def _is_local(text: str, here: Path) -> bool:
    """A path or file: URL: something no index can lock."""
    if text.startswith(("file:", ".", "/", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    if " @ " in text and text.split(" @ ", 1)[1].strip().startswith("file:"):
        return True
    return "/" in text and "://" not in text and "@" not in text


def _local_name(text: str) -> str:
    head = text.split(" @ ", 1)[0] if " @ " in text else ""
    return pep503(head.strip()) if head else ""


def _requirement(text: str, where: str) -> tuple[str, str]:
    """(requirement text for the resolver, PEP 503 name); InputError with a hint when bad."""
    from packaging.requirements import InvalidRequirement, Requirement

    if text.startswith(_VCS) or re.match(r"^[a-z][a-z0-9+.-]*://", text):
        url = text.split(";", 1)[0].strip()
        egg = re.search(r"#(?:.*&)?egg=([A-Za-z0-9._-]+)", url)
        if egg:
            bare = re.sub(r"#.*$", "", url)
            marker = text.split(";", 1)[1].strip() if ";" in text else ""
            name = pep503(egg.group(1))
            return f"{egg.group(1)} @ {bare}" + (f" ; {marker}" if marker else ""), name
        return text, _url_name(url)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(
            f"invalid pip requirement '{text}': {str(exc).splitlines()[0]}",
            where=where,
            hint=_pip_hint(text),
        ) from None
    return text, pep503(req.name)


def _url_name(url: str) -> str:
    last = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return pep503(last.split("@", 1)[0].removesuffix(".git"))


def _pip_hint(text: str) -> str | None:
    """The obvious fix for a conda-style pin in pip: `name=1.0` or `name 1.0`."""
    match = re.fullmatch(
        r"([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*=\s*([0-9][^=<>!~]*)", text
    )
    if match:
        return f"pip needs ==: {match.group(1)}=={match.group(2).strip()}"
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s+([0-9][A-Za-z0-9.*+!-]*)", text)
    if match:
        return f"pip needs ==: {match.group(1)}=={match.group(2)}"
    return None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with `\\` continuations joined, as pip reads files."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if line.endswith("\\") and not _COMMENT.search(line):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        out.append((start, " ".join(buffer)))
        buffer = []
    if buffer:
        out.append((start, " ".join(buffer)))
    return out


def plain_requirement(text: str) -> str | None:
    """What a conda-lock-style parser can take of one `pip:` line: the requirement alone,
    or None for an option line or a local source (those are ours to handle)."""
    clean = _COMMENT.sub("", text).strip()
    if not clean or clean.startswith("-"):
        return None
    head = re.split(r"(?:^|\s)--?[A-Za-z]", clean, maxsplit=1)[0].strip()
    if _is_local(head, Path.cwd()):
        return None
    return head if head != clean else text
