"""Pick the diff or drift renderer by name or by a report file's suffix."""

from __future__ import annotations

from pathlib import Path

from audit.errors import InputError

DIFF_FORMATS = ("table", "markdown", "json", "html")
DRIFT_FORMATS = ("text", "markdown", "json", "html")
_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
}


def render_diff(drift: object, fmt: str, color: bool = False) -> str:
    if fmt == "json":
        from audit.formats.diff_json import format_diff_json

        return format_diff_json(drift)  # type: ignore[arg-type]
    if fmt == "markdown":
        from audit.formats.diff_markdown import format_diff_markdown

        return format_diff_markdown(drift)  # type: ignore[arg-type]
    if fmt == "html":
        from audit.formats.diff_html import format_diff_html

        return format_diff_html(drift)  # type: ignore[arg-type]
    if fmt == "table":
        from audit.formats.diff_table import format_diff_table

        return format_diff_table(drift, color=color)  # type: ignore[arg-type]
    raise InputError(f"--format must be one of {', '.join(DIFF_FORMATS)}, not {fmt!r}")


def report_format(path: Path) -> str:
    """The drift format a --report file asks for by its suffix."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"--report {path}: unknown suffix", hint="use .html, .md or .json")
    return fmt


def render_drift(report: object, fmt: str) -> str:
    if fmt == "json":
        from audit.formats.drift_json import format_drift_json

        return format_drift_json(report)  # type: ignore[arg-type]
    if fmt == "markdown":
        from audit.formats.drift_markdown import format_drift_markdown

        return format_drift_markdown(report)  # type: ignore[arg-type]
    if fmt == "html":
        from audit.formats.drift_html import format_drift_html

        return format_drift_html(report)  # type: ignore[arg-type]
    if fmt == "text":
        from audit.formats.drift_text import format_drift_text

        return format_drift_text(report)  # type: ignore[arg-type]
    raise InputError(f"--format must be one of {', '.join(DRIFT_FORMATS)}, not {fmt!r}")
