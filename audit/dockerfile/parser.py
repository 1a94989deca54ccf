"""Find the images a Dockerfile pulls, and rewrite them in place; pure, no I/O.

The reader follows BuildKit's parser: parser directives (`# syntax=`, `# escape=`),
comments, line continuations (comment and blank lines inside them are dropped), heredocs,
`ARG` scoping (an `ARG` before the first `FROM` reaches every `FROM`; one after it does not)
and the shell-style substitutions `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:+a}`, `${V+a}`,
`${V:?e}`, `${V?e}`.

Every character of an expanded reference remembers the file offset it came from. That is
what makes the rewrite exact: pinning inserts `[:latest]@sha256:…` right after the last
character of the reference (in the `FROM` line, inside the quotes, or in the `ARG` default
that holds the whole reference), and updating replaces the digest's own characters. Nothing
else in the file is touched, and a pinned file parses to the same references plus digests.

Why hand-written: `dockerfile-parse` mis-expands `${TAG:-x}` and reads a `FROM` inside a
heredoc as an instruction; asottile's `dockerfile` (BuildKit's Go parser) gives no
character offsets, so it could not rewrite a reference in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from audit.core.errors import InputError
from audit.registry.reference import ImageRef, ReferenceError, parse_reference

# (character, file offset or None when it has no single source)
Chars = list[tuple[str, int | None]]

_DIRECTIVE_RE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]*$")
_BARE_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]*$")
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")
_HEREDOC_RE = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIGEST_TAIL_RE = re.compile(r"@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]+$")
BUILD_PLATFORM_ARGS = frozenset(
    f"{prefix}{suffix}"
    for prefix in ("BUILD", "TARGET")
    for suffix in ("PLATFORM", "OS", "ARCH", "VARIANT")
)
#: The name a Dockerfile gives the locked environment `build` provides (not a registry
#: image): `COPY --from=repro-audit-env <prefix> <prefix>` or `FROM repro-audit-env`.
ENV_IMAGE = "repro-audit-env"
#: Target platforms `pin` resolves BuildKit's automatic platform ARGs for.
PIN_PLATFORMS = ("linux/amd64", "linux/arm64")
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(frozen=True)
class Edit:
    """Replace file[start:end] with `text` (start == end is an insertion)."""

    start: int
    end: int
    text: str


@dataclass
class ImageSite:
    """One place in a file that names an image to pull."""

    path: str
    line: int
    kind: str  # "from" | "copy" | "image" (compose)
    written: str  # the token as written in the file
    expanded: str  # after ARG substitution
    ref: ImageRef
    insert_at: int  # where `[:latest]@digest` goes when unpinned
    digest_span: tuple[int, int] | None  # file offsets of `@algo:hex` when pinned and literal
    platform: str | None = None
    stage: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def pin_edit(self, digest: str) -> Edit:
        """The edit that pins an unpinned site to `digest`, keeping the tag for humans."""
        if self.ref.digest is not None:
            return self.replace_digest_edit(digest)
        text = (":latest" if self.ref.implicit_tag else "") + "@" + digest
        return Edit(self.insert_at, self.insert_at, text)

    def replace_digest_edit(self, digest: str) -> Edit:
        """The edit that moves a pinned site to another digest."""
        if self.digest_span is None:
            raise InputError(
                f"cannot rewrite the digest of {self.expanded!r}: it is not written in one piece",
                where=self.where,
            )
        start, end = self.digest_span
        return Edit(start, end, "@" + digest)


@dataclass
class Stage:
    index: int
    name: str | None
    line: int
    #: the earlier stage its FROM names (`FROM builder`), None for an image or scratch
    base_stage: int | None = None


@dataclass(frozen=True)
class EnvUse:
    """A place that names the locked environment (`ENV_IMAGE`) instead of an image."""

    path: str
    line: int
    kind: str  # "from" | "copy"
    stage: int
    sources: tuple[str, ...] = ()
    dest: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class UndefinedArgError(InputError):
    """An image reference uses an ARG that has no value (no default, no --build-arg)."""

    def __init__(self, name: str, where: str) -> None:
        message = f"undefined ARG {name!r} (declare it with a default before FROM)"
        super().__init__(message, where=where)
        self.name = name
        self.default: str | None = None


class PlaceholderArgError(UndefinedArgError):
    """An image reference made of an ARG whose default is no image (`ARG BASE=<base>`):
    a template that Docker builds only with `--build-arg`."""

    def __init__(self, name: str, default: str, where: str, detail: str) -> None:
        message = f"malformed image reference: {detail} (the default of ARG {name})"
        InputError.__init__(self, message, where=where)
        self.name = name
        self.default: str | None = default


_ARG_REF_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class UnresolvedImage:
    """A FROM / COPY --from whose image needs a build ARG without a default (lenient parse).

    Docker builds it with `--build-arg NAME=…`; a reader of the file alone cannot know the
    image, so `check` reports it instead of stopping, and `pin` refuses it.
    """

    path: str
    line: int
    kind: str  # "from" | "copy"
    written: str  # the reference as written, e.g. `mikefarah/yq:${YQ}`
    arg: str  # the ARG without a value
    default: str | None = None  # its default when that is no image (`<base>`)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class ParsedDockerfile:
    path: str
    escape: str
    stages: list[Stage] = field(default_factory=list)
    sites: list[ImageSite] = field(default_factory=list)
    env_uses: list[EnvUse] = field(default_factory=list)
    #: lenient parses only: images that depend on a build ARG without a default
    unresolved: list[UnresolvedImage] = field(default_factory=list)
    #: stage index → indices of the stages it reads (its FROM, its COPY --from)
    parents: dict[int, set[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def stage_named(self, name: str, before: int | None = None) -> Stage | None:
        """The stage `name` refers to: the last one so named (BuildKit: later wins)."""
        found = None
        for stage in self.stages[:before]:
            if stage.name == name.lower():
                found = stage
        return found

    def final_base(self) -> ImageSite | None:
        """The image the last stage starts from, through `FROM <earlier stage>`; None for
        scratch, an image that needs a build ARG, or no stage."""
        index = len(self.stages) - 1
        while index >= 0:
            site = next((s for s in self.sites if s.kind == "from" and s.stage == index), None)
            if site is not None:
                return site
            base = self.stages[index].base_stage
            index = base if base is not None and base < index else -1
        return None

    def built_stages(self, target: int | None = None) -> set[int]:
        """Indices of the stages a build of `target` (default: the last stage) runs."""
        if not self.stages:
            return set()
        todo = [len(self.stages) - 1 if target is None else target]
        seen: set[int] = set()
        while todo:
            index = todo.pop()
            if index not in seen:
                seen.add(index)
                todo.extend(self.parents.get(index, ()))
        return seen


def platform_args(target: str, build: str | None = None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (`TARGETARCH`, `BUILDOS`, …) for `os/arch[/variant]`."""
    out: dict[str, str] = {}
    for prefix, platform in (("TARGET", target), ("BUILD", build or target)):
        os_name, _, rest = platform.partition("/")
        arch, _, variant = rest.partition("/")
        out[f"{prefix}PLATFORM"] = platform
        out[f"{prefix}OS"] = os_name
        out[f"{prefix}ARCH"] = arch
        out[f"{prefix}VARIANT"] = variant
    return out


