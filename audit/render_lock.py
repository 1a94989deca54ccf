"""Human rendering of a LockResult on the terminal (rich)."""

from __future__ import annotations

from typing import Any

from audit.lock import LockResult


def render_lock_result(result: LockResult, console: Any) -> None:
    """One line when all is well; a table of changes or stale platforms otherwise."""
    name = result.lockfile.as_posix()
    if result.status == "current":
        console.print(f"{name} is current ({', '.join(result.platforms)}): nothing to do")
        return
    if result.status == "stale":
        console.print(f"[bold red]{name} is stale[/]")
        for platform, why in sorted(result.stale.items()):
            console.print(f"  {platform}: {why}")
        console.print("run `repro-audit lock` to update it")
        return
    counts = ", ".join(
        f"{p}: {c['conda']} conda" + (f" + {c['pip']} pip" if c.get("pip") else "")
        for p, c in sorted(result.counts.items())
    )
    console.print(f"wrote {name} ({counts})")
    for path in result.written[1:]:
        console.print(f"wrote {path.as_posix()}")
    if result.changes:
        from rich.table import Table

        table = Table(title="changes", show_edge=False)
        for column in ("platform", "manager", "package", "old", "new"):
            table.add_column(column)
        for c in sorted(result.changes):
            table.add_row(c.platform, c.manager, c.name, c.old or "—", c.new or "—")
        console.print(table)
