"""The shared lockfile corpus of the inventory tests (a module, so tests import it by a
unique name: `conftest` is ambiguous when several test folders are collected)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Real third-party lockfiles (read-only; never copied into the project).
LOCKFILES = REPO_ROOT.parent / "shared" / "data" / "lockfiles"


def lockfile_params(kind: str) -> list[object]:
    """One pytest param per lockfile of `kind` (conda-lock | explicit | pixi), or a skip."""
    if not LOCKFILES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{LOCKFILES} is absent"))]
    if kind == "pixi":
        files = sorted((LOCKFILES / "pixi").rglob("*.yml"))
    elif kind == "explicit":
        files = sorted((LOCKFILES / "conda-lock").rglob("*.lock"))
    else:
        files = sorted(
            p for p in (LOCKFILES / "conda-lock").rglob("*") if p.suffix in (".yml", ".yaml")
        )
    return [pytest.param(f, id=str(f.relative_to(LOCKFILES))) for f in files]
