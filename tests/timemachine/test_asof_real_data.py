"""`lock --as-of` on the real Anaconda snapshot in ../shared/data (skips when absent).

26% of that snapshot's records (1,494 of 5,643) carry no timestamp; `ipython-notebook`
has none at all, so rattler's default policy excludes it from any as-of solve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tm_helpers import run, versions

SNAPSHOT = Path(__file__).resolve().parents[3] / "shared/data/repodata/conda-defaults/index4.json"


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SNAPSHOT.is_file():
        pytest.skip(f"real data not found: {SNAPSHOT}")
    out = tmp_path_factory.mktemp("defaults")
    records = json.loads(SNAPSHOT.read_text())
    for subdir in ("linux-64", "noarch"):
        mine = {k: v for k, v in records.items() if v.get("subdir", "linux-64") == subdir}
        (out / subdir).mkdir()
        doc = {"info": {"subdir": subdir}, "packages": mine, "packages.conda": {}}
        (out / subdir / "repodata.json").write_text(json.dumps(doc))
    return out


def write(tmp_path: Path, channel: Path, deps: list[str]) -> None:
    text = f"channels:\n  - {channel.as_uri()}\ndependencies:\n"
    (tmp_path / "environment.yml").write_text(text + "".join(f"  - {d}\n" for d in deps))


def test_real_snapshot_as_of_picks_older_releases(tmp_path: Path, defaults: Path) -> None:
    write(tmp_path, defaults, ["python 3.6.*", "numpy", "pandas", "scipy", "matplotlib"])
    base = ["lock", "-p", "linux-64", "--no-explicit"]
    assert run(base, tmp_path).returncode == 0
    today = versions(tmp_path / "conda-lock.yml")
    assert (today["python"], today["numpy"], today["pandas"]) == ("3.6.6", "1.15.0", "0.23.4")
    result = run([*base, "--as-of", "2018-01-01", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    then = versions(tmp_path / "conda-lock.yml")
    assert (then["python"], then["numpy"], then["pandas"]) == ("3.6.4", "1.13.3", "0.22.0")
    report = json.loads(result.stdout)["as_of"]
    # 536 candidate records were published after the date; none of these is undated
    assert report["newer"]["linux-64"] == 536 and report["undated"]["linux-64"] == 0


def test_real_undated_package_needs_the_allow_policy(tmp_path: Path, defaults: Path) -> None:
    write(tmp_path, defaults, ["ipython-notebook"])
    base = ["lock", "-p", "linux-64", "--no-explicit", "--as-of", "2018-09-01"]
    refused = run(base, tmp_path)
    assert refused.returncode == 2 and "no timestamp" in refused.stderr
    allowed = run([*base, "--undated", "allow", "--json"], tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    selected = json.loads(allowed.stdout)["as_of"]["undated_selected"]["linux-64"]
    assert "ipython-notebook 4.0.4" in selected