@dataclass
class _Logical:
    """One instruction after continuations are joined: its characters with offsets."""

    chars: Chars
    line: int

    @property
    def text(self) -> str:
        return "".join(ch for ch, _ in self.chars)


@dataclass
class _ArgValue:
    """A variable's value and the file span of the ARG default it came from."""

    chars: Chars
    span: tuple[int, int] | None


# --------------------------------------------------------------------------- lines


def _split_lines(text: str) -> list[tuple[int, str, str]]:
    """(offset, content without line end, line end) for each physical line."""
    out: list[tuple[int, str, str]] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append((pos, body, raw[len(body) :]))
        pos += len(raw)
    return out


def _is_comment(body: str) -> bool:
    return body.lstrip(" \t").startswith("#")


def _read_directives(lines: list[tuple[int, str, str]], path: str) -> tuple[str, int]:
    """Parser directives at the top: return the escape character and the first other line."""
    escape = "\\"
    seen: set[str] = set()
    for index, (_, body, _) in enumerate(lines):
        if index == 0:
            body = body.lstrip("\ufeff")
        match = _DIRECTIVE_RE.match(body)
        if not match:
            return escape, index
        name, value = match.group(1).lower(), match.group(2)
        if name in seen:
            raise InputError(f"parser directive {name!r} given twice", where=f"{path}:{index + 1}")
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise InputError(
                    f"invalid escape directive {value!r} (use \\ or `)", where=f"{path}:{index + 1}"
                )
            escape = value
    return escape, len(lines)


