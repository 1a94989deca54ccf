"""`lock --check` at a repository's root: every project's lock, one verdict.

The shipped pre-commit hook and CI run `lock --check` at the root, where a monorepo has
no environment.yml of its own; there it checks each project (`audit.lockfile.projects`,
over git's listing) with the options given, reports each, and goes on past a project
whose files cannot be read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, InputError, ReproAuditError
from audit.core.repofiles import git_toplevel, list_files
from audit.lock.run import LockOptions, LockResult, run_lock
from audit.lockfile.projects import Project, find_projects


@dataclass
class ProjectVerdict:
    project: Project
    result: LockResult | None = None
    error: str | None = None  # the one line of an input error

    def to_json(self) -> dict[str, Any]:
        body = self.result.to_json() if self.result is not None else {"error": self.error}
        return {"project": self.project.dir, **body}


def repository_projects(root: Path) -> list[Project]:
    """The projects under `root` (git's listing inside git, else a walk)."""
    listing = list_files(root, git_toplevel(root))
    return find_projects(root, listing.paths)


def no_environment_here(root: Path) -> InputError:
    """What `lock` says at a folder without environment.yml: where the projects are."""
    projects = repository_projects(root)
    if not projects:
        return InputError("environment file not found", where="environment.yml")
    shown = ", ".join(p.dir for p in projects[:10]) + (" …" if len(projects) > 10 else "")
    return InputError(
        f"no environment.yml here; the projects below are {shown}",
        where="environment.yml",
        hint="run `repro-audit lock` in each; `repro-audit lock --check` here checks them all",
    )


def check_repository(root: Path, template: LockOptions) -> list[ProjectVerdict]:
    """`lock --check` of every project under `root`, with the options of `template`."""
    projects = repository_projects(root)
    if not projects:
        raise InputError(
            "nothing to check: no environment.yml or conda-lock.yml here or below",
            where=str(root),
        )
    verdicts = []
    for project in projects:
        verdict = ProjectVerdict(project)
        if not project.env_files:
            verdict.error = f"{project.lock}: no environment file beside it (or named in it)"
            verdicts.append(verdict)
            continue
        options = dataclasses.replace(
            template,
            files=[root / f for f in project.env_files],
            lockfile=root / project.lock,
            check=True,
        )
        try:
            verdict.result = run_lock(options)
        except InputError as exc:
            verdict.error = exc.one_line()
        except ReproAuditError:
            raise  # a channel or tool that is not there concerns every project
        verdicts.append(verdict)
    return verdicts


def exit_code(verdicts: list[ProjectVerdict]) -> int:
    """2 when some project could not be read, else 1 when some lock is stale, else 0."""
    if any(v.error is not None for v in verdicts):
        return EXIT_INPUT
    if any(v.result is not None and v.result.exit_code for v in verdicts):
        return EXIT_FINDINGS
    return EXIT_OK
