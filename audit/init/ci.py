"""CI: which system a repository uses, and the files `init` writes for it.

GitHub Actions gets two workflows (the gate on pull requests; the weekly drift report
and verify on a schedule). GitLab CI gets one file of jobs, `.gitlab/repro-audit.yml`,
which `.gitlab-ci.yml` includes: the user's pipeline file only gains an `include:` item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from audit.core.errors import InputError
from audit.core.git import run_git
from audit.core.safeload import compose_yaml
from audit.init import templates
from audit.init.templates import GITLAB_CI, GITLAB_JOBS, Settings
from audit.init.yamltext import append_key, find_block_list, insert_item

SYSTEMS = ("github", "gitlab")


def detect(root: Path) -> list[str]:
    """The CI systems a repository shows: `.github/`, `.gitlab-ci.yml`, else its remotes."""
    found = []
    if (root / ".github").is_dir():
        found.append("github")
    if (root / GITLAB_CI).is_file():
        found.append("gitlab")
    if found:
        return found
    done = run_git(["config", "--get-regexp", r"^remote\..*\.url$"], cwd=root, timeout=30)
    urls = done.stdout.decode("utf-8", "replace").lower() if done.returncode == 0 else ""
    return [system for system in SYSTEMS if f"{system}." in urls]


@dataclass(frozen=True)
class Planned:
    """A file's whole content as `init` writes it (`own`: init's file, replaced only with
    --force; else the user's file, which `init` only adds to), or None: leave it."""

    path: str
    new: str | None
    own: bool = True


def github_files(settings: Settings) -> list[Planned]:
    return [
        Planned(templates.GITHUB_GATE, templates.github_gate(settings)),
        Planned(templates.GITHUB_SCHEDULED, templates.github_scheduled(settings)),
    ]


def _top_mapping(text: str) -> dict[str, yaml.Node]:
    """The top-level keys of a GitLab file as nodes (GitLab's own tags, such as
    `!reference`, need no constructor this way)."""
    node = compose_yaml(text, GITLAB_CI)
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise InputError("not a GitLab CI file (a mapping of jobs and keywords)", where=GITLAB_CI)
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def gitlab_stage(old: str | None) -> str:
    """`test` (GitLab's default stage) unless the pipeline's `stages:` leaves it out: then
    its first stage, so the jobs never name a stage that does not exist."""
    stages = _top_mapping(old).get("stages") if old else None
    if not isinstance(stages, yaml.SequenceNode):
        return "test"
    names = [item.value for item in stages.value if isinstance(item, yaml.ScalarNode)]
    return "test" if not names or "test" in names else names[0]


def _includes_jobs(node: yaml.Node) -> bool:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item in items:
        if isinstance(item, yaml.MappingNode):
            local = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            item = local.get("local", item)
        if isinstance(item, yaml.ScalarNode) and str(item.value).lstrip("/") == GITLAB_JOBS:
            return True
    return False


def gitlab_ci_with_include(old: str | None) -> str | None:
    """`.gitlab-ci.yml` including the jobs file; None when it already does."""
    if old is None:
        return templates.gitlab_ci()
    include = _top_mapping(old).get("include")
    if include is None:
        return append_key(old, "include", templates.gitlab_include_item())
    if _includes_jobs(include):
        return None
    block = find_block_list(old.splitlines(keepends=True), "include")
    if not isinstance(include, yaml.SequenceNode) or block is None:
        raise InputError(
            "`include:` is not a block list, so the jobs file cannot be added to it",
            where=GITLAB_CI,
            hint=f"add `- local: {GITLAB_JOBS}` to it by hand",
        )
    return insert_item(old, block, templates.gitlab_include_item(block.indent, block.offset))


def gitlab_files(settings: Settings, old_ci: str | None) -> list[Planned]:
    return [
        Planned(GITLAB_JOBS, templates.gitlab_jobs(settings)),
        Planned(GITLAB_CI, gitlab_ci_with_include(old_ci), own=False),
    ]
