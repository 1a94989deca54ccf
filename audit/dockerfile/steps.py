"""A Dockerfile's RUN steps as the commands they execute, with the line of each one.

Shell form (`RUN a && b`), exec form (`RUN ["pip", "install", "x"]`), heredoc scripts
(`RUN <<EOF` … `EOF`, `RUN bash <<EOF`) and `SHELL [...]` are handled here, so a rule sees
a list of commands and never the Dockerfile syntax around them. A `SHELL` that is not a
POSIX shell (PowerShell, cmd) makes that stage's RUN lines unreadable: they are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from audit.dockerfile.parser import Instruction
from audit.dockerfile.shell import Command, commands, is_posix_shell

_HEREDOC_ONLY = re.compile(
    r"^\s*(?:(?:/\S*/)?(?:ba|da|a|z)?sh(?:\s+-\w+)*\s+)?<<-?[\"']?(\w+)[\"']?\s*$"
)


@dataclass(frozen=True)
class Step:
    """One RUN instruction and the commands its script runs."""

    instruction: Instruction
    commands: tuple[Command, ...]
    script: str
    _lines: tuple[int, ...]

    def line_of(self, command: Command) -> int:
        """The physical line a command starts on."""
        if 0 <= command.offset < len(self._lines):
            return self._lines[command.offset]
        return self.instruction.line


def run_steps(items: list[Instruction]) -> list[Step]:
    """Every RUN of the file as a Step, in order."""
    steps: list[Step] = []
    posix = True
    stage = None
    for item in items:
        if item.stage != stage:
            stage, posix = item.stage, True
        if item.keyword == "SHELL":
            shell = _exec_form(item.args)
            posix = shell is None or is_posix_shell(shell)
        elif item.keyword == "RUN" and posix:
            steps.append(_step(item))
    return steps


def _exec_form(args: str) -> list[str] | None:
    text = args.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _step(item: Instruction) -> Step:
    exec_words = _exec_form(item.args)
    if exec_words is not None:
        # exec form: no shell unless it names one (`["sh", "-c", "…"]`, unwrapped by commands)
        script = " ".join(_quote(w) for w in exec_words)
        lines = tuple(item.line for _ in script)
        return Step(item, tuple(commands(script)), script, lines)
    heredoc = _HEREDOC_ONLY.match(item.args)
    if heredoc and item.heredocs:
        word = heredoc.group(1)
        body, first = next(((b, f) for w, b, f in item.heredocs if w == word), ("", item.line))
        lines = _body_lines(body, first)
        return Step(item, tuple(commands(body)), body, lines)
    script, lines = item.args, item.lines
    # heredoc bodies used as data (`cat <<EOF > f`) are given back to the shell parser
    # so it knows where they end; their characters keep the body's lines
    for word, body, first in item.heredocs:
        script += "\n" + body + word
        lines += (item.end_line,) + _body_lines(body + word, first)
    return Step(item, tuple(commands(script)), script, lines)


def _body_lines(body: str, first: int) -> tuple[int, ...]:
    lines: list[int] = []
    line = first
    for ch in body:
        lines.append(line)
        if ch == "\n":
            line += 1
    return tuple(lines)


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)
