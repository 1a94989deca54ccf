"""`repro-audit check`: offline pre-merge rules over a project directory → findings.

The command a team runs in every pull request and in pre-commit, so it must be right, fast
and quiet when all is well. It reads what is in the directory (environment.yml,
conda-lock.yml, explicit locks, Dockerfiles, compose files, image locks, a policy) and never
solves: the lock's input digest says "in sync" in microseconds; the locked records are
then checked against every spec semantically (rattler's MatchSpec), which catches a lock
whose hash was edited by hand. Only when the digest differs is conda-lock imported, to
compute its content hash and agree exactly with `lock --check`.

Each finding names a rule, a level, a message and file:line. `error` and `warning` fail
the check (exit 1); `note` does not. Bad input (an environment file or policy that cannot
be read) is exit 2 with file:line; a corrupt or missing lock is a finding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.errors import EXIT_FINDINGS, EXIT_INFRA, EXIT_OK


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    level: str  # default level: error | warning | note
    summary: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("RA001", "lock-missing", "error", "environment.yml has no conda-lock.yml beside it"),
        Rule("RA002", "lock-invalid", "error", "conda-lock.yml cannot be read or parsed"),
        Rule(
            "RA003",
            "platform-missing",
            "error",
            "a platform the environment asks for is not locked",
        ),
        Rule(
            "RA004",
            "platform-extra",
            "error",
            "a locked platform the environment no longer asks for",
        ),
        Rule(
            "RA005", "lock-stale", "error", "environment.yml changed since the lock (content hash)"
        ),
        Rule(
            "RA006",
            "spec-unmet",
            "error",
            "a spec of environment.yml is not met by the locked records",
        ),
        Rule(
            "RA007",
            "package-unrequested",
            "error",
            "a locked package nothing in the environment needs",
        ),
        Rule(
            "RA008",
            "explicit-mismatch",
            "error",
            "conda-<platform>.lock disagrees with conda-lock.yml",
        ),
        Rule("RA009", "pip-hash-missing", "error", "a locked pip package has no sha256"),
        Rule("RA010", "url-credentials", "error", "a URL carries a password or token"),
        Rule("RA011", "image-unpinned", "error", "an image reference has no digest"),
        Rule(
            "RA012",
            "image-lock-mismatch",
            "error",
            "a pinned digest is not the one in image-lock.json",
        ),
        Rule("RA013", "channel-not-allowed", "error", "policy: a channel outside allowed-channels"),
        Rule(
            "RA014", "package-banned", "error", "policy: a locked package matches banned-packages"
        ),
        Rule("RA015", "platform-required", "error", "policy: a required platform is not locked"),
        Rule("RA016", "lock-too-old", "error", "policy: the lock is older than max-lock-age-days"),
        Rule(
            "RA017",
            "artifact-unavailable",
            "error",
            "--online: a locked artifact cannot be downloaded",
        ),
        Rule(
            "RA018",
            "image-digest-unavailable",
            "error",
            "--online: a pinned digest is gone from its registry",
        ),
        Rule(
            "RA019",
            "pip-local-source",
            "warning",
            "a pip source no index can lock (`-e .`, a path): not in the lock",
        ),
        Rule(
            "RA034",
            "pip-vcs-unpinned",
            "error",
            "a locked VCS pip package names a branch or tag, not a full commit sha",
        ),
    )
}
LEVELS = ("error", "warning", "note")


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at file:line. Ordered by file, line, rule, message (deterministic output)."""

    file: str
    line: int  # 0 when the finding is about the whole file
    rule_id: str
    message: str
    level: str = "error"

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule": self.rule.name,
            "level": self.level,
            "message": self.message,
            "file": self.file,
            "line": self.line or None,
        }


def finding(rule_id: str, file: str, line: int, message: str) -> Finding:
    """A finding at the rule's default level."""
    return Finding(file, line, rule_id, message, RULES[rule_id].level)


@dataclass
class CheckOptions:
    root: Path = Path(".")
    online: bool = False
    timeout: float = 10.0
    insecure: frozenset[str] = frozenset()


@dataclass
class CheckResult:
    """Findings plus what was looked at; the CLI renders it and exits with `exit_code`."""

    root: Path
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files read, relative to root
    online_checked: int = 0
    online_unreachable: int = 0

    @property
    def exit_code(self) -> int:
        if any(f.level in ("error", "warning") for f in self.findings):
            return EXIT_FINDINGS
        if self.online_unreachable and not self.online_checked:
            return EXIT_INFRA
        return EXIT_OK

    def counts(self) -> dict[str, int]:
        return {level: sum(1 for f in self.findings if f.level == level) for level in LEVELS}

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "root": self.root.as_posix(),
            "files": sorted(self.files),
            "findings": [f.to_json() for f in self.findings],
            "summary": self.counts(),
            "online": {"checked": self.online_checked, "unreachable": self.online_unreachable},
            "exit_code": self.exit_code,
        }


# --------------------------------------------------------------------------- discovery

ENV_NAMES = ("environment.yml", "environment.yaml")
LOCK_NAME = "conda-lock.yml"
_SKIP_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"}
)


def discover_images(root: Path) -> tuple[list[Path], list[Path]]:
    """Dockerfiles (`Dockerfile`, `*.Dockerfile`, `Dockerfile.*`) and compose files under root."""
    dockerfiles: list[Path] = []
    compose: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            lower = name.lower()
            if lower.endswith(".dockerignore"):
                continue
            if (
                name == "Dockerfile"
                or name.endswith(".Dockerfile")
                or name.startswith("Dockerfile.")
            ):
                dockerfiles.append(Path(dirpath) / name)
            elif lower in (
                "docker-compose.yml",
                "docker-compose.yaml",
                "compose.yml",
                "compose.yaml",
            ):
                compose.append(Path(dirpath) / name)
    return dockerfiles, compose


def rel(root: Path, path: Path | str) -> str:
    """`path` relative to root, POSIX style (what findings and annotations show)."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return Path(path).as_posix()
