"""Which file names are Dockerfiles: one rule for `check`, `drift` and the history walk.

BuildKit, Podman/Buildah and editors call these Dockerfiles: `Dockerfile` and
`Containerfile` (Podman's default), `Dockerfile.<variant>` (`Dockerfile.dev`, a template
`Dockerfile.in`) and `<name>.Dockerfile`; the suffix in any case (`api.dockerfile`).
"""

from __future__ import annotations

import posixpath

_NAMES = ("dockerfile", "containerfile")
_SUFFIXES = (".dockerfile", ".containerfile")
_PREFIXES = ("dockerfile.", "containerfile.")
#: `Dockerfile.dockerignore` and notes beside a Dockerfile are not Dockerfiles
_NOT = (".dockerignore", ".md", ".txt", ".rst")


def is_dockerfile(path: str) -> bool:
    """True for a Dockerfile's name (or a path ending in one)."""
    name = posixpath.basename(path).lower()
    if name.endswith(_NOT):
        return False
    return name in _NAMES or name.endswith(_SUFFIXES) or name.startswith(_PREFIXES)
