"""The text `init` writes: the driver settings, the pre-commit entry, the CI files.

Pure functions of `Settings` (no I/O, no clock), so the same repository always gets
byte-identical files. The driver name and command line are the ones the merge-lock page
documents, so clones set up by hand and by `init` agree.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import yaml

#: the merge driver of docs/commands/merge-lock.md
DRIVER = "repro-audit-lock"
DRIVER_TITLE = "repro-audit conda-lock.yml merge"
DRIVER_COMMAND = "repro-audit merge-lock %O %A %B %P"
#: every file `lock` writes: conda-lock.yml and the explicit conda-<platform>.lock files
LOCK_PATTERNS = ("conda-lock.yml", "conda-*.lock")

#: the hook of the shipped .pre-commit-hooks.yaml that runs the gate
HOOK_REPO = "https://github.com/repro-audit/repro-audit"
HOOK_ID = "repro-audit-check"
#: the composite action of the repository's action.yml
ACTION = "repro-audit/repro-audit"
PYTHON = "3.11"

GITHUB_GATE = ".github/workflows/repro-audit.yml"
GITHUB_SCHEDULED = ".github/workflows/repro-audit-drift.yml"
GITLAB_CI = ".gitlab-ci.yml"
GITLAB_JOBS = ".gitlab/repro-audit.yml"

HEADER = "# Written by `repro-audit init`"


@dataclass(frozen=True)
class DriftTarget:
    """One environment's drift report: its lock, its environment files, report names."""

    lock: str
    env_files: tuple[str, ...]
    stem: str  # report file stem: drift, or drift-services-ml

    def command(self) -> str:
        """`repro-audit drift .` with the files of this environment and its reports."""
        words = ["repro-audit", "drift", "."]
        if (self.lock, self.env_files) != ("conda-lock.yml", ("environment.yml",)):
            words += ["--lockfile", self.lock]
            for env in self.env_files:
                words += ["-f", env]
        words += ["--report", f"{self.stem}.html", "--report", f"{self.stem}.md"]
        return " ".join(shlex.quote(word) for word in words)


@dataclass(frozen=True)
class Settings:
    """What the generated files depend on."""

    version: str
    targets: tuple[DriftTarget, ...]
    record: str = "build-record.json"
    sarif: bool = False
    gitlab_stage: str = "test"

    @property
    def package(self) -> str:
        return f"repro-audit=={self.version}"


def scalar(text: str) -> str:
    """`text` as a YAML value: as it is when YAML reads it back unchanged, else quoted
    (a JSON string is a YAML double-quoted scalar), so a path with `: ` or `#` is safe."""
    try:
        if yaml.safe_load(f"k: {text}") == {"k": text}:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)


def git_config() -> dict[str, str]:
    """The per-clone settings that define the driver (git never commits them)."""
    return {f"merge.{DRIVER}.name": DRIVER_TITLE, f"merge.{DRIVER}.driver": DRIVER_COMMAND}


def precommit_entry(version: str, indent: int = 2, offset: int = 2) -> str:
    """One `repos:` item running the gate hook; `indent` spaces before each dash and
    `offset` columns from a dash to its content, as the file it joins writes them."""
    dash = " " * indent + "-" + " " * (offset - 1)
    body = " " * (indent + offset)
    inner = body + " " * indent + "-" + " " * (offset - 1)
    return f"{dash}repo: {HOOK_REPO}\n{body}rev: v{version}\n{body}hooks:\n{inner}id: {HOOK_ID}\n"


def precommit_config(version: str) -> str:
    return f"repos:\n{precommit_entry(version)}"


def _items(lines: list[str], indent: str, key: str = "") -> str:
    """Sequence items (`- run: CMD` or `- CMD`), each value quoted when it must be."""
    return "".join(f"{indent}- {key}{scalar(line)}\n" for line in lines)


def github_gate(settings: Settings) -> str:
    """The gate on pull requests: `check` at the root (every project of a monorepo), as
    annotations, and as SARIF for code scanning with `--sarif`."""
    permissions = "  contents: read\n"
    inputs = "          path: .\n"
    if settings.sarif:
        permissions += "  security-events: write   # the SARIF upload\n"
        inputs += "          sarif-file: repro-audit.sarif\n"
    return (
        f"{HEADER}: the pre-merge gate (docs: guides/ci.md).\n"
        "name: repro-audit\n"
        "on:\n"
        "  pull_request:\n"
        "permissions:\n"
        f"{permissions}"
        "jobs:\n"
        "  check:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v5\n"
        f"      - uses: {ACTION}@v{settings.version}\n"
        "        with:\n"
        f"{inputs}"
    )


