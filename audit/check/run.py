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

import dataclasses
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.errors import EXIT_FINDINGS, EXIT_INFRA, EXIT_OK, InputError, ReproAuditError
from audit.core.escape import printable


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    level: str  # default level: error | warning | note
    summary: str
    #: how to fix it (SARIF help, `check --list-rules`); empty for the lock/image rules
    hint: str = ""
    tags: tuple[str, ...] = ("reproducibility",)


STEP_RULES = (
    Rule(
        "RA020",
        "conda-solve-at-build",
        "error",
        "a conda/mamba/micromamba install, create or update that solves at build time",
        "install the lock instead: `repro-audit build`, or `micromamba install -f "
        "conda-lock.yml` / `conda create --file conda-<platform>.lock`",
        ("reproducibility", "dockerfile", "conda"),
    ),
    Rule(
        "RA021",
        "package-not-in-lock",
        "error",
        "a step installs a conda or pip package the lock does not hold",
        "add it to environment.yml and run `repro-audit lock`, then install the lock",
        ("reproducibility", "dockerfile", "lock"),
    ),
    Rule(
        "RA022",
        "pip-unpinned",
        "warning",
        "a pip requirement on the command line without an exact version (==)",
        "pin it (`name==version`), or better lock the pip section with `repro-audit lock`",
        ("reproducibility", "dockerfile", "pip"),
    ),
    Rule(
        "RA023",
        "pip-requirements-unhashed",
        "warning",
        "`pip install -r FILE` without --require-hashes",
        "lock the requirements with hashes (`uv pip compile --generate-hashes`) and pass "
        "--require-hashes",
        ("reproducibility", "dockerfile", "pip", "supply-chain"),
    ),
    Rule(
        "RA024",
        "vcs-ref-moving",
        "warning",
        "git clone, pip git+URL or ADD of a repository without a commit",
        "check out a commit sha (`git checkout <sha>`, `git+https://…@<sha>`, `ADD …#<sha>`)",
        ("reproducibility", "dockerfile", "vcs"),
    ),
    Rule(
        "RA025",
        "pip-index-not-locked",
        "warning",
        "pip installs from an index the lock's pip packages do not come from",
        "install from the index the lock was made with",
        ("reproducibility", "dockerfile", "pip", "supply-chain"),
    ),
    Rule(
        "RA026",
        "os-package-unpinned",
        "warning",
        "apt-get/apt install, apk add, dnf/yum/microdnf/zypper install without versions",
        "pin versions (`curl=7.88.1-10`, `curl=8.5.0-r0`, `curl-7.76.1`) against a fixed "
        "mirror snapshot (snapshot.debian.org)",
        ("reproducibility", "dockerfile", "os-packages"),
    ),
    Rule(
        "RA027",
        "os-upgrade",
        "warning",
        "apt-get upgrade/dist-upgrade, apk upgrade, dnf/yum update: the whole system moves",
        "pin the base image by digest and install pinned versions from a snapshot mirror",
        ("reproducibility", "dockerfile", "os-packages"),
    ),
    Rule(
        "RA028",
        "pipe-to-shell",
        "error",
        'curl/wget output run by a shell or interpreter (`curl … | bash`, `sh -c "$(curl …)"`)',
        "download to a file, check its sha256 in the same step, then run it",
        ("reproducibility", "dockerfile", "supply-chain", "security"),
    ),
    Rule(
        "RA029",
        "download-unverified",
        "error",
        "an installer or archive downloaded and run or unpacked without a checksum check",
        'check it in the same step: `echo "<sha256>  file" | sha256sum -c -`',
        ("reproducibility", "dockerfile", "supply-chain", "security"),
    ),
    Rule(
        "RA030",
        "add-url-unchecked",
        "error",
        "`ADD http(s)://…` without --checksum=sha256:…",
        "add `--checksum=sha256:<hex>` to the ADD",
        ("reproducibility", "dockerfile", "supply-chain"),
    ),
    Rule(
        "RA031",
        "moving-url",
        "warning",
        "a download from a moving URL (`…-latest-…`, `/releases/latest/`, a branch on GitHub)",
        "download a versioned URL and check its sha256",
        ("reproducibility", "dockerfile"),
    ),
    Rule(
        "RA032",
        "language-package-unpinned",
        "warning",
        "npm/yarn/pnpm or gem installs without versions",
        "pin versions (`name@1.2.3`, `gem install name -v 1.2.3`) or install from a lockfile",
        ("reproducibility", "dockerfile"),
    ),
    Rule(
        "RA033",
        "build-time-value",
        "warning",
        "a step writes the build's date or a random value into the image",
        "derive it from SOURCE_DATE_EPOCH or pass it as a build ARG",
        ("reproducibility", "dockerfile"),
    ),
)

