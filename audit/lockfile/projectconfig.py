"""A project's own list of environment files: `environment-files` in its configuration.

A folder whose environment is not `environment.yml` (`environment-gpu.yml`, or
`envs/base.yml` + `envs/cuda.yml` merged as `lock -f … -f …` merges them) names its files
in `repro-audit.toml` (top level) or `[tool.repro-audit]` of `pyproject.toml`:

    environment-files = ["envs/base.yml", "envs/cuda.yml"]

Paths are relative to that folder. `lock` without `-f` locks them, and `check` and
`lock --check` find the project by them before any lock exists. The policy loader
(`audit.check.policy`) validates the key and reports a broken file at its line.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

KEY = "environment-files"
#: (file name, table holding the key: None for the top level)
CONFIG_FILES = (("repro-audit.toml", None), ("pyproject.toml", "tool.repro-audit"))


def configured_env_files(folder: Path) -> tuple[str, ...] | None:
    """The folder's `environment-files` (normalized, relative to it); None when unset.

    Empty when the configuration names them but cannot be used (broken TOML, a value
    that is not a list of relative paths): the folder is still a project, so `check`
    reports the configuration at its line instead of passing over the project.
    """
    import tomllib

    for name, table in CONFIG_FILES:
        try:
            data = (folder / name).read_bytes()
        except OSError:
            continue
        if KEY.encode() not in data:
            continue  # most pyproject.toml files: not parsed at all
        try:
            document = tomllib.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return ()
        section = document.get("tool", {}).get("repro-audit") if table else document
        if not isinstance(section, dict) or KEY not in section:
            continue
        files = section[KEY]
        if not isinstance(files, list) or not files or not all(is_relative(f) for f in files):
            return ()
        return tuple(posixpath.normpath(f) for f in files)
    return None


def is_relative(path: object) -> bool:
    """A relative path string (an absolute one would not mean the same on every clone)."""
    return isinstance(path, str) and bool(path) and not path.startswith(("/", "\\", "~"))
