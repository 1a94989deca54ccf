"""Pick the drift renderer by name or by a report file's suffix.

Each renderer lives in its own module, imported only when chosen (rich and the
HTML templates stay off the paths that do not need them).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from audit.core.errors import InputError

#: format name → (module, function) of each renderer
_DRIFT = {
    "text": ("audit.drift.formats.text", "format_drift_text"),
    "markdown": ("audit.drift.formats.markdown", "format_drift_markdown"),
    "json": ("audit.drift.formats.json", "format_drift_json"),
    "html": ("audit.drift.formats.html", "format_drift_html"),
}
DRIFT_FORMATS = tuple(_DRIFT)
_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
}


def renderer(table: dict[str, tuple[str, str]], fmt: str) -> object:
    if fmt not in table:
        raise InputError(f"--format must be one of {', '.join(table)}, not {fmt!r}")
    module, function = table[fmt]
    return getattr(importlib.import_module(module), function)


def report_format(path: Path) -> str:
    """The drift format a --report file asks for by its suffix."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"--report {path}: unknown suffix", hint="use .html, .md or .json")
    return fmt


def render_drift(report: object, fmt: str) -> str:
    return renderer(_DRIFT, fmt)(report)  # type: ignore[operator]
