"""The commands a `RUN` step executes, from its shell script: words, pipes and lines.

Rules about what a build does (`pip install x`, `curl … | bash`) need the shell's own
view of a script, not a regex over it: `&&`, `;`, `|`, subshells, `if`/`for` bodies,
quotes (`"a && b"` is one word), heredocs and `sh -c '…'` nested scripts. The grammar is
tree-sitter's bash grammar (maintained, error-tolerant: a script it cannot fully parse
still yields the commands it can, never an exception), walked once per script.

Wrappers that only run another command (`sudo`, `env A=1`, `conda run -n x`, `time`,
`nohup`, `xargs`, `sh -c`, `bash -c`, `su -c`, `eval`) are unwrapped, so the command a
rule sees is the one that does the work.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_ESCAPE_RE = re.compile(r"\\(.)", re.S)


@dataclass(frozen=True)
class Command:
    """One simple command: its words without quotes, where it starts, what it pipes into."""

    words: tuple[str, ...]
    offset: int  # character offset of the command in the outermost script
    pipe_to: tuple[str, ...] = ()  # the (unwrapped) words of the next command in a pipeline
    piped_from: bool = False  # its stdin is another command's output

    @property
    def name(self) -> str:
        """The program's base name (`/usr/bin/pip3` → `pip3`)."""
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""

    @property
    def text(self) -> str:
        return " ".join(self.words)


@functools.cache
def _parser():  # type: ignore[no-untyped-def]
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


#: a script of plain words only (no quotes, expansions, operators, comments, escapes)
_PLAIN = re.compile(r"[\w \t./=:@+,%^-]*")


def commands(script: str, base: int = 0) -> list[Command]:
    """Every simple command of `script`, in source order; offsets are `base` + index."""
    if _PLAIN.fullmatch(script):
        # one simple command whose words are split by blanks, as the shell would split
        # them: no need to load the grammar (the common `RUN true`, `RUN make install`)
        lead = len(script) - len(script.lstrip())
        nested = _nested_script(script.split())
        if nested is not None:
            return [Command(c.words, base + lead) for c in commands(nested)]
        words = unwrap(script.split())
        return [Command(tuple(words), base + lead)] if words else []
    data = script.encode("utf-8")
    tree = _parser().parse(data)
    to_char = _offsets(script, data)
    out: list[Command] = []
    _walk(tree.root_node, data, to_char, base, out)
    return out


def _offsets(script: str, data: bytes):  # type: ignore[no-untyped-def]
    if len(data) == len(script):
        return lambda byte: byte
    return lambda byte: len(data[:byte].decode("utf-8", "replace"))


def _walk(node, data: bytes, to_char, base: int, out: list[Command]) -> None:  # type: ignore[no-untyped-def]
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "command":
            _command(current, data, to_char, base, out)
        stack.extend(reversed(current.children))


def _command(node, data: bytes, to_char, base: int, out: list[Command]) -> None:  # type: ignore[no-untyped-def]
    words = _words(node)
    offset = base + to_char(node.start_byte)
    nested = _nested_script(words)
    if nested is not None:
        # the script of `sh -c '…'` is parsed as a script of its own; its offsets are the
        # outer command's (the nested text lost its position when it was dequoted)
        for inner in commands(nested):
            out.append(Command(inner.words, offset, inner.pipe_to, inner.piped_from))
        return
    words = unwrap(words)
    if not words:
        return
    piped_from, pipe_to = _pipe_neighbours(node)
    out.append(Command(tuple(words), offset, tuple(unwrap(pipe_to)), piped_from))


