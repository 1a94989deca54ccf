"""The merge driver's per-clone settings: git keeps them out of the repository, so each
clone installs them (`init`, or `init --git-config-only` in a clone of a set-up repo)."""

from __future__ import annotations

from pathlib import Path

from audit.core.errors import InfrastructureError
from audit.core.git import run_git
from audit.init.plan import ConfigChange
from audit.init.templates import git_config


def current_value(root: Path, key: str) -> str | None:
    """The value git uses for `key` in this clone (any scope), or None when unset."""
    done = run_git(["config", "--get", key], cwd=root, timeout=30)
    if done.returncode == 1:
        return None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InfrastructureError(
            f"git config --get {key} failed: {reason[0] if reason else done.returncode}"
        )
    return done.stdout.decode("utf-8", "replace").rstrip("\n")


def planned_config(root: Path) -> tuple[list[ConfigChange], list[str], list[ConfigChange]]:
    """(settings to write, keys already right, keys set to something else)."""
    changes: list[ConfigChange] = []
    kept: list[str] = []
    others: list[ConfigChange] = []
    for key, value in git_config().items():
        old = current_value(root, key)
        if old == value:
            kept.append(key)
        elif old is None:
            changes.append(ConfigChange(key, None, value))
        else:
            others.append(ConfigChange(key, old, value))
    return changes, kept, others


def write_config(root: Path, changes: list[ConfigChange]) -> None:
    """`git config --local` each setting (the clone's own .git/config)."""
    for change in changes:
        done = run_git(["config", "--local", change.key, change.new], cwd=root, timeout=30)
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InfrastructureError(
                f"git config --local {change.key} failed: {reason[0] if reason else ''}"
            )
