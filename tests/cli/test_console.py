"""Terminal output renders data verbatim: no rich markup or emoji from user text, no
wrapping or padding to a width when stdout is a pipe, COLUMNS and NO_COLOR honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.check.run import CheckResult, Finding
from audit.core.console import UNBOUNDED, output_width
from audit.inventory.formats.table import format_table
from audit.inventory.interface import Inventory, Package

PASSWD = "jovyan:x:1000:100::/home/jovyan [bold]not markup[/bold] :thumbs_up:"


def test_check_human_keeps_user_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.check.formats.human import format_human

    monkeypatch.delenv("COLUMNS", raising=False)
    finding = Finding("Dockerfile", 3, "RA010", PASSWD, "error")
    text = format_human(CheckResult(Path("."), findings=[finding]))
    assert PASSWD in text
    assert "❌" not in text and "👍" not in text


def test_pipe_output_is_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    url = "https://example.invalid/" + "x" * 300 + ".conda"
    package = Package(manager="conda", name="pkg", version="1", url=url)
    text = format_table(Inventory(source="s", platform="linux-64", packages=[package]))
    rows = [line for line in text.splitlines() if "pkg" in line]
    assert len(rows) == 1 and url in rows[0]  # one line, the URL whole


def test_columns_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert output_width(is_terminal=False) == 60
    monkeypatch.setenv("COLUMNS", "junk")
    assert output_width(is_terminal=False) == UNBOUNDED


def test_no_color_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.check.formats.human import format_human

    monkeypatch.setenv("NO_COLOR", "1")
    finding = Finding("Dockerfile", 3, "RA011", "unpinned", "error")
    text = format_human(CheckResult(Path("."), findings=[finding]), color=True)
    assert "\x1b[" not in text
