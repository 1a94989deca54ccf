"""Check result → GitHub Actions workflow commands, so findings become PR annotations.

`::error file=F,line=N,title=T::message` per finding; values are escaped as the runner's
toolkit does (`%`, CR, LF everywhere; also `:` and `,` in properties).
"""

from __future__ import annotations

from audit.check.formats.human import DEFAULT_MAX_FINDINGS, capped
from audit.check.run import CheckResult

_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(result: CheckResult, *, max_findings: int = DEFAULT_MAX_FINDINGS) -> str:
    """One workflow command per finding (at most `max_findings`), plus a summary line."""
    lines = []
    if result.error is not None:
        lines.append(f"::error title=repro-audit check::{_escape_data(result.error)}")
    shown, left_out = capped(result, max_findings)
    for f in shown:
        props = [f"file={_escape_property(f.file)}"]
        if f.line:
            props.append(f"line={f.line}")
        props.append(f"title={_escape_property(f'{f.rule_id} {f.rule.name}')}")
        lines.append(f"::{_COMMAND[f.level]} {','.join(props)}::{_escape_data(f.message)}")
    if left_out:
        lines.append(
            f"::warning title=repro-audit check::{left_out} more finding(s) not annotated "
            f"({len(result.findings)} in all; see --format json or sarif)"
        )
    for item in result.unchecked:
        props = [f"file={_escape_property(item.file)}"]
        if item.line:
            props.append(f"line={item.line}")
        props.append(f"title={_escape_property('repro-audit could not check')}")
        lines.append(f"::warning {','.join(props)}::{_escape_data(item.message)}")
    counts = result.counts()
    lines.append(
        f"repro-audit check: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['note']} note(s)"
    )
    return "\n".join(lines) + "\n"
