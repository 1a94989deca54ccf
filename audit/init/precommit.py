"""`.pre-commit-config.yaml`: the gate hook joins the user's config, nothing else moves.

A config that already runs the hook (from any repo entry, a local one included) is left
as it is, whatever `rev` it pins: the version a team runs is theirs to choose.
"""

from __future__ import annotations

from typing import Any

from audit.core.errors import InputError
from audit.core.safeload import load_yaml
from audit.init.templates import HOOK_ID, precommit_config, precommit_entry
from audit.init.yamltext import append_key, find_block_list, insert_item

PATH = ".pre-commit-config.yaml"


def has_hook(config: Any) -> bool:
    """Does a parsed config run the gate hook?"""
    repos = config.get("repos") if isinstance(config, dict) else None
    for repo in repos if isinstance(repos, list) else []:
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and hook.get("id") == HOOK_ID:
                return True
    return False


def merged_config(old: str | None, version: str) -> str | None:
    """The config with the hook added; None when `old` already runs it."""
    if old is None:
        return precommit_config(version)
    config = load_yaml(old, PATH)
    if config is not None and not isinstance(config, dict):
        raise InputError("not a pre-commit config (a mapping with `repos:`)", where=PATH)
    if has_hook(config):
        return None
    new = _with_entry(old, config or {}, version)
    if not has_hook(load_yaml(new, PATH)) or _repos(load_yaml(new, PATH))[:-1] != _repos(config):
        raise InputError(
            "cannot add the repro-audit hook to `repos:` as written",
            where=PATH,
            hint=f"add `- id: {HOOK_ID}` by hand; `repro-audit init --dry-run` shows the entry",
        )
    return new


def _with_entry(old: str, config: dict[str, Any], version: str) -> str:
    if "repos" not in config:
        return append_key(old, "repos", precommit_entry(version))
    block = find_block_list(old.splitlines(keepends=True), "repos")
    if block is None:
        raise InputError(
            "`repos:` is not a block list, so the hook cannot be added to it",
            where=PATH,
            hint=f"add the repro-audit repo with `- id: {HOOK_ID}` by hand",
        )
    return insert_item(old, block, precommit_entry(version, block.indent, block.offset))


def _repos(config: Any) -> list[Any]:
    repos = config.get("repos") if isinstance(config, dict) else None
    return repos if isinstance(repos, list) else []
