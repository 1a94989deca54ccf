"""Check result → human text (rich markup rendered to a string): data in, text out.

Quiet when all is well: a clean result renders as the empty string. At most
`max_findings` findings are listed (0: all), then one line with the total; what
`--online` could not ask about is a warning line of its own (it is not a finding).
"""

from __future__ import annotations

import io

from audit.check.run import CheckResult

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
    width: int = 120,
    max_findings: int = DEFAULT_MAX_FINDINGS,
) -> str:
    if not result.findings and not result.unchecked:
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
    shown, left_out = capped(result, max_findings)
    for f in shown:
        style = _STYLE[f.level]
        console.print(
            f"[bold]{escape(f.where)}[/]: [{style}]{f.level}[/] "
            f"[dim]{f.rule_id} {f.rule.name}[/] {escape(f.message)}"
        )
    if left_out:
        console.print(
            f"… and {left_out} more finding(s) ({len(result.findings)} in all; "
            "--max-findings 0 lists every one, --format json keeps all)"
        )
    for item in result.unchecked:
        console.print(f"[bold]{escape(item.where)}[/]: [yellow]warning[/] {escape(item.message)}")
    counts = result.counts()
    parts = [f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items() if n]
    if result.unchecked:
        parts.append(f"{len(result.unchecked)} not checked (--online)")
    console.print(f"repro-audit check: {', '.join(parts)} in {result.base}")
    return buffer.getvalue()
