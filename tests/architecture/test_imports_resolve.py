"""Every `from audit… import name` in the package names a module and a name that exist.

Imports inside functions run only on the path that needs them, so a module renamed or
removed can leave one behind that no ordinary test reaches (a lock whose sources are not
in the usual block list once imported a module that no longer existed). This reads every
import of the package statically and resolves it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "audit"


def _imports() -> list[tuple[str, int, str, str | None]]:
    """(file, line, module, name or None) of every import of an `audit` module."""
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
        rel = source.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "audit" or node.module.startswith("audit."):
                    found += [(rel, node.lineno, node.module, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                found += [
                    (rel, node.lineno, a.name, None)
                    for a in node.names
                    if a.name.startswith("audit.")
                ]
    return found


def test_every_import_of_the_package_resolves() -> None:
    imports = _imports()
    assert len(imports) > 500, len(imports)  # the scan sees the package's imports
    broken = []
    for rel, line, module, name in imports:
        if importlib.util.find_spec(module) is None:
            broken.append(f"{rel}:{line}: no module {module}")
            continue
        if name is None or name == "*":
            continue
        loaded = importlib.import_module(module)
        if not hasattr(loaded, name) and importlib.util.find_spec(f"{module}.{name}") is None:
            broken.append(f"{rel}:{line}: {module} has no {name}")
    assert broken == []
