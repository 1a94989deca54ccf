"""Human rendering of a LockResult: plain lines, so no terminal library is imported.

`lock` runs in CI and pre-commit hooks where start-up time counts; a few aligned lines
say everything a table would.
"""

from __future__ import annotations

from audit.lock.run import LockResult


def render_lock_result(result: LockResult) -> str:
    """One line when all is well; the stale platforms or the changes otherwise."""
    notes = "".join(f"warning: {w}\n" for w in result.warnings)
    return notes + _render(result)


def _render(result: LockResult) -> str:
    name = result.lockfile.as_posix()
    if result.status == "current":
        return f"{name} is current ({', '.join(result.platforms)}): nothing to do\n"
    if result.status == "stale":
        lines = [f"{name} is stale"]
        lines += [f"  {platform}: {why}" for platform, why in sorted(result.stale.items())]
        lines.append("run `repro-audit lock` to update it")
        return "\n".join(lines) + "\n"
    counts = ", ".join(
        f"{p}: {c['conda']} conda" + (f" + {c['pip']} pip" if c.get("pip") else "")
        for p, c in sorted(result.counts.items())
    )
    lines = [f"wrote {name} ({counts})"]
    lines += [f"wrote {path.as_posix()}" for path in result.written[1:]]
    lines += render_as_of(result)
    if result.changes:
        rows = [("platform", "manager", "package", "old", "new")]
        rows += [
            (c.platform, c.manager, c.name, c.old or "-", c.new or "-")
            for c in sorted(result.changes)
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines.append(f"{len(result.changes)} change(s):")
        lines += [
            "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
    return "\n".join(lines) + "\n"


def render_as_of(result: LockResult) -> list[str]:
    """What `--as-of` hid: newer records, and records without a timestamp (and the policy)."""
    report = result.as_of
    if report is None:
        return []
    fate = "excluded" if report.policy == "exclude" else "allowed"
    lines = [f"as of {report.as_of}:"]
    for platform in sorted(report.newer):
        lines.append(
            f"  {platform}: {report.newer[platform]} newer candidate record(s) hidden, "
            f"{report.undated.get(platform, 0)} without a timestamp ({fate})"
        )
    for platform, names in sorted(report.undated_selected.items()):
        lines.append(f"  {platform}: undated records in the lock: {', '.join(sorted(names))}")
    return lines
