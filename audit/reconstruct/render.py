"""Human rendering of a ReconstructResult: what was solved as of when, and what moved since."""

from __future__ import annotations

from audit.reconstruct.run import ReconstructResult


def render_reconstruct(result: ReconstructResult) -> str:
    counts = ", ".join(f"{p}: {n}" for p, n in sorted(result.counts.items()))
    lines = [
        f"reconstructed {result.path} at {result.revision[:12]} as of {result.as_of}",
        f"wrote {result.output.as_posix()} ({counts} packages)",
    ]
    report = result.as_of_report or {}
    for platform, n in sorted((report.get("undated") or {}).items()):
        fate = "excluded" if report.get("undated_policy") == "exclude" else "allowed"
        lines.append(f"  {platform}: {n} candidate record(s) without a timestamp ({fate})")
    if result.against is None:
        lines.append("no lock in the working tree to compare with")
    elif not result.changes:
        lines.append(f"the same packages as {result.against.as_posix()}")
    else:
        lines.append(
            f"{len(result.changes)} difference(s), then → today ({result.against.as_posix()}):"
        )
        rows = [
            (c.platform, c.manager, c.name, c.old or "-", c.new or "-")
            for c in sorted(result.changes)
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += [
            "  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
    return "\n".join(lines) + "\n"
