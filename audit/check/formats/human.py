"""Check result → human text (rich markup rendered to a string): data in, text out.

Quiet when all is well: a clean result renders as the empty string. At most
`max_findings` findings are listed (0: all), then one line with the total; what
`--online` could not ask about is a warning line of its own (it is not a finding).
"""

from __future__ import annotations

import io

from audit.check.run import CheckResult
from audit.core.console import make_console

_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}
DEFAULT_MAX_FINDINGS = 200


def capped(result: CheckResult, max_findings: int) -> tuple[list, int]:
    """(findings to list, how many were left out) for a cap of `max_findings` (0: none)."""
    if max_findings <= 0 or len(result.findings) <= max_findings:
        return list(result.findings), 0
    return list(result.findings[:max_findings]), len(result.findings) - max_findings


def format_human(
    result: CheckResult,
    *,
    color: bool = False,
    width: int | None = None,
    max_findings: int = DEFAULT_MAX_FINDINGS,
) -> str:
    if not result.findings and not result.unchecked:
        return ""
    from rich.text import Text

    buffer = io.StringIO()
    console = make_console(buffer, color=color, width=width)
    shown, left_out = capped(result, max_findings)
    for f in shown:
        line = Text()
        line.append(f.where, style="bold")
        line.append(": ")
        line.append(f.level, style=_STYLE[f.level])
        line.append(" ")
        line.append(f"{f.rule_id} {f.rule.name}", style="dim")
        line.append(f" {f.message}")
        console.print(line, soft_wrap=True)
    if left_out:
        console.print(
            Text(
                f"… and {left_out} more finding(s) ({len(result.findings)} in all; "
                "--max-findings 0 lists every one, --format json keeps all)"
            ),
            soft_wrap=True,
        )
    for item in result.unchecked:
        line = Text()
        line.append(item.where, style="bold")
        line.append(": ")
        line.append("warning", style="yellow")
        line.append(f" {item.message}")
        console.print(line, soft_wrap=True)
    counts = result.counts()
    parts = [f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items() if n]
    if result.unchecked:
        parts.append(f"{len(result.unchecked)} not checked (--online)")
    console.print(Text(f"repro-audit check: {', '.join(parts)} in {result.base}"), soft_wrap=True)
    return buffer.getvalue()
