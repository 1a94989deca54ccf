"""`init`: plan every piece of the set-up, refuse what would overwrite a user's choice,
then write the files as one transaction and the clone's git config."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from audit import __version__
from audit.core.errors import InputError
from audit.core.fs import atomic_write_set
from audit.core.repofiles import git_toplevel, list_files
from audit.init import ci, gitattributes, gitconfig, precommit
from audit.init.plan import FileChange, Plan
from audit.init.templates import DriftTarget, Settings
from audit.lockfile.projects import ENV_NAMES, find_projects, join

FORCE_HINT = "--force replaces it; --dry-run --force shows the difference"


@dataclass(frozen=True)
class InitOptions:
    path: Path = Path(".")
    ci: tuple[str, ...] | None = None  # None: detect; (): no CI
    pre_commit: bool = True
    git_config_only: bool = False
    force: bool = False
    record: str = "build-record.json"
    sarif: bool = False


def repository_root(path: Path) -> Path:
    """The top level of the git repository `path` is in; exit 2 outside one."""
    if not path.is_dir():
        raise InputError("not a directory", where=str(path))
    top = git_toplevel(path)
    if top is None:
        raise InputError(
            "not inside a git repository",
            where=str(path),
            hint="run `git init` first; init sets up the repository it is run in",
        )
    return top


def _read(root: Path, relative: str) -> str | None:
    path = root / relative
    if not path.exists():
        return None
    if not path.is_file():
        raise InputError("exists and is not a file", where=relative)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", where=relative) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=relative) from None


def drift_targets(root: Path) -> tuple[DriftTarget, ...]:
    """One drift report per environment of the repository (a monorepo has several)."""
    projects = find_projects(root, list_files(root, root).paths)
    if not projects:
        return (DriftTarget("conda-lock.yml", ("environment.yml",), "drift"),)
    targets = []
    for project in projects:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project.dir).strip("-")
        stem = "drift" if project.dir == "." else f"drift-{slug}"
        env_files = project.env_files or (join(project.dir, ENV_NAMES[0]),)
        targets.append(DriftTarget(project.lock, tuple(env_files), stem))
    return tuple(targets)


def _settings(root: Path, options: InitOptions) -> Settings:
    old_ci = _read(root, ci.GITLAB_CI)
    return Settings(
        version=__version__,
        targets=drift_targets(root),
        record=options.record,
        sarif=options.sarif,
        gitlab_stage=ci.gitlab_stage(old_ci),
    )


def _own_file(root: Path, path: str, new: str, force: bool, plan: Plan) -> None:
    """A file init writes whole: created, kept when equal, replaced only with --force."""
    old = _read(root, path)
    if old == new:
        plan.kept.append(path)
    elif old is None or force:
        plan.files.append(FileChange(path, old, new))
    else:
        raise InputError("exists with other content", where=path, hint=FORCE_HINT)


def _merged_file(root: Path, path: str, old: str | None, new: str | None, plan: Plan) -> None:
    if new is None:
        plan.kept.append(path)
    else:
        plan.files.append(FileChange(path, old, new))


def _plan_config(root: Path, options: InitOptions, plan: Plan) -> None:
    changes, kept, others = gitconfig.planned_config(root)
    if others and not options.force:
        other = others[0]
        raise InputError(
            f"git config {other.key} is {other.old!r}, not {other.new!r}",
            where=str(root),
            hint="--force sets it for this clone",
        )
    plan.config += changes + others
    plan.kept += kept
    if shutil.which("repro-audit") is None:
        plan.notes.append(
            "repro-audit is not on PATH here: git runs `repro-audit merge-lock` on a merge, "
            "so install it where git finds it"
        )


def _plan_attributes(root: Path, options: InitOptions, plan: Plan) -> None:
    old = _read(root, gitattributes.PATH)
    new, conflicts = gitattributes.merged_attributes(old, options.force)
    if conflicts:
        first = conflicts[0]
        raise InputError(
            first.message(),
            where=f"{gitattributes.PATH}:{first.setting.line}",
            hint="--force adds the driver's line after it, which then wins",
        )
    _merged_file(root, gitattributes.PATH, old, new, plan)


def _plan_ci(root: Path, options: InitOptions, settings: Settings, plan: Plan) -> None:
    systems = ci.detect(root) if options.ci is None else list(options.ci)
    if not systems and options.ci is None:
        plan.notes.append(
            "no CI found (.github/, .gitlab-ci.yml or such a remote): "
            "--ci github or --ci gitlab writes its jobs"
        )
    planned: list[ci.Planned] = []
    if "github" in systems:
        planned += ci.github_files(settings)
    if "gitlab" in systems:
        planned += ci.gitlab_files(settings, _read(root, ci.GITLAB_CI))
    for item in planned:
        if item.own:
            assert item.new is not None
            _own_file(root, item.path, item.new, options.force, plan)
        else:
            _merged_file(root, item.path, _read(root, item.path), item.new, plan)


def check_record(record: str) -> str:
    """The build record's path as CI files name it: relative, plain characters."""
    bad = set(record) & set("'\"\n\r\\$`")
    if not record or record.startswith("/") or ".." in record.split("/") or bad:
        raise InputError(
            f"--record must be a path inside the repository without quotes, not {record!r}"
        )
    return record


def plan_init(options: InitOptions) -> tuple[Path, Plan]:
    """The repository root and everything a run would change there (nothing written)."""
    check_record(options.record)
    root = repository_root(options.path)
    plan = Plan()
    _plan_config(root, options, plan)
    if options.git_config_only:
        new, _ = gitattributes.merged_attributes(_read(root, gitattributes.PATH), True)
        if new is not None:
            plan.notes.append(
                ".gitattributes does not route the lock files to the driver yet: "
                "`repro-audit init` adds the lines"
            )
        return root, plan
    _plan_attributes(root, options, plan)
    if options.pre_commit:
        old = _read(root, precommit.PATH)
        _merged_file(root, precommit.PATH, old, precommit.merged_config(old, __version__), plan)
    _plan_ci(root, options, _settings(root, options), plan)
    return root, plan


def apply_plan(root: Path, plan: Plan) -> None:
    """Write the files (all or none, each atomically), then the clone's git config."""
    if plan.files:
        for change in plan.files:
            (root / change.path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_set({root / c.path: c.new.encode("utf-8") for c in plan.files})
    gitconfig.write_config(root, plan.config)
