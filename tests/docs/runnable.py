"""The runnable parts of a documentation page, in page order.

The docs mark what a test runs, so every command a guide shows is tried:

- a ```` ```console ```` block: each `$ ` line is a command (a line ending in `\\` goes on);
  the other lines are sample output. A command expects exit 0, or the code its trailing
  comment names (`$ repro-audit check .    # exit 1`);
- a fenced block with a `title="PATH"` (`` ```yaml title="environment.yml" ``) is a file
  the reader writes: the test writes it at that point;
- `<!-- docs-test: docker -->` on the line before a block: it (and everything after it on
  the page) needs Docker and a local registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)(?P<lang>[\w-]*)(?P<attrs>.*)$")
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
EXIT = re.compile(r"#\s*exit\s+(?P<code>\d+)\s*$")
DOCKER_MARK = "<!-- docs-test: docker -->"


@dataclass(frozen=True)
class Step:
    """One thing a reader does: write a file, or run a command and get an exit code."""

    kind: str  # "file" | "command"
    text: str  # the file's content, or the command line
    path: str = ""  # the file's path (kind "file")
    expect: int = 0  # the exit code the page says the command ends with
    docker: bool = False
    line: int = 0  # where the page shows it (1-based)


def _commands(body: list[str], first_line: int, docker: bool) -> list[Step]:
    steps: list[Step] = []
    pending: list[str] = []
    start = 0
    for offset, text in enumerate(body):
        if not pending and not text.startswith("$ "):
            continue  # sample output
        if not pending:
            start = first_line + offset
            text = text[2:]
        pending.append(text.removesuffix("\\").rstrip())
        if text.endswith("\\"):
            continue
        command = " ".join(part.strip() for part in pending)
        pending = []
        match = EXIT.search(command)
        steps.append(
            Step(
                "command",
                command,
                expect=int(match["code"]) if match else 0,
                docker=docker,
                line=start,
            )
        )
    return steps


def page_steps(path: Path) -> list[Step]:
    """Every runnable step of a page, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    steps: list[Step] = []
    docker = False
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        docker = docker or (index > 0 and lines[index - 1].strip() == DOCKER_MARK)
        indent, fence = match["indent"], match["fence"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
        title = TITLE.search(match["attrs"])
        if match["lang"] == "console":
            steps += _commands(body, index + 2, docker)
        elif title:
            steps.append(
                Step(
                    "file",
                    "\n".join(body) + "\n",
                    path=title["title"],
                    docker=docker,
                    line=index + 1,
                )
            )
        index = end + 1
    return steps