def _github_setup(fetch_depth: bool, settings: Settings) -> str:
    checkout = "      - uses: actions/checkout@v5\n"
    if fetch_depth:
        checkout += "        with:\n          fetch-depth: 0   # drift reads the lock's history\n"
    return (
        checkout + "      - uses: actions/setup-python@v6\n"
        "        with:\n"
        f'          python-version: "{PYTHON}"\n'
        f'      - run: python -m pip install "{settings.package}"\n'
    )


def github_scheduled(settings: Settings) -> str:
    """Mondays: the drift report of each environment, and `verify` of the build record."""
    commands = [f"{t.command()} || test $? = 1" for t in settings.targets]
    drift = _items(commands, "      ", "run: ")
    verify = scalar(f"repro-audit verify {shlex.quote(settings.record)}")
    notice = scalar(
        f'echo "::notice::no {settings.record} committed yet '
        f'(repro-audit build --record {shlex.quote(settings.record)} writes it)"'
    )
    present = f"hashFiles('{settings.record}') != ''"
    absent = f"hashFiles('{settings.record}') == ''"
    return (
        f"{HEADER}: the weekly drift report and verify of the last build record.\n"
        "name: repro-audit drift\n"
        "on:\n"
        "  schedule:\n"
        '    - cron: "0 6 * * 1"   # Mondays, 06:00 UTC\n'
        "  workflow_dispatch:\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  drift:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{_github_setup(True, settings)}"
        "      # exit 1 is drift found: reported here, not a failed job\n"
        f"{drift}"
        '      - run: cat drift*.md >> "$GITHUB_STEP_SUMMARY"\n'
        "      - uses: actions/upload-artifact@v6\n"
        "        with:\n"
        "          name: drift-report\n"
        "          path: drift*.html\n"
        "  verify:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{_github_setup(False, settings)}"
        f"      - if: {present}\n"
        f"        run: {verify}\n"
        f"      - if: {absent}\n"
        f"        run: {notice}\n"
    )


def gitlab_jobs(settings: Settings) -> str:
    """The same three jobs for GitLab CI, in a file `.gitlab-ci.yml` includes."""
    drift = _items([f"{t.command()} || test $? = 1" for t in settings.targets], "    ")
    stage = f"  stage: {settings.gitlab_stage}\n  image: python:{PYTHON}-slim\n"
    install = f'    - pip install "{settings.package}"\n'
    return (
        f"{HEADER}: the gate on merge requests, and on scheduled pipelines the\n"
        "# drift report and verify of the last build record (docs: guides/ci.md).\n"
        "repro-audit-check:\n"
        f"{stage}"
        "  rules:\n"
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"\n'
        "  script:\n"
        f"{install}"
        "    - repro-audit check . --format junit -o repro-audit.junit.xml || true\n"
        "    - repro-audit check .\n"
        "  artifacts:\n"
        "    when: always\n"
        "    reports:\n"
        "      junit: repro-audit.junit.xml\n"
        "\n"
        "repro-audit-drift:\n"
        f"{stage}"
        "  rules:\n"
        '    - if: $CI_PIPELINE_SOURCE == "schedule"\n'
        "  variables:\n"
        '    GIT_DEPTH: "0"   # drift reads the lock\'s history\n'
        "  script:\n"
        "    - apt-get update -qq && apt-get install -y -qq git\n"
        f"{install}"
        "    # exit 1 is drift found: reported here, not a failed job\n"
        f"{drift}"
        "  artifacts:\n"
        "    when: always\n"
        "    paths:\n"
        "      - drift*.html\n"
        "      - drift*.md\n"
        "\n"
        "repro-audit-verify:\n"
        f"{stage}"
        "  rules:\n"
        '    - if: $CI_PIPELINE_SOURCE == "schedule"\n'
        "      exists:\n"
        f"        - {scalar(settings.record)}\n"
        "  script:\n"
        f"{install}"
        f"{_items([f'repro-audit verify {shlex.quote(settings.record)}'], '    ')}"
    )


def gitlab_include_item(indent: int = 2, offset: int = 2) -> str:
    dash = " " * indent + "-" + " " * (offset - 1)
    return f"{dash}local: {GITLAB_JOBS}\n"


def gitlab_ci() -> str:
    return f"{HEADER}: repro-audit's jobs live in {GITLAB_JOBS}.\ninclude:\n{gitlab_include_item()}"