#: A file that cannot be read or parsed: a finding like any other, so every format shows it
#: at its line and the other files and projects are still checked (RA002 and RA008 are
#: the lock's and the explicit files').
FILE_RULES = (
    Rule(
        "RA037",
        "env-invalid",
        "error",
        "an environment file cannot be read or parsed (YAML error, invalid spec, not text)",
        "fix the file at the line shown; `repro-audit lock --check` says the same",
        ("reproducibility", "conda", "syntax"),
    ),
    Rule(
        "RA038",
        "dockerfile-invalid",
        "error",
        "a Dockerfile or compose file cannot be read or parsed (a malformed image digest, "
        "an unterminated heredoc, invalid YAML)",
        "fix the file at the line shown; a digest is `sha256:` and 64 hex digits",
        ("reproducibility", "dockerfile", "syntax"),
    ),
    Rule(
        "RA039",
        "image-lock-invalid",
        "error",
        "image-lock.json cannot be read or parsed",
        "restore it from git or run `repro-audit pin` to write it again",
        ("reproducibility", "image", "syntax"),
    ),
    Rule(
        "RA040",
        "policy-invalid",
        "error",
        "the policy (repro-audit.toml, [tool.repro-audit]) cannot be read or parsed; the "
        "project is checked without it",
        "fix the key at the line shown (`check --list-rules` lists rule ids and names)",
        ("reproducibility", "policy", "syntax"),
    ),
)

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
        Rule(
            "RA035",
            "record-mismatch",
            "error",
            "a locked record's name/version/build disagree with its URL's file name",
        ),
        Rule(
            "RA036",
            "base-needs-build-arg",
            "warning",
            "an image (FROM, COPY --from) named by a build ARG without a default",
            "give the ARG a default before the first FROM (`ARG NAME=<tag>`) and run "
            "`repro-audit pin`, so the digest is written in the Dockerfile and image-lock.json",
            ("reproducibility", "dockerfile", "image"),
        ),
        *STEP_RULES,
        *FILE_RULES,
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

    def __post_init__(self) -> None:
        # the one place findings are made safe to print, in every format
        object.__setattr__(self, "file", printable(self.file))
        object.__setattr__(self, "message", printable(self.message))

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


def finding_order(item: Finding) -> tuple[str, int, str, str, str]:
    """Finding's own order as a key: a sort of 150,000 findings by the dataclass's
    generated `__lt__` spent 3.5 s comparing, by this key a tenth of that."""
    return (item.file, item.line, item.rule_id, item.message, item.level)


def finding(rule_id: str, file: str, line: int, message: str) -> Finding:
    """A finding at the rule's default level."""
    return Finding(file, line, rule_id, message, RULES[rule_id].level)


_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+)(?::\d+)?$")


