"""Inventory → a human-readable table (rich), returned as a string: data in, text out."""

from __future__ import annotations

import io

from audit.core.console import make_console
from audit.inventory.interface import Inventory

#: Above this many rows the table is plain aligned text: rich lays out every cell
#: (wrapping, measuring), which takes minutes for a 100,000-entry lock.
PLAIN_ROWS = 5000
COLUMNS = ("manager", "name", "version", "build", "source")


class InventoryTableFormat:
    """One row per package: manager, name, version, build, channel (or installer/location)."""

    def __init__(self, width: int | None = None, color: bool = False) -> None:
        self.width = width
        self.color = color

    def format(self, inventory: Inventory) -> str:
        if len(inventory.packages) > PLAIN_ROWS:
            return self.plain(inventory)
        from rich.table import Table

        table = Table(
            title=_title(inventory),
            title_justify="left",
            show_edge=False,
            box=None,
            pad_edge=False,
        )
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for row in _rows(inventory):
            table.add_row(*row)
        buffer = io.StringIO()
        console = make_console(buffer, color=self.color, width=self.width)
        console.print(table)
        return buffer.getvalue()

    def plain(self, inventory: Inventory) -> str:
        """The same columns as plain text, each as wide as its widest cell (no wrapping)."""
        rows = [COLUMNS, *_rows(inventory)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
        out = [_title(inventory)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            out.append(" ".join([*cells, row[-1]]).rstrip())
        return "\n".join(out) + "\n"


def _title(inventory: Inventory) -> str:
    counts: dict[str, int] = {}
    for package in inventory.packages:
        counts[package.manager] = counts.get(package.manager, 0) + 1
    summary = ", ".join(f"{n} {m}" for m, n in sorted(counts.items())) or "no packages"
    return f"{inventory.source} [{inventory.platform or 'unknown platform'}]: {summary}"


def _rows(inventory: Inventory) -> list[tuple[str, str, str, str, str]]:
    out = []
    for p in inventory.packages:
        where = p.channel or (f"{p.installer} {p.location}".strip() if p.location else p.url)
        out.append((p.manager, p.name, p.version, p.build, where))
    return out


def format_table(inventory: Inventory, width: int | None = None, color: bool = False) -> str:
    return InventoryTableFormat(width, color).format(inventory)