def _continues(body: str, escape: str) -> str | None:
    """The line without its trailing escape (+ blanks) if it continues, else None."""
    stripped = body.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[: -len(escape)]
    return None


def _logical_lines(text: str, path: str) -> tuple[str, list[_Logical]]:
    """Join continuations, drop comments and blank lines, skip heredoc bodies."""
    lines = _split_lines(text)
    escape, index = _read_directives(lines, path)
    result: list[_Logical] = []
    while index < len(lines):
        offset, body, _ = lines[index]
        if index == 0 and body.startswith("\ufeff"):
            body, offset = body[1:], offset + 1
        start_line = index + 1
        index += 1
        lead = len(body) - len(body.lstrip(" \t"))
        body, offset = body[lead:], offset + lead
        if not body.strip() or body.startswith("#"):
            continue
        chars: Chars = []
        part = _continues(body, escape)
        chars.extend((ch, offset + i) for i, ch in enumerate(part if part is not None else body))
        while part is not None and index < len(lines):
            offset, body, _ = lines[index]
            index += 1
            if _is_comment(body) or not body.strip(" \t"):
                continue
            part = _continues(body, escape)
            chars.extend(
                (ch, offset + i) for i, ch in enumerate(part if part is not None else body)
            )
        logical = _Logical(chars, start_line)
        if not logical.text.strip():
            continue
        result.append(logical)
        index = _skip_heredocs(logical, lines, index)
    return escape, result


def _skip_heredocs(logical: _Logical, lines: list[tuple[int, str, str]], index: int) -> int:
    """Step over heredoc bodies of RUN/COPY/ADD, which may hold lines such as `FROM x`."""
    text = logical.text
    words = text.split(None, 1)
    if not words or words[0].upper() not in HEREDOC_INSTRUCTIONS:
        return index
    for match in _HEREDOC_RE.finditer(text):
        strip_tabs, word = match.group(1) == "-", match.group(3)
        while index < len(lines):
            body = lines[index][1]
            index += 1
            if (body.lstrip("\t") if strip_tabs else body) == word:
                break
    return index


# --------------------------------------------------------------------------- words


def _tokens(chars: Chars) -> list[Chars]:
    """Split on unquoted whitespace (quotes stay in the token; expansion removes them)."""
    tokens: list[Chars] = []
    current: Chars = []
    quote: str | None = None
    for item in chars:
        ch = item[0]
        if quote is None and ch in " \t\r\n\f\v":
            if current:
                tokens.append(current)
                current = []
            continue
        if quote is None and ch in "'\"":
            quote = ch
        elif quote == ch:
            quote = None
        current.append(item)
    if current:
        tokens.append(current)
    return tokens


def _text(chars: Chars) -> str:
    return "".join(ch for ch, _ in chars)


