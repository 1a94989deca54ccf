"""The one way repro-audit makes a rich Console: user text is data, pipes get plain lines.

Every table, progress line and human report goes through `make_console`, so they all
behave alike in a terminal, a pipe and a CI log:

* no markup, emoji or highlighting is read from data: `jovyan:x:1000:100::/home/jovyan`
  stays itself (rich would turn `:x:` into an emoji and `[name]` into a style);
* width: `COLUMNS` when set, else the terminal's; when the output is not a terminal and
  `COLUMNS` is unset, lines are never wrapped or padded to a width (no 120-column tables
  with folded tokens in a log);
* colour and styles only on a terminal, never when `NO_COLOR` is set.
"""

from __future__ import annotations

import os
import shutil
from typing import IO, Any

#: "As wide as the content": rich needs a number; no real line gets near it.
UNBOUNDED = 1 << 16


def output_width(is_terminal: bool) -> int:
    """COLUMNS if valid, else the terminal's width on a terminal, else unbounded."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if is_terminal:
        return shutil.get_terminal_size().columns
    return UNBOUNDED


def make_console(
    file: IO[str] | None = None,
    *,
    color: bool = False,
    stderr: bool = False,
    width: int | None = None,
) -> Any:
    """A rich Console writing to `file` (or stdout/stderr) that renders data verbatim."""
    import sys

    from rich.console import Console

    color = color and not os.environ.get("NO_COLOR")  # https://no-color.org: plain text
    target = file if file is not None else (sys.stderr if stderr else sys.stdout)
    is_terminal = color or (file is None and target.isatty())
    return Console(
        file=target,
        width=width or output_width(is_terminal),
        force_terminal=color or None,
        color_system="standard" if color else None,
        no_color=not color,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=not is_terminal,
    )
