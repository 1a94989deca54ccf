"""Check result → human text (rich markup rendered to a string): data in, text out.

Quiet when all is well: a clean result renders as the empty string.
"""

from __future__ import annotations

import io

from audit.check.run import CheckResult

_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def format_human(result: CheckResult, *, color: bool = False, width: int = 120) -> str:
    if not result.findings:
        return ""
    from rich.console import Console
    from rich.markup import escape

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        soft_wrap=True,
    )
    for f in result.findings:
        style = _STYLE[f.level]
        console.print(
            f"[bold]{escape(f.where)}[/]: [{style}]{f.level}[/] "
            f"[dim]{f.rule_id} {f.rule.name}[/] {escape(f.message)}"
        )
    counts = result.counts()
    parts = [f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items() if n]
    console.print(f"repro-audit check: {', '.join(parts)} in {result.root.as_posix()}")
    return buffer.getvalue()