class _Expander:
    """BuildKit's ProcessWord for the subset used in FROM, ARG and COPY --from."""

    def __init__(self, env: dict[str, _ArgValue], escape: str, where: str, strict: bool):
        self.env = env
        self.escape = escape
        self.where = where
        self.strict = strict  # undefined variables are errors (image references)
        self.used: list[_ArgValue] = []

    def expand(self, word: Chars) -> Chars:
        out, pos = self._word(word, 0, stop=None)
        return out

    def _fail(self, message: str) -> InputError:
        return InputError(message, where=self.where)

    def _word(self, word: Chars, pos: int, stop: str | None) -> tuple[Chars, int]:
        out: Chars = []
        while pos < len(word):
            ch = word[pos][0]
            if stop is not None and ch == stop:
                return out, pos
            if ch == "'":
                end = _find(word, pos + 1, "'")
                if end < 0:
                    raise self._fail("unterminated single quote")
                out.extend(word[pos + 1 : end])
                pos = end + 1
            elif ch == '"':
                pos = self._double(word, pos + 1, out)
            elif ch == self.escape:
                if pos + 1 < len(word):
                    out.append(word[pos + 1])
                    pos += 2
                else:
                    out.append(word[pos])
                    pos += 1
            elif ch == "$":
                pos = self._dollar(word, pos, out)
            else:
                out.append(word[pos])
                pos += 1
        if stop is not None:
            raise self._fail(f"missing {stop!r} in {_text(word)!r}")
        return out, pos

    def _double(self, word: Chars, pos: int, out: Chars) -> int:
        while pos < len(word):
            ch = word[pos][0]
            if ch == '"':
                return pos + 1
            if (
                ch == self.escape
                and pos + 1 < len(word)
                and word[pos + 1][0] in ('"', "$", self.escape)
            ):
                out.append(word[pos + 1])
                pos += 2
            elif ch == "$":
                pos = self._dollar(word, pos, out)
            else:
                out.append(word[pos])
                pos += 1
        raise self._fail("unterminated double quote")

    def _dollar(self, word: Chars, pos: int, out: Chars) -> int:
        nxt = word[pos + 1][0] if pos + 1 < len(word) else ""
        if nxt == "{":
            return self._braced(word, pos + 2, out)
        if nxt and _NAME_START.match(nxt):
            end = pos + 1
            while end < len(word) and _NAME_CHAR.match(word[end][0]):
                end += 1
            name = _text(word[pos + 1 : end])
            out.extend(self._lookup(name, required=True))
            return end
        out.append(word[pos])
        return pos + 1

    def _braced(self, word: Chars, pos: int, out: Chars) -> int:
        end = pos
        while end < len(word) and _NAME_CHAR.match(word[end][0]):
            end += 1
        name = _text(word[pos:end])
        if not name:
            raise self._fail(f"bad substitution in {_text(word)!r}")
        if end >= len(word):
            raise self._fail(f"missing '}}' in {_text(word)!r}")
        ch = word[end][0]
        if ch == "}":
            out.extend(self._lookup(name, required=True))
            return end + 1
        colon = ch == ":"
        op_pos = end + 1 if colon else end
        op = word[op_pos][0] if op_pos < len(word) else ""
        if op not in ("-", "+", "?"):
            raise self._fail(f"unsupported substitution in {_text(word)!r}")
        alt, close = self._word(word, op_pos + 1, stop="}")
        value = self._lookup(name, required=False)
        is_set = name in self.env
        present = is_set and (bool(value) or not colon)
        if op == "-":
            out.extend(value if present else alt)
        elif op == "+":
            out.extend(alt if present else [])
        else:
            if not present:
                raise self._fail(f"{name}: {_text(alt) or 'not set'}")
            out.extend(value)
        return close + 1

    def _lookup(self, name: str, required: bool) -> Chars:
        value = self.env.get(name)
        if value is None:
            if required and self.strict:
                if name in BUILD_PLATFORM_ARGS:
                    raise self._fail(
                        f"image depends on the build platform ARG {name}; cannot pin it"
                    )
                raise UndefinedArgError(name, self.where)
            return []
        self.used.append(value)
        return list(value.chars)


def _find(word: Chars, pos: int, ch: str) -> int:
    for index in range(pos, len(word)):
        if word[index][0] == ch:
            return index
    return -1


# --------------------------------------------------------------------------- parse


@dataclass
class _Scope:
    """ARG values visible at a point: global ones, then the current stage's."""

    globals: dict[str, _ArgValue] = field(default_factory=dict)
    declared_globals: set[str] = field(default_factory=set)
    stage: dict[str, _ArgValue] = field(default_factory=dict)


def _parse_arg(
    logical: _Logical, args: list[Chars], env: dict[str, _ArgValue], escape: str, where: str
) -> list[tuple[str, _ArgValue | None]]:
    """`ARG A B=1 C="x y"` → [(A, None), (B, value), (C, value)]; values expanded in `env`."""
    result: list[tuple[str, _ArgValue | None]] = []
    for token in args:
        text = _text(token)
        name, eq, _ = text.partition("=")
        if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"invalid ARG name {name!r}", where=where)
        if not eq:
            result.append((name, None))
            continue
        raw = token[len(name) + 1 :]
        expander = _Expander(env, escape, where, strict=False)
        chars = expander.expand(raw)
        offsets = [offset for _, offset in chars]
        span = None
        if (
            chars
            and None not in offsets
            and offsets == list(range(offsets[0], offsets[0] + len(chars)))
        ):
            span = (offsets[0], offsets[-1] + 1)
        result.append((name, _ArgValue(chars, span)))
    return result


