"""Pick the diff or drift renderer by name or by a report file's suffix.

Each renderer lives in its own module, imported only when chosen (deepdiff, rich and the
HTML templates stay off the paths that do not need them).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from audit.errors import InputError

#: format name → (module, function) of each renderer
_DIFF = {
    "table": ("diff_table", "format_diff_table"),
    "markdown": ("diff_markdown", "format_diff_markdown"),
    "json": ("diff_json", "format_diff_json"),
    "html": ("diff_html", "format_diff_html"),
}
_DRIFT = {
    "text": ("drift_text", "format_drift_text"),
    "markdown": ("drift_markdown", "format_drift_markdown"),
    "json": ("drift_json", "format_drift_json"),
    "html": ("drift_html", "format_drift_html"),
}
DIFF_FORMATS = tuple(_DIFF)
DRIFT_FORMATS = tuple(_DRIFT)
_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
}


def _renderer(table: dict[str, tuple[str, str]], fmt: str) -> object:
    if fmt not in table:
        raise InputError(f"--format must be one of {', '.join(table)}, not {fmt!r}")
    module, function = table[fmt]
    return getattr(importlib.import_module(f"audit.formats.{module}"), function)


def render_diff(drift: object, fmt: str, color: bool = False) -> str:
    render = _renderer(_DIFF, fmt)
    return render(drift, color=color) if fmt == "table" else render(drift)  # type: ignore[operator]


def report_format(path: Path) -> str:
    """The drift format a --report file asks for by its suffix."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"--report {path}: unknown suffix", hint="use .html, .md or .json")
    return fmt


def render_drift(report: object, fmt: str) -> str:
    return _renderer(_DRIFT, fmt)(report)  # type: ignore[operator]
