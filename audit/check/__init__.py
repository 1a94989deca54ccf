"""`repro-audit check`: offline pre-merge rules over a project directory → findings.

The public interface of the command: `run_check(CheckOptions) -> CheckResult`. The model
(rules, findings, the result) is `audit.check.run`; each family of rules is a module of
`audit.check.rules`, and the team policy is `audit.check.policy`.
"""

from __future__ import annotations

from audit.check import policy
from audit.check.rules import conda, dockerfile_steps, images, records, secrets
from audit.check.run import (
    ENV_NAMES,
    LOCK_NAME,
    CheckOptions,
    CheckResult,
    Finding,
    Unchecked,
    discover_images,
    instruction_spans,
    rebase,
    repository_base,
)
from audit.core.errors import InputError

__all__ = ["CheckOptions", "CheckResult", "Finding", "run_check"]


def run_check(options: CheckOptions) -> CheckResult:
    """Run every rule over `options.root`."""
    root = options.root
    if not root.exists():
        raise InputError("no such directory", where=str(root))
    if not root.is_dir():
        raise InputError("not a directory (check takes a project directory)", where=str(root))
    result = CheckResult(root)
    rules = policy.load_policy(root)
    if rules is not None:
        result.files.append(rules.file)
    env_path = next((root / n for n in ENV_NAMES if (root / n).is_file()), None)
    lock_path = root / LOCK_NAME
    dockerfiles, compose_files = discover_images(root)
    if env_path is None and not lock_path.exists() and not dockerfiles and not compose_files:
        raise InputError(
            "nothing to check: no environment.yml, conda-lock.yml, Dockerfile or compose file",
            where=str(root),
        )
    texts: dict[str, str] = {}
    project = conda.check_conda(root, env_path, lock_path, texts, result.findings)
    result.findings.extend(records.check_records(project))
    image_sites = images.check_images(root, dockerfiles, compose_files, texts, result.findings)
    result.findings.extend(
        dockerfile_steps.check_dockerfiles(
            root, dockerfiles, texts, dockerfile_steps.locked_view(project)
        )
    )
    if rules is not None:
        result.findings.extend(policy.check_policy(rules, root, project))
    for name, text in texts.items():
        result.findings.extend(secrets.scan_text(name, text))
    result.files.extend(texts)
    if options.online:
        from audit.check.rules import online  # urllib and threads only when asked

        unchecked: list[tuple[str, int, str, str]] = []
        checked, unreachable, found = online.check_online(
            project, image_sites, options, unchecked=unchecked
        )
        result.online_checked, result.online_unreachable = checked, unreachable
        result.unchecked = sorted({Unchecked(*u) for u in unchecked})
        result.findings.extend(found)
    silenced = {
        name: policy.suppressions(text, instruction_spans(name, text))
        for name, text in texts.items()
        if "repro-audit:" in text
    }
    result.findings = sorted(set(policy.apply_policy(result.findings, rules, silenced)))
    result.files = sorted(set(result.files))
    rebase(result, repository_base(root, options.repo_root))
    return result
