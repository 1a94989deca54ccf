"""Pick the diff renderer by name; each is imported only when chosen (rich)."""

from __future__ import annotations

import importlib

from audit.core.errors import InputError

#: format name → (module, function) of each renderer
_DIFF = {
    "table": ("audit.diff.formats.table", "format_diff_table"),
    "markdown": ("audit.diff.formats.markdown", "format_diff_markdown"),
    "json": ("audit.diff.formats.json", "format_diff_json"),
    "html": ("audit.diff.formats.html", "format_diff_html"),
}
DIFF_FORMATS = tuple(_DIFF)


def render_diff(drift: object, fmt: str, color: bool = False, exit_code: int = 0) -> str:
    """`drift` in format `fmt` (the JSON document carries `exit_code` in its envelope)."""
    if fmt not in _DIFF:
        raise InputError(f"--format must be one of {', '.join(_DIFF)}, not {fmt!r}")
    module, function = _DIFF[fmt]
    render = getattr(importlib.import_module(module), function)
    if fmt == "table":
        return render(drift, color=color)
    if fmt == "json":
        return render(drift, exit_code=exit_code)
    return render(drift)
