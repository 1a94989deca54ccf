"""`merge-lock` on the real conda-lock.yml files in ../shared/data (skips when absent):
each side changes another package's hash; the merge keeps both, as valid YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.merge import merge_lock

DATA = Path(__file__).resolve().parents[3] / "shared/data/lockfiles/conda-lock"
LOCKS = sorted(DATA.rglob("*.y*ml")) if DATA.is_dir() else []
#: The ~960-package locks (~6 s each) are left to a manual run: the suite stays short.
MAX_BYTES = 350_000


def _v1(path: Path) -> dict | None:
    doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return doc if isinstance(doc, dict) and doc.get("version") == 1 else None


@pytest.mark.skipif(not LOCKS, reason=f"real lockfiles not found under {DATA}")
@pytest.mark.parametrize("path", LOCKS, ids=lambda p: p.relative_to(DATA).as_posix())
def test_real_lock_merges_both_sides(path: Path, tmp_path: Path) -> None:
    if path.stat().st_size > MAX_BYTES:
        pytest.skip(f"larger than {MAX_BYTES} bytes (kept out of the suite for time)")
    doc = _v1(path)
    if doc is None:
        pytest.skip("not a v1 conda-lock.yml")
    text = path.read_text()
    conda = [p for p in doc["package"] if p.get("manager") == "conda"]
    first, last = (p["hash"].get("sha256") or p["hash"]["md5"] for p in (conda[0], conda[-1]))
    mine, yours = "a" * len(first), "f" * len(last)
    base, ours, theirs = (tmp_path / n for n in ("o.yml", "a.yml", "b.yml"))
    base.write_text(text)
    ours.write_text(text.replace(first, mine, 1))
    theirs.write_text(text.replace(last, yours, 1))
    result = merge_lock(base, ours, theirs, "conda-lock.yml")
    assert result.status == "merged" and result.exit_code == 0
    assert result.taken["ours"] == 1 and result.taken["theirs"] == 1
    merged = yaml.safe_load(ours.read_text())
    hashes = {v for p in merged["package"] for v in p["hash"].values()}
    assert {mine, yours} <= hashes
    assert len(merged["package"]) == len(doc["package"])
