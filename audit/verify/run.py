"""The `verify` command as one plain function: inputs, static checks, mirror, rebuild, verdict."""

from __future__ import annotations

import time
from pathlib import Path

from audit.core.errors import (
    FindingsError,
    InfrastructureError,
    InputError,
)
from audit.verify.gitrev import materialize_record
from audit.verify.inputs import load_inputs, lock_artifacts, pinned_bases
from audit.verify.mirroring import write_mirror
from audit.verify.options import VerifyOptions
from audit.verify.rebuild import rebuild
from audit.verify.static import static_checks
from audit.verify.verdict import (
    MISMATCH,
    UNREACHABLE,
    Problem,
    Rebuild,
    Verdict,
    VerifyResult,
    decide,
)


def _say_nothing(_phase: str, _message: str) -> None:
    """Default progress sink."""


def run_verify(options: VerifyOptions) -> VerifyResult:
    """The whole `verify` command; raises a ReproAuditError for input/infra failures."""
    from audit.core.fs import default_cache_dir

    say = options.progress or _say_nothing
    if options.write_mirror and options.mirror is None:
        raise InputError("--write-mirror needs --mirror DIR")
    cache_dir = Path(options.cache_dir or default_cache_dir())
    with materialize_record(options.record) as record_path:
        inputs = load_inputs(record_path)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        artifacts, repodata, problems = lock_artifacts(inputs)
        refs, base_problems = pinned_bases(inputs)
        problems = inputs.problems + problems + base_problems
        notes: list[str] = []
        if options.write_mirror:
            notes += write_mirror(inputs, artifacts, repodata, refs, options, cache_dir, say)
            timings["mirror_seconds"] = time.perf_counter() - started
        mirror = None
        if options.mirror is not None:
            from audit.verify.mirror import Mirror

            mirror = Mirror.open(options.mirror)
        say("checking", f"{len(artifacts)} artifacts and {len(refs)} base images")
        problems += static_checks(inputs, artifacts, refs, options, cache_dir, mirror)
        timings["static_seconds"] = time.perf_counter() - started
        checked = {"artifacts": len(artifacts), "base_images": len(refs)}
        verdict, reasons = decide(problems, None)
        unknown = [p for p in problems if p.status == UNREACHABLE and not p.mirrored]
        if verdict is not Verdict.UNREPRODUCIBLE and unknown:
            listed = "; ".join(p.line() for p in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise InfrastructureError(
                f"could not check {len(unknown)} input(s): {listed}{more}",
                hint="the channel or registry did not answer; retry, or verify with --mirror",
            )
        outcome: Rebuild | None = None
        if options.rebuild and verdict is not Verdict.UNREPRODUCIBLE:
            try:
                outcome = rebuild(
                    inputs, artifacts, refs, problems, options, cache_dir, mirror, say
                )
            except FindingsError as exc:  # an artifact that no longer verifies
                problems.append(_rebuild_problem(exc))
                notes.append("the rebuild stopped before installing anything")
            if outcome is not None:
                timings["rebuild_seconds"] = outcome.seconds
            verdict, reasons = decide(problems, outcome)
        elif options.rebuild:
            notes.append("no rebuild: inputs are missing (see above)")
        return VerifyResult(
            record=options.record,
            verdict=verdict,
            reasons=reasons,
            problems=problems,
            checked=checked,
            timings=timings,
            rebuild=outcome,
            mirror=str(options.mirror) if options.mirror else None,
            deep=options.deep,
            notes=notes,
        )


def _rebuild_problem(exc: FindingsError) -> Problem:
    """A fetch's FindingsError (size or sha256 mismatch) as a Problem naming the artifact."""
    import re

    match = re.match(r"(\w+) mismatch for (.+): expected (.+), got (.+)$", exc.message)
    if match is None:
        return Problem("artifact", exc.where or "", exc.where or "", MISMATCH, exc.message)
    what, label, expected, got = match.groups()
    return Problem(
        "artifact",
        label,
        exc.where or "",
        MISMATCH,
        f"{what} mismatch of the artifact its URL serves today",
        expected=expected,
        got=got,
    )