def parse_for_platforms(
    text: str,
    path: str = "Dockerfile",
    platforms: Iterable[str] = PIN_PLATFORMS,
    *,
    lenient: bool = False,
) -> ParsedDockerfile:
    """Parse once per target platform; the images must not depend on it (one pin each).

    A `FROM base-$TARGETARCH` naming a stage is fine on every platform; one naming a
    different registry image per platform cannot carry one digest: exit 2. `lenient`: see
    `parse_dockerfile`.
    """
    first: ParsedDockerfile | None = None
    first_platform = ""
    for platform in platforms:
        parsed = parse_dockerfile(text, path, platform, lenient=lenient)
        if first is None:
            first, first_platform = parsed, platform
            continue
        for mine, theirs in zip(first.sites, parsed.sites, strict=False):
            if mine.expanded != theirs.expanded:
                raise InputError(
                    f"the image depends on the target platform: {mine.expanded} on "
                    f"{first_platform}, {theirs.expanded} on {platform}; one digest cannot pin it",
                    where=mine.where,
                )
        if len(first.sites) != len(parsed.sites):
            raise InputError("the images pulled depend on the target platform", where=path)
    assert first is not None
    return first


def parse_dockerfile(
    text: str,
    path: str = "Dockerfile",
    platform: str = "linux/amd64",
    build_platform: str | None = None,
    *,
    lenient: bool = False,
) -> ParsedDockerfile:
    """Parse `text` and return its stages and every image it pulls; raise InputError.

    BuildKit's automatic platform ARGs hold the values for `platform` (the target) and
    `build_platform` (default: the target), as BuildKit defines them for every build.
    `lenient` lists an image that needs a build ARG without a default in `unresolved`
    and goes on (what `check` needs); otherwise it is an UndefinedArgError (what `pin` needs).
    """
    escape, logicals = _logical_lines(text, path)
    parsed = ParsedDockerfile(path, escape)
    scope = _Scope()
    scope.globals.update(
        {
            name: _ArgValue(list((ch, None) for ch in value), None)
            for name, value in platform_args(platform, build_platform).items()
        }
    )
    usage: list[tuple[ImageSite, list[_ArgValue], Chars, Chars]] = []
    for logical in logicals:
        tokens = _tokens(logical.chars)
        instruction = _text(tokens[0]).upper()
        args = tokens[1:]
        where = f"{path}:{logical.line}"
        if instruction == "ARG":
            if not args:
                raise InputError("ARG requires a name", where=where)
            env = scope.stage if parsed.stages else scope.globals
            for name, value in _parse_arg(logical, args, env, escape, where):
                if not parsed.stages:
                    scope.declared_globals.add(name)
                    if value is not None:
                        scope.globals[name] = value
                    elif name not in BUILD_PLATFORM_ARGS:  # those keep BuildKit's value
                        scope.globals.pop(name, None)
                elif value is not None:
                    scope.stage[name] = value
                elif name in scope.globals:
                    scope.stage[name] = scope.globals[name]
        elif instruction == "FROM":
            try:
                site, used, chars = _parse_from(parsed, args, scope, escape, where, logical.line)
            except UndefinedArgError as exc:
                if not lenient:
                    raise
                _unresolved(parsed, "from", _from_token(args), exc, logical.line)
                site = None
            scope.stage = {}
            if site is not None:
                usage.append((site, used, chars, _from_token(args)))
        elif not parsed.stages:
            raise InputError(
                f"{instruction} before the first FROM (only ARG may come first)", where=where
            )
        elif instruction == "COPY":
            try:
                found = _parse_copy_from(parsed, args, scope, escape, where, logical.line)
            except UndefinedArgError as exc:
                if not lenient:
                    raise
                _unresolved(parsed, "copy", _flags(args)[0]["from"], exc, logical.line)
                found = None
            if found is not None:
                usage.append((*found, _flags(args)[0]["from"]))
    _place_insertions(usage)
    return parsed


