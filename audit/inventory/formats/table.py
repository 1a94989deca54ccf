"""Inventory → a human-readable table (rich), returned as a string: data in, text out."""

from __future__ import annotations

import io

from audit.core.console import make_console
from audit.inventory.interface import Inventory


class InventoryTableFormat:
    """One row per package: manager, name, version, build, channel (or installer/location)."""

    def __init__(self, width: int | None = None, color: bool = False) -> None:
        self.width = width
        self.color = color

    def format(self, inventory: Inventory) -> str:
        from rich.table import Table

        counts: dict[str, int] = {}
        for package in inventory.packages:
            counts[package.manager] = counts.get(package.manager, 0) + 1
        summary = ", ".join(f"{n} {m}" for m, n in sorted(counts.items())) or "no packages"
        table = Table(
            title=f"{inventory.source} [{inventory.platform or 'unknown platform'}]: {summary}",
            title_justify="left",
            show_edge=False,
            box=None,
            pad_edge=False,
        )
        for column in ("manager", "name", "version", "build", "source"):
            table.add_column(column, overflow="fold")
        for p in inventory.packages:
            where = p.channel or (f"{p.installer} {p.location}".strip() if p.location else p.url)
            table.add_row(p.manager, p.name, p.version, p.build, where)
        buffer = io.StringIO()
        console = make_console(buffer, color=self.color, width=self.width)
        console.print(table)
        return buffer.getvalue()


def format_table(inventory: Inventory, width: int | None = None, color: bool = False) -> str:
    return InventoryTableFormat(width, color).format(inventory)
