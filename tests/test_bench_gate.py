"""The scheduled benchmark job and the gate it runs: the workflow passes actionlint and
runs `bench/run.py --quick --fail-on-regression` after the README's set-up; the gate
calls a figure a regression only beyond its noise band, against the same size only."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"


def bench_run() -> Any:
    """bench/run.py as a module (bench/ is scripts, not a package of the tool)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    assert found, "actionlint is missing: pip install -e '.[test]'"
    return found


def test_the_bench_workflow_passes_actionlint() -> None:
    lint = subprocess.run(
        [actionlint(), "-no-color", "-oneline", str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_bench_workflow_is_scheduled_and_gates_on_regressions() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    assert "pull_request" not in triggers and "push" not in triggers
    runs = [step.get("run", "") for step in workflow["jobs"]["bench"]["steps"]]
    setup = runs.index("bash scripts/setup.sh")
    gate = next(i for i, run in enumerate(runs) if "bench/run.py" in run)
    assert setup < gate
    assert "--quick" in runs[gate] and "--fail-on-regression" in runs[gate]
    assert "--against" in runs[gate]  # the runner is never the machine results.json is from
    assert "bench" not in (ROOT / ".ci" / "run").read_text()  # timing stays out of tests


def figure(ratio: float, quick: bool = True, id: str = "diff.inventories") -> dict[str, Any]:
    return {
        "id": id,
        "what": "w",
        "seconds": ratio,
        "baseline": "b",
        "baseline_seconds": 1.0,
        "ratio": ratio,
        "target": 2.0,
        "command": "python bench/bench_diff.py --only diff",
        "quick": quick,
    }


def test_a_regression_is_a_ratio_worse_than_recorded_beyond_its_band() -> None:
    run = bench_run()
    committed = {"figures": [figure(1.8)], "noise_bands": {"diff.inventories": 0.1}}
    inside, beyond = run.compare([figure(1.95)], committed), run.compare([figure(2.1)], committed)
    assert not inside[0]["regressed"] and inside[0]["last_ratio"] == 1.8
    assert beyond[0]["regressed"] and beyond[0]["in_target"] is False
    other_size = run.compare([figure(5.0, quick=False)], committed)
    assert not other_size[0]["regressed"] and other_size[0]["last_ratio"] is None
    table = run.table(beyond)
    assert "REGRESSION" in table and "`diff.inventories`" in table and "±10%" in table


def test_bands_are_the_spread_of_repeated_runs() -> None:
    spec = importlib.util.spec_from_file_location("bench_noise", ROOT / "bench" / "noise.py")
    assert spec is not None and spec.loader is not None
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        noise = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(noise)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    runs = [[figure(1.0), figure(3.0, id="x")], [figure(1.2), figure(3.0, id="x")]]
    assert noise.bands(runs) == {"diff.inventories": 0.2, "x": noise.FLOOR}


def test_committed_results_hold_a_band_for_every_recorded_figure() -> None:
    committed = json.loads((ROOT / "bench" / "results.json").read_text())
    ids = {f["id"] for f in committed["figures"]}
    assert ids <= set(committed["noise_bands"]), ids - set(committed["noise_bands"])


def test_against_a_revision_a_regression_is_a_ratio_worse_than_its_own_beyond_the_band() -> None:
    run = bench_run()
    bands = {"diff.inventories": 0.1}
    theirs = [figure(1.8)]
    inside = run.compare_against([figure(1.95)], theirs, bands)
    beyond = run.compare_against([figure(2.1)], theirs, bands)
    assert not inside[0]["regressed"] and inside[0]["last_ratio"] == 1.8
    assert beyond[0]["regressed"] and round(beyond[0]["change"], 3) == round(2.1 / 1.8, 3)
    unmatched = run.compare_against([figure(9.0, quick=False)], theirs, bands)
    assert not unmatched[0]["regressed"] and unmatched[0]["last_ratio"] is None
    # an absolute bound: a regression only when this side crosses it and the other did not
    bound = {**figure(1.0, id="hostile.x"), "target_text": "<= 2 s", "in_target": False}
    held = {**bound, "in_target": True}
    assert run.compare_against([bound], [held], bands)[0]["regressed"]
    assert not run.compare_against([bound], [bound], bands)[0]["regressed"]
    assert "at HEAD~1" in run.table(beyond, last="at HEAD~1")


def test_against_measures_the_other_revisions_package(tmp_path: Path) -> None:
    """The premise of --against: with its worktree on PYTHONPATH, a script (and the CLI
    beside this Python) imports that revision's package, not this checkout's."""
    import os

    run = bench_run()
    probe = tmp_path / "probe.py"
    probe.write_text("import audit, sys\nprint(audit.__file__)\n")
    with run.revision_tree("HEAD") as tree:
        assert (tree / "audit" / "__init__.py").is_file()
        assert list((tree / "audit").rglob("*.pyc")), "compiled, as an installed wheel is"
        done = subprocess.run(
            [sys.executable, str(probe)], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tmp_path,
        )  # fmt: skip
        assert Path(done.stdout.strip()).is_relative_to(tree)
    assert not tree.exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True)
    assert str(tree) not in listed.stdout