def _unresolved(
    parsed: ParsedDockerfile, kind: str, token: Chars, exc: UndefinedArgError, line: int
) -> None:
    parsed.unresolved.append(
        UnresolvedImage(parsed.path, line, kind, _text(token), exc.name, exc.default)
    )


def _flags(args: list[Chars]) -> tuple[dict[str, Chars], list[Chars]]:
    """Leading `--name=value` / `--name` flags and the remaining arguments."""
    flags: dict[str, Chars] = {}
    index = 0
    while index < len(args) and _text(args[index]).startswith("--"):
        token = args[index]
        text = _text(token)
        name, eq, _ = text[2:].partition("=")
        flags[name.lower()] = token[len(name) + 3 :] if eq else []
        index += 1
    return flags, args[index:]


def _from_token(args: list[Chars]) -> Chars:
    return _flags(args)[1][0]


def _parse_from(
    parsed: ParsedDockerfile,
    args: list[Chars],
    scope: _Scope,
    escape: str,
    where: str,
    line: int,
) -> tuple[ImageSite | None, list[_ArgValue], Chars]:
    flags, rest = _flags(args)
    if not rest:
        raise InputError("FROM has no image", where=where)
    stage_name: str | None = None
    if len(rest) == 3 and _text(rest[1]).lower() == "as":
        stage_name = _text(rest[2]).lower()
        if not _STAGE_NAME_RE.match(stage_name):
            raise InputError(f"invalid stage name {_text(rest[2])!r}", where=where)
        if any(stage.name == stage_name for stage in parsed.stages):
            # BuildKit accepts it with a warning (DuplicateStageName); the later stage wins
            parsed.warnings.append(f"{where}: duplicate stage name {stage_name!r}")
    elif len(rest) != 1:
        raise InputError("FROM takes an image, optionally followed by AS <name>", where=where)
    for unknown in set(flags) - {"platform"}:
        raise InputError(f"unknown FROM flag --{unknown}", where=where)
    index = len(parsed.stages)
    parsed.stages.append(Stage(index, stage_name, line))
    env = dict(scope.globals)
    expander = _Expander(env, escape, where, strict=True)
    token = rest[0]
    chars = expander.expand(token)
    expanded = _text(chars)
    if not expanded:
        raise InputError(f"FROM image {_text(token)!r} expands to nothing", where=where)
    if expanded.lower() == "scratch":
        return None, [], []
    named = parsed.stage_named(expanded, before=index)
    if named is not None:
        parsed.parents.setdefault(index, set()).add(named.index)
        parsed.stages[index].base_stage = named.index
        return None, [], []
    if expanded.lower() == ENV_IMAGE:
        parsed.env_uses.append(EnvUse(parsed.path, line, "from", index))
        return None, [], []
    # `--platform=$BUILDPLATFORM` varies with the machine that builds: it stays unknown
    fixed = {k: v for k, v in env.items() if not (k in BUILD_PLATFORM_ARGS and v.span is None)}
    platform = (
        _text(_Expander(fixed, escape, where, strict=False).expand(flags["platform"]))
        if ("platform" in flags)
        else None
    )
    site = _make_site(parsed, token, chars, "from", where, line, index, platform or None)
    return site, expander.used, chars


def _parse_copy_from(
    parsed: ParsedDockerfile,
    args: list[Chars],
    scope: _Scope,
    escape: str,
    where: str,
    line: int,
) -> tuple[ImageSite, list[_ArgValue], Chars] | None:
    flags, _ = _flags(args)
    if "from" not in flags:
        return None
    token = flags["from"]
    current = len(parsed.stages) - 1
    expander = _Expander(dict(scope.stage), escape, where, strict=True)
    chars = expander.expand(token)
    value = _text(chars)
    if not value:
        raise InputError("COPY --from= names no stage or image", where=where)
    named = parsed.stage_named(value)
    if named is not None:
        if named.index == current:
            raise InputError(f"COPY --from={value} refers to its own stage", where=where)
        parsed.parents.setdefault(current, set()).add(named.index)
        return None
    if value.isdigit():
        if int(value) >= current:
            raise InputError(f"COPY --from={value}: no earlier stage with that index", where=where)
        parsed.parents.setdefault(current, set()).add(int(value))
        return None
    if value.lower() == ENV_IMAGE:
        paths = [_text(arg) for arg in _flags(args)[1]]
        parsed.env_uses.append(
            EnvUse(
                parsed.path, line, "copy", current, tuple(paths[:-1]), paths[-1] if paths else ""
            )
        )
        return None
    if _BARE_NAME_RE.match(value):
        raise InputError(
            f"COPY --from={value}: unknown stage",
            where=where,
            hint=f"to copy from an image, write a tag, e.g. {value}:latest",
        )
    site = _make_site(parsed, token, chars, "copy", where, line, current, None)
    return site, expander.used, chars


