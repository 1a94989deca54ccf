"""The package layout holds: no import cycles, no private names across modules, contracts kept.

grimp reads every import, function-level ones included (those hid four cycles once);
imports under TYPE_CHECKING do not run, yet they count for cycles too: an annotation
that needs a module ties the two together just the same.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / "audit"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module: each one is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_strongly_connected_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules() -> None:
    grimp = pytest.importorskip("grimp")
    g = grimp.build_graph(
        "audit", include_external_packages=False, exclude_type_checking_imports=True, cache_dir=None
    )
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    assert _strongly_connected(graph) == []


def test_no_import_cycles_even_through_type_checking_imports() -> None:
    """Annotations tie modules too: a cycle only TYPE_CHECKING hides is still a tangle.

    (`audit.check.policy` ↔ `audit.check.rules.conda` was one: conda's rules took a
    Policy they never read.)
    """
    grimp = pytest.importorskip("grimp")
    g = grimp.build_graph(
        "audit",
        include_external_packages=False,
        exclude_type_checking_imports=False,
        cache_dir=None,
    )
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    assert _strongly_connected(graph) == []


def _private_imports(path: Path) -> list[str]:
    """`module:line name` for every `from audit.x import _name` in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("audit"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    out.append(f"{path.relative_to(AUDIT.parent)}:{node.lineno} {alias.name}")
    return out


def test_private_import_scan_sees_one(tmp_path: Path) -> None:
    sample = AUDIT / "__probe_private.py"
    try:
        sample.write_text("from audit.core.fs import _secret\n", encoding="utf-8")
        assert _private_imports(sample) == ["audit/__probe_private.py:1 _secret"]
    finally:
        sample.unlink()


def test_no_private_names_imported_across_modules() -> None:
    found = [hit for path in sorted(AUDIT.rglob("*.py")) for hit in _private_imports(path)]
    assert found == []


def test_import_linter_contracts_are_kept() -> None:
    tool = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(tool).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [tool, "--no-cache"], cwd=AUDIT.parent, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
