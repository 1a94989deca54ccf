"""Check result → GitHub Actions workflow commands, so findings become PR annotations.

`::error file=F,line=N,title=T::message` per finding; values are escaped as the runner's
toolkit does (`%`, CR, LF everywhere; also `:` and `,` in properties).
"""

from __future__ import annotations

from audit.check.run import CheckResult

_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(result: CheckResult) -> str:
    """One workflow command per finding, plus a plain summary line."""
    lines = []
    for f in result.findings:
        props = [f"file={_escape_property(f.file)}"]
        if f.line:
            props.append(f"line={f.line}")
        props.append(f"title={_escape_property(f'{f.rule_id} {f.rule.name}')}")
        lines.append(f"::{_COMMAND[f.level]} {','.join(props)}::{_escape_data(f.message)}")
    counts = result.counts()
    lines.append(
        f"repro-audit check: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['note']} note(s)"
    )
    return "\n".join(lines) + "\n"