def _make_site(
    parsed: ParsedDockerfile,
    token: Chars,
    chars: Chars,
    kind: str,
    where: str,
    line: int,
    stage: int,
    platform: str | None,
) -> ImageSite:
    expanded = _text(chars)
    try:
        ref = parse_reference(expanded)
    except ReferenceError as exc:
        found = _ARG_REF_RE.search(_text(token))
        if found is not None:  # an ARG's default made it: a template's `ARG BASE=<base>`
            raise PlaceholderArgError(found.group(1), expanded, where, str(exc)) from None
        raise InputError(f"malformed image reference: {exc}", where=where) from None
    if expanded.startswith("docker://"):
        raise InputError(f"{expanded!r}: write a plain reference in a Dockerfile", where=where)
    token_end = max((o for _, o in token if o is not None), default=0) + 1
    site = ImageSite(
        path=parsed.path,
        line=line,
        kind=kind,
        written=_text(token),
        expanded=expanded,
        ref=ref,
        insert_at=token_end,
        digest_span=_digest_span(chars) if ref.digest else None,
        platform=platform,
        stage=stage,
    )
    parsed.sites.append(site)
    return site


def _digest_span(chars: Chars) -> tuple[int, int] | None:
    """File span of the trailing `@algo:hex` if its characters are contiguous in the file."""
    match = _DIGEST_TAIL_RE.search(_text(chars))
    if not match:
        return None
    offsets = [offset for _, offset in chars[match.start() :]]
    if None in offsets or offsets != list(range(offsets[0], offsets[0] + len(offsets))):
        return None
    return offsets[0], offsets[-1] + 1


def _place_insertions(usage: list[tuple[ImageSite, list[_ArgValue], Chars, Chars]]) -> None:
    """Decide where each unpinned site's digest goes.

    Right after the reference's last character when that character is in the instruction
    itself; in the ARG default when the whole reference is that default and every image
    that uses the ARG uses all of it; otherwise at the end of the instruction's token.
    """
    whole: dict[int, _ArgValue] = {}
    tainted: set[int] = set()
    for _, used, chars, _ in usage:
        source = _whole_source(used, chars)
        for value in used:
            if value is source:
                whole[id(value)] = value
            else:
                tainted.add(id(value))
    for site, used, chars, token in usage:
        if not chars or chars[-1][1] is None:
            continue
        last = chars[-1][1]
        source = _whole_source(used, chars)
        if source is not None:
            if id(source) not in tainted and source.span is not None:
                site.insert_at = source.span[1]
            if site.digest_span is not None and id(source) in tainted:
                site.digest_span = None
            continue
        trailing = [ch for ch, offset in token if offset is not None and offset > last]
        if all(ch in "\"'" for ch in trailing) and not any(_inside(v, last) for v in used):
            site.insert_at = last + 1
        if site.digest_span is not None and any(_inside(v, site.digest_span[0]) for v in used):
            site.digest_span = None


def _inside(value: _ArgValue, offset: int) -> bool:
    return value.span is not None and value.span[0] <= offset < value.span[1]


def _whole_source(used: list[_ArgValue], chars: Chars) -> _ArgValue | None:
    """The ARG value that supplies every character of `chars`, if there is one."""
    for value in used:
        if value.span is None or len(value.chars) != len(chars):
            continue
        if [o for _, o in value.chars] == [o for _, o in chars]:
            return value
    return None


# --------------------------------------------------------------------------- rewrite


def apply_edits(text: str, edits: Iterable[Edit], path: str = "Dockerfile") -> str:
    """Apply non-overlapping edits; identical duplicates (one ARG, two FROMs) apply once."""
    unique = sorted(set(edits), key=lambda edit: (edit.start, edit.end))
    for before, after in zip(unique, unique[1:], strict=False):
        if after.start < before.end or (after.start == before.start and after.end == before.end):
            raise InputError("two references want different rewrites of the same text", where=path)
    pieces: list[str] = []
    cursor = 0
    for edit in unique:
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.text)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


