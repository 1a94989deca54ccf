"""`repro-audit check`: offline pre-merge rules over a repository or project folder → findings.

The public interface of the command: `run_check(CheckOptions) -> CheckResult`. The model
(rules, findings, the result) is `audit.check.run`; which files form which project is
`audit.check.units` (over git's listing, `audit.core.repofiles`); each family of rules is
a module of `audit.check.rules`, and the team policy is `audit.check.policy`.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from audit.check import policy
from audit.check.rules import conda, dockerfile_steps, images, records, secrets
from audit.check.run import (
    CheckOptions,
    CheckResult,
    Finding,
    Unchecked,
    error_finding,
    finding_order,
    instruction_spans,
    rebase,
    repository_base,
)
from audit.check.units import Unit, lock_name, make_units, select
from audit.core.errors import InputError
from audit.core.repofiles import changed_since, git_toplevel, list_files

__all__ = ["CheckOptions", "CheckResult", "Finding", "run_check"]


def run_check(options: CheckOptions) -> CheckResult:
    """Run every rule over each project under `options.root` (or the selected ones)."""
    root = options.root
    if not root.exists():
        raise InputError("no such directory", where=str(root))
    if not root.is_dir():
        raise InputError("not a directory (check takes a project directory)", where=str(root))
    top = git_toplevel(root)
    listing = list_files(root, top)
    units = make_units(root, listing.paths, top)
    selecting = options.changed_since is not None or options.only is not None
    if not units and not selecting:
        raise InputError(
            "nothing to check: no environment.yml, conda-lock.yml, Dockerfile or compose file",
            where=str(root),
        )
    if selecting:
        units = select(units, _changed(root, options, listing.paths, top))
    result = CheckResult(root)
    for part in _run_units(root, units, options):
        result.findings.extend(part.findings)
        result.files.extend(part.files)
        result.unchecked.extend(part.unchecked)
        result.online_checked += part.online_checked
        result.online_unreachable += part.online_unreachable
    result.unchecked = sorted(set(result.unchecked))
    result.findings = sorted(set(result.findings), key=finding_order)  # no dataclass __lt__
    result.files = sorted(set(result.files))
    result.projects = [u.dir for u in units]
    rebase(result, repository_base(root, options.repo_root or top))
    return result


#: below this many projects a second process costs more than it saves
_PARALLEL_FROM = 8


def _run_units(root: Path, units: list[Unit], options: CheckOptions) -> list[CheckResult]:
    """Each unit's findings; many units are shared out over the machine's cores.

    Projects are independent and the work is CPU-bound Python, so a monorepo's check
    forks one worker per core (Linux only, where fork is cheap and this process has no
    threads yet); `--online` stays in one process (it has its own thread pool).
    """
    jobs = _jobs(len(units), options)
    if jobs <= 1:
        return [_check_units(root, units, options)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_check_units, root, units[i::jobs], options) for i in range(jobs)]
        return [f.result() for f in futures]


def _jobs(count: int, options: CheckOptions) -> int:
    import os
    import sys

    if options.online or count < _PARALLEL_FROM or not sys.platform.startswith("linux"):
        return 1
    wanted = os.environ.get("REPRO_AUDIT_JOBS", "")
    cores = len(os.sched_getaffinity(0))
    jobs = int(wanted) if wanted.isdigit() and int(wanted) > 0 else cores
    return max(1, min(jobs, cores, count // (_PARALLEL_FROM // 2)))


def _check_units(root: Path, units: list[Unit], options: CheckOptions) -> CheckResult:
    """The findings of `units`, in one process (a worker's share, or all of them)."""
    result = CheckResult(root)
    policies: dict[str, tuple[policy.Policy | None, Finding | None]] = {}
    for unit in units:
        _check_unit(root, unit, options, policies, result)
    return result


def _changed(
    root: Path, options: CheckOptions, paths: tuple[str, ...], top: Path | None
) -> set[str]:
    """The files (relative to root) a selection names: changed since a revision, and/or
    given on the command line (a folder stands for every file under it)."""
    out: set[str] = set()
    if options.changed_since is not None:
        if top is None:
            raise InputError("--changed-since needs a git repository", where=str(root))
        out |= changed_since(root, options.changed_since)
    for given in options.only or ():
        name = posixpath.normpath(given)
        if name.startswith("../") or name == "..":
            raise InputError("not under the checked folder", where=given)
        if (root / name).is_dir():
            prefix = "" if name == "." else f"{name}/"
            out |= {p for p in paths if p.startswith(prefix)}
        else:
            out.add(name)
    return out


def _check_unit(
    root: Path,
    unit: Unit,
    options: CheckOptions,
    policies: dict[str, tuple[policy.Policy | None, Finding | None]],
    result: CheckResult,
) -> None:
    """Every rule over one project: its lock, environment, images, steps, policy, secrets."""
    rules, problem = _policy_of(root, unit, policies)
    findings: list[Finding] = [problem] if problem is not None else []
    if rules is not None:
        result.files.append(rules.file)
    texts: dict[str, str] = {}
    project_files = unit.project
    env_path = root / project_files.env if project_files and project_files.env else None
    own = [root / f for f in project_files.sources] if project_files else []
    project = conda.check_conda(
        root, env_path, root / lock_name(unit), texts, findings, own or None
    )
    findings.extend(records.check_records(project))
    dockerfiles = [root / p for p in unit.dockerfiles]
    broken: set[str] = set()
    image_sites = images.check_images(
        root, dockerfiles, [root / p for p in unit.compose], texts, findings, broken
    )
    findings.extend(
        dockerfile_steps.check_dockerfiles(
            root, dockerfiles, texts, dockerfile_steps.locked_view(project), broken
        )
    )
    if rules is not None:
        findings.extend(policy.check_policy(rules, root, project))
    for name, text in texts.items():
        findings.extend(secrets.scan_text(name, text))
    result.files.extend(texts)
    if options.online:
        from audit.check.rules import online  # urllib and threads only when asked

        unchecked: list[tuple[str, int, str, str]] = []
        checked, unreachable, found = online.check_online(
            project, image_sites, options, unchecked=unchecked
        )
        result.online_checked += checked
        result.online_unreachable += unreachable
        result.unchecked = sorted({*result.unchecked, *(Unchecked(*u) for u in unchecked)})
        findings.extend(found)
    silenced = {
        name: policy.suppressions(text, instruction_spans(name, text))
        for name, text in texts.items()
        if "repro-audit:" in text
    }
    result.findings.extend(policy.apply_policy(findings, rules, silenced))


def _policy_of(
    root: Path, unit: Unit, cache: dict[str, tuple[policy.Policy | None, Finding | None]]
) -> tuple[policy.Policy | None, Finding | None]:
    """The nearest policy above the unit's folder; a broken one is an RA040 finding and
    the unit is checked without a policy."""
    for folder in unit.policy_dirs:
        if folder not in cache:
            try:
                cache[folder] = (policy.load_policy(root / folder, folder), None)
            except InputError as exc:  # named as findings name files already
                name = (exc.where or folder).split(":")[0]
                cache[folder] = (None, error_finding("RA040", exc, name))
        found, problem = cache[folder]
        if found is not None or problem is not None:
            return found, problem
    return None, None
