"""`repro-audit build`: the public interface other commands use (`verify --rebuild`).

Names resolve lazily, so importing one module of the package does not import them all.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "BuildOptions": "audit.build.options",
    "BuildResult": "audit.build.options",
    "run_build": "audit.build.run",
    "image_tree_digest": "audit.build.treedigest",
    "lock_artifact": "audit.build.materialize",
    "wheel_artifact": "audit.build.materialize",
    "read_pip_wheels": "audit.build.materialize",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