# --------------------------------------------------------------------------- instructions


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction as written, for rules that read the build's own steps.

    `args` is the text after the keyword and its leading `--flags` (continuations joined,
    comment lines inside them dropped, as BuildKit does); `lines` gives the physical line
    of each character of `args`, so a finding can point at the line a command is on.
    """

    keyword: str
    line: int
    end_line: int
    flags: tuple[tuple[str, str], ...]
    args: str
    lines: tuple[int, ...]
    heredocs: tuple[tuple[str, str, int], ...] = ()  # (delimiter, body, body's first line)
    stage: int = -1  # index of the FROM it belongs to; -1 before the first FROM

    def flag(self, name: str) -> str | None:
        """The value of `--name[=value]` ("" when given bare), None when absent."""
        return next((value for key, value in self.flags if key == name), None)

    def line_at(self, index: int) -> int:
        """The physical line of character `index` of `args` (the instruction's line past it)."""
        if 0 <= index < len(self.lines):
            return self.lines[index]
        return self.lines[-1] if self.lines else self.line


def instructions(text: str, path: str = "Dockerfile") -> list[Instruction]:
    """Every instruction of the file, in order (raises InputError on bad directives)."""
    _, logicals = _logical_lines(text, path)
    physical = _split_lines(text)
    starts = [offset for offset, _, _ in physical]
    out: list[Instruction] = []
    stage = -1
    for logical in logicals:
        tokens = _tokens(logical.chars)
        keyword = _text(tokens[0]).upper()
        flags, rest = _flags(tokens[1:]) if keyword in HEREDOC_INSTRUCTIONS else ({}, tokens[1:])
        if keyword == "FROM":
            stage += 1
        begin = _index_of(logical.chars, rest[0][0]) if rest else len(logical.chars)
        chars = logical.chars[begin:]
        lines = _lines_of(starts, [offset for _, offset in chars])
        last = max((o for _, o in logical.chars if o is not None), default=0)
        end_line = _line_of(starts, last)
        heredocs: list[tuple[str, str, int]] = []
        if keyword in HEREDOC_INSTRUCTIONS:
            end_line = _heredoc_bodies(_text(chars), physical, end_line, heredocs)
        out.append(
            Instruction(
                keyword=keyword,
                line=logical.line,
                end_line=end_line,
                flags=tuple((name, _text(value)) for name, value in flags.items()),
                args=_text(chars),
                lines=lines,
                heredocs=tuple(heredocs),
                stage=stage,
            )
        )
    return out


def _index_of(chars: Chars, item: tuple[str, int | None]) -> int:
    for index, candidate in enumerate(chars):
        if candidate is item or candidate == item:
            return index
    return len(chars)


def _line_of(starts: list[int], offset: int | None) -> int:
    import bisect

    return bisect.bisect_right(starts, offset or 0) if starts else 1


def _lines_of(starts: list[int], offsets: list[int | None]) -> tuple[int, ...]:
    """The 1-based line of each (ascending) offset, in one merge pass over line starts."""
    out: list[int] = []
    line = _line_of(starts, offsets[0]) if offsets else 1
    for offset in offsets:
        if offset is not None:
            while line < len(starts) and starts[line] <= offset:
                line += 1
        out.append(line)
    return tuple(out)


def _heredoc_bodies(
    args: str,
    physical: list[tuple[int, str, str]],
    end_line: int,
    out: list[tuple[str, str, int]],
) -> int:
    """Collect the bodies of `<<WORD` heredocs that follow line `end_line`; the new end line."""
    index = end_line  # 0-based index of the first line after the instruction
    for match in _HEREDOC_RE.finditer(args):
        strip_tabs, word = match.group(1) == "-", match.group(3)
        body: list[str] = []
        first = index + 1
        while index < len(physical):
            raw = physical[index][1]
            index += 1
            if (raw.lstrip("\t") if strip_tabs else raw) == word:
                break
            body.append(raw.lstrip("\t") if strip_tabs else raw)
        out.append((word, "\n".join(body) + "\n" if body else "", first))
    return max(index, end_line)
