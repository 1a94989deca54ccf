"""Check result → human text (rich markup rendered to a string): data in, text out.

Quiet when all is well: a clean result renders as the empty string.
"""

from __future__ import annotations

import io

from audit.check.run import CheckResult
from audit.core.console import make_console

_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def format_human(result: CheckResult, *, color: bool = False, width: int | None = None) -> str:
    if not result.findings:
        return ""
    from rich.text import Text

    buffer = io.StringIO()
    console = make_console(buffer, color=color, width=width)
    for f in result.findings:
        line = Text()
        line.append(f.where, style="bold")
        line.append(": ")
        line.append(f.level, style=_STYLE[f.level])
        line.append(" ")
        line.append(f"{f.rule_id} {f.rule.name}", style="dim")
        line.append(f" {f.message}")
        console.print(line, soft_wrap=True)
    counts = result.counts()
    parts = [f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items() if n]
    console.print(
        Text(f"repro-audit check: {', '.join(parts)} in {result.root.as_posix()}"), soft_wrap=True
    )
    return buffer.getvalue()
