"""Drift → a terminal table (rich), returned as a string: data in, text out."""

from __future__ import annotations

import io

from audit.core.console import make_console
from audit.diff.changes import (
    KIND_MARK,
    by_manager,
    cause,
    describe,
    has_causes,
    summary_text,
)
from audit.diff.classify import Drift

KIND_STYLE = {
    "added": "green",
    "removed": "red",
    "upgraded": "cyan",
    "downgraded": "yellow",
    "rebuilt": "blue",
    "channel-changed": "magenta",
    "hash-changed": "bold red",
    "moved": "magenta",
    "metadata-changed": "dim",
}


def format_diff_table(drift: Drift, width: int | None = None, color: bool = False) -> str:
    """One table per platform and manager: kind, name, old, new, what else changed."""
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = make_console(buffer, color=color, width=width)
    console.print(Text(f"{drift.old_source} → {drift.new_source}: {summary_text(drift.counts())}"))
    for platform in drift.platforms:
        console.print()
        head = f"[{platform.platform or 'unknown platform'}] {summary_text(platform.counts())}"
        console.print(Text(head, style="bold"))
        for manager, changes in by_manager(platform.changes):
            table = Table(
                title=f"{manager} ({len(changes)})",
                title_justify="left",
                show_edge=False,
                box=None,
                pad_edge=False,
            )
            causes = has_causes(changes)
            columns = ("", "kind", "name", "old", "new", "details") + (("cause",) if causes else ())
            for column in columns:
                table.add_column(column, overflow="fold")
            for change in changes:
                style = KIND_STYLE.get(change.kind, "")
                row = [
                    Text(KIND_MARK.get(change.kind, "?"), style=style),
                    Text(change.kind, style=style),
                    change.name if change.kind != "moved" else _moved_name(change),
                    change.old_version,
                    change.new_version,
                    describe(change),
                ]
                if causes:
                    row.append(Text(cause(change)))
                table.add_row(*row)
            console.print(table)
    return buffer.getvalue()


def _moved_name(change) -> str:  # type: ignore[no-untyped-def]
    old = change.old.name if change.old else "?"
    return change.name if old == change.name else f"{old} → {change.name}"
