"""Rules for the Dockerfile's own steps: what RUN, ADD and COPY bring into the image.

The environment can be locked and the base pinned, and a step can still solve, upgrade or
download at build time, so that two builds of the same commit differ. Each RUN script is
read as the shell reads it (audit.dockerfile.steps) and every command is matched against
the rules of step_packages and step_downloads; ADD is checked here. A finding points at
the line of the command inside a multi-line RUN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from audit.check.rules.step_downloads import Download, download_hits, git_hits
from audit.check.rules.step_packages import (
    Locked,
    conda_hits,
    language_hits,
    os_hits,
    pip_hits,
)
from audit.check.run import Finding, finding, rel
from audit.core.redact import redact_url
from audit.dockerfile.parser import Instruction, instructions
from audit.dockerfile.steps import Step, run_steps

_URL_RE = re.compile(r"^(?:https?|ftp)://", re.I)
_GIT_URL_RE = re.compile(r"(?:\.git(?:#|$)|^git@)")
_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
_NONDETERMINISTIC = re.compile(r"\$\(\s*date\b|`\s*date\b|\$RANDOM\b|\$\{RANDOM\}|\$\(\s*uuidgen")
_SHOWN = 70


def check_dockerfiles(
    root: Path,
    dockerfiles: Iterable[Path],
    texts: dict[str, str],
    locked: Locked,
    broken: frozenset[str] | set[str] = frozenset(),
) -> list[Finding]:
    """Findings for every Dockerfile's RUN/ADD steps (files already read are in `texts`;
    the `broken` ones, which do not parse, have their finding already)."""
    out: list[Finding] = []
    for path in dockerfiles:
        name = rel(root, path)
        text = texts.get(name)
        if text is None or name in broken:
            continue
        out.extend(check_text(text, name, locked))
    return out


def check_text(text: str, name: str, locked: Locked | None = None) -> list[Finding]:
    """The step findings of one Dockerfile's text (no file system access)."""
    locked = locked or Locked()
    items = instructions(text, name)
    out: list[Finding] = []
    pending: list[Download] = []
    lines: dict[int, int] = {}  # id of a download's command → its line
    for step in run_steps(items):
        out.extend(_step_findings(step, name, locked, pending, lines))
    for item in items:
        if item.keyword == "ADD":
            out.extend(_add_findings(item, name))
    return sorted({replace(f, message=redact_url(f.message)) for f in out})


def _step_findings(
    step: Step, name: str, locked: Locked, pending: list[Download], lines: dict[int, int]
) -> list[Finding]:
    out: list[Finding] = []
    for command in step.commands:
        lines.setdefault(id(command), step.line_of(command))

    def add(command, rule_id: str, message: str) -> None:  # type: ignore[no-untyped-def]
        line = lines.get(id(command), step.instruction.line)
        text = redact_url(f"{_show(command)}: {message}")
        out.append(finding(rule_id, name, line, text))

    for command in step.commands:
        for hits in (
            conda_hits(command, locked),
            pip_hits(command, locked),
            os_hits(command),
            language_hits(command),
        ):
            for rule_id, message in hits:
                add(command, rule_id, message)
        if any(_NONDETERMINISTIC.search(w) for w in command.words) and _writes(command):
            add(
                command,
                "RA033",
                "writes the build's date or a random value into the image, "
                "so no two builds are identical; use SOURCE_DATE_EPOCH or a build ARG",
            )
    for command, rule_id, message in download_hits(step.commands, pending):
        add(command, rule_id, message)
    for command, rule_id, message in git_hits(step.commands):
        add(command, rule_id, message)
    return out


def _writes(command) -> bool:  # type: ignore[no-untyped-def]
    """echo/printf/tee/sed of a date into a file: only output that lands in the image."""
    return command.name in ("echo", "printf", "tee", "sed", "cat", "touch", "mkdir", "cp", "mv")


def _show(command) -> str:  # type: ignore[no-untyped-def]
    text = " ".join(command.words)
    return f"`{text[:_SHOWN]}…`" if len(text) > _SHOWN else f"`{text}`"


def _add_findings(item: Instruction, name: str) -> list[Finding]:
    """`ADD https://…` without `--checksum=sha256:…`, `ADD …git#ref` without a commit."""
    words = item.args.split()
    if item.args.lstrip().startswith("["):
        import json

        try:
            words = [str(w) for w in json.loads(item.args)]
        except ValueError:
            return []
    sources = words[:-1]
    out: list[Finding] = []
    for source in sources:
        if _GIT_URL_RE.search(source):
            ref = source.split("#", 1)[1].split(":", 1)[0] if "#" in source else ""
            if not _SHA_RE.match(ref) and "$" not in ref:
                moving = f"ref {ref}" if ref else "the default branch"
                out.append(
                    finding(
                        "RA024",
                        name,
                        item.line,
                        (f"`ADD {source}` takes {moving}, which moves; add #<commit sha>"),
                    )
                )
        elif _URL_RE.match(source):
            checksum = item.flag("checksum")
            if not checksum:
                out.append(
                    finding(
                        "RA030",
                        name,
                        item.line,
                        (
                            f"`ADD {source}` without --checksum=sha256:…: the file can change "
                            "between builds and nothing checks it; add --checksum=sha256:<hex>"
                        ),
                    )
                )
            if re.search(r"(?:^|[/_.-])latest(?:[/_.-]|$)", source, re.I):
                out.append(
                    finding(
                        "RA031",
                        name,
                        item.line,
                        (f"{source} is a moving URL (latest): use a versioned URL"),
                    )
                )
    return out


def locked_view(project) -> Locked:  # type: ignore[no-untyped-def]
    """The lock's package names and pip hosts, from check's conda project (None → empty)."""
    if project is None or project.scanned is None:
        return Locked()
    from urllib.parse import urlsplit

    conda = {n: e.version for entries in project.conda.values() for n, e in entries.items()}
    pip = {n: e.version for entries in project.pip.values() for n, e in entries.items()}
    hosts = frozenset(
        urlsplit(e.url).hostname or ""
        for entries in project.pip.values()
        for e in entries.values()
        if e.url
    ) - {""}
    return Locked(conda=conda, pip=pip, pip_hosts=hosts)