def _pipe_neighbours(node) -> tuple[bool, list[str]]:  # type: ignore[no-untyped-def]
    """Whether `node` reads a pipe, and the words of the command it writes into."""
    child = node
    parent = node.parent
    if parent is not None and parent.type == "redirected_statement":
        child, parent = parent, parent.parent
    if parent is None or parent.type != "pipeline":
        return False, []
    members = [c for c in parent.named_children if c.type != "comment"]
    index = next((i for i, c in enumerate(members) if c.id == child.id), -1)
    piped_from = index > 0
    if 0 <= index < len(members) - 1:
        nxt = members[index + 1]
        if nxt.type == "redirected_statement" and nxt.named_children:
            nxt = nxt.named_children[0]
        if nxt.type == "command":
            words = _words(nxt)
            nested = _nested_script(words)
            return piped_from, (["sh", "-c", nested] if nested is not None else words)
    return piped_from, []


def _words(node) -> list[str]:  # type: ignore[no-untyped-def]
    words: list[str] = []
    for child in node.named_children:
        if child.type in _REDIRECTS or child.type in ("variable_assignment", "comment"):
            continue
        if child.type == "command_name":
            child = child.named_children[0] if child.named_children else child
        words.append(word_text(child))
    return words


def word_text(node) -> str:  # type: ignore[no-untyped-def]
    """A word as the shell would pass it, quotes removed; expansions stay as written."""
    kind = node.type
    raw = node.text.decode("utf-8", "replace")
    if kind == "raw_string":
        return raw[1:-1]
    if kind == "string":
        inner = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
        return re.sub(r'\\([$`"\\\n])', r"\1", inner)
    if kind == "ansi_c_string":
        return raw[2:-1]
    if kind == "concatenation":
        return "".join(word_text(child) for child in node.children)
    if kind == "word":
        return _ESCAPE_RE.sub(r"\1", raw)
    return raw


def _nested_script(words: list[str]) -> str | None:
    """The script of `sh -c SCRIPT`, `bash -ec SCRIPT`, `su user -c SCRIPT`, `eval …`."""
    words = unwrap(words)
    if not words:
        return None
    name = words[0].rsplit("/", 1)[-1]
    if name == "eval":
        return " ".join(words[1:])
    if name in _SHELLS or name in ("su", "runuser"):
        for index, word in enumerate(words[1:], start=1):
            if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
                return words[index + 1] if index + 1 < len(words) else None
    return None


_RUNNERS = {
    # program: options that take a value (skipped with it)
    "sudo": {"-u", "-g", "-p", "-C", "-D", "-h", "-r", "-t", "-U"},
    "nohup": set(),
    "time": set(),
    "nice": {"-n"},
    "stdbuf": set(),
    "xargs": {"-n", "-I", "-P", "-d", "-L", "-s", "-a"},
    "gosu": set(),
    "exec": set(),
    "command": set(),
    "builtin": set(),
}


def unwrap(words: list[str] | tuple[str, ...]) -> list[str]:
    """Strip the programs that only run another one: `sudo -E pip install x` → `pip install x`."""
    words = list(words)
    for _ in range(8):
        if not words:
            return words
        name = words[0].rsplit("/", 1)[-1]
        if name == "env":
            rest = words[1:]
            while rest and ("=" in rest[0] or rest[0].startswith("-")):
                rest = rest[1:]
            words = rest
        elif name in ("conda", "mamba", "micromamba") and len(words) > 1 and words[1] == "run":
            words = _skip_options(words[2:], {"-n", "--name", "-p", "--prefix", "--cwd"})
        elif name in _RUNNERS:
            takes = _RUNNERS[name]
            rest = _skip_options(words[1:], takes)
            if name == "gosu" and rest:
                rest = rest[1:]  # the user
            words = rest
        else:
            return words
    return words


def _skip_options(words: list[str], takes_value: set[str]) -> list[str]:
    index = 0
    while index < len(words) and words[index].startswith("-"):
        word = words[index]
        index += 1
        if word == "--":
            break
        if word in takes_value and "=" not in word:
            index += 1
    return words[index:]


def is_posix_shell(shell: list[str]) -> bool:
    """Does a `SHELL ["…", "-c"]` run RUN lines with a POSIX shell (after any runner)?"""
    words = unwrap(shell)
    return bool(words) and words[0].rsplit("/", 1)[-1] in _SHELLS
