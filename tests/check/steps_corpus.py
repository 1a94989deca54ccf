"""The real-world Dockerfiles of ../shared/data/real-world/dockerfiles, as the step rules
see them: shared by the golden test, the hadolint comparison and bench/bench_steps.py."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "real-world" / "dockerfiles"
GOLDEN = Path(__file__).parent / "golden" / "real-world-steps.txt"
#: hadolint's version-pinning rules, and the rules of ours that cover each hazard
HADOLINT_RULES = {
    "DL3008": {"RA026"},  # apt-get install without versions
    "DL3013": {"RA022", "RA023", "RA024"},  # pip without versions (-r, git+ included)
    "DL3016": {"RA032"},  # npm without versions
    "DL3018": {"RA026"},  # apk add without versions
    "DL3028": {"RA032"},  # gem install without versions
    "DL3033": {"RA026"},  # yum install without versions
    "DL3041": {"RA026"},  # dnf install without versions
}


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def dockerfile_findings(text: str, name: str) -> list:  # type: ignore[type-arg]
    """The step findings of one file plus RA036 (an image that needs a build ARG), sorted.

    A file whose images do not parse at all (01's `FROM <base>` placeholder) is bad input
    to `check` (exit 2): it has step findings only.
    """
    import contextlib

    from audit.check.rules.dockerfile_steps import check_text
    from audit.check.rules.images import dockerfile_image_findings
    from audit.core.errors import InputError

    found = check_text(text, name)
    with contextlib.suppress(InputError):
        found += dockerfile_image_findings(text, name)
    return sorted(found)


def golden_lines() -> list[str]:
    """One line per finding: `file:line RULE name message`, sorted."""
    lines = []
    for path in corpus_files():
        for f in dockerfile_findings(path.read_text(encoding="utf-8"), path.name):
            lines.append(f"{f.file}:{f.line} {f.rule_id} {f.rule.name} {f.message}")
    return lines