def error_finding(rule_id: str, error: ReproAuditError, name: str, *aliases: str) -> Finding:
    """A file that cannot be read or parsed, as a finding at the line its error names.

    `name` is the file as findings name it; the error may name it so or as one of
    `aliases` (the path it was opened by). A line in another file keeps that file's name.
    """
    where = error.where or name
    match = _WHERE.match(where)
    file, line = (match["file"], int(match["line"])) if match else (where, 0)
    if file in aliases or not file or os.path.isabs(file):
        file = name
    message = error.message + (f" ({error.hint})" if error.hint else "")
    return finding(rule_id, file, line, message.replace("\n", " "))


@dataclass(frozen=True, order=True)
class Unchecked:
    """Something `--online` could not ask about (no answer, 5xx): shown, not a finding."""

    file: str
    line: int
    what: str
    reason: str

    def __post_init__(self) -> None:
        for name in ("file", "what", "reason"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def message(self) -> str:
        return f"could not check {self.what} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line or None,
            "what": self.what,
            "reason": self.reason,
        }


@dataclass
class CheckOptions:
    root: Path = Path(".")
    online: bool = False
    timeout: float = 10.0
    insecure: frozenset[str] = frozenset()
    #: paths in every output are relative to this (default: git top level, else `root`)
    repo_root: Path | None = None
    #: only the projects whose files changed since this git revision
    changed_since: str | None = None
    #: only the projects these files (or folders), relative to `root`, belong to
    only: tuple[str, ...] | None = None


@dataclass
class CheckResult:
    """Findings plus what was looked at; the CLI renders it and exits with `exit_code`."""

    root: Path
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files read, relative to the repo root
    online_checked: int = 0
    online_unreachable: int = 0
    unchecked: list[Unchecked] = field(default_factory=list)
    #: the checked directory relative to the repository root ("." when it is the root)
    base: str = "."
    #: the project folders checked, relative to the checked directory ("." for its own)
    projects: list[str] = field(default_factory=list)
    #: why nothing could be checked (bad usage, exit 2); the report then says only that
    error: str | None = None
    failed_exit: int = 0

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.failed_exit
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
            "root": self.base,
            "files": sorted(self.files),
            "projects": list(self.projects),
            "findings": [f.to_json() for f in self.findings],
            "summary": self.counts(),
            "online": {
                "checked": self.online_checked,
                "unreachable": self.online_unreachable,
                "unchecked": [u.to_json() for u in self.unchecked],
            },
            "exit_code": self.exit_code,
            **({"error": self.error} if self.error is not None else {}),
        }


# --------------------------------------------------------------------------- paths


def rel(root: Path, path: Path | str) -> str:
    """`path` relative to root, POSIX style (what findings and annotations show)."""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


def repository_base(root: Path, repo_root: Path | None) -> str:
    """`root` relative to the repository root (`--root`, else git's top level), POSIX.

    CI annotations and SARIF name files from the repository root: `check services/ml`
    must say `services/ml/conda-lock.yml`. Outside a git repository the checked
    directory is the root.
    """
    if repo_root is None:
        return "."
    base = Path(os.path.relpath(root.resolve(), Path(repo_root).resolve())).as_posix()
    return base


def rebase(result: CheckResult, base: str) -> None:
    """Prefix every file name with the checked directory's place in the repository."""
    result.base = base
    if base == ".":
        return

    def join(name: str) -> str:
        return posixpath.normpath(f"{base}/{name}") if name else base

    result.findings = [dataclasses.replace(f, file=join(f.file)) for f in result.findings]
    result.unchecked = [dataclasses.replace(u, file=join(u.file)) for u in result.unchecked]
    result.files = [join(f) for f in result.files]
    result.projects = [join(p) for p in result.projects]


def instruction_spans(name: str, text: str) -> list[tuple[int, int]] | None:
    """A Dockerfile's instructions as (first line, last line), for suppression comments."""
    from audit.dockerfile.naming import is_dockerfile

    if not is_dockerfile(name):
        return None
    from audit.dockerfile.parser import instructions

    try:
        return [(item.line, item.end_line) for item in instructions(text, name)]
    except InputError:
        return None
