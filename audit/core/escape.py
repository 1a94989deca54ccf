"""Control characters from input files made visible: the one escaper every printer uses."""

from __future__ import annotations

import re

#: Characters that act on a terminal or hide text: C0 and C1 controls (ESC, BEL, CR, …)
#: and DEL, bidirectional overrides and isolates ("Trojan Source"). Tab and newline are
#: kept: each format has its own rule for a line break (one_line makes it a space).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\u202e`): safe to show.

    Whatever comes from an input file (a spec, a path, a YAML value) reaches terminals,
    CI logs and GitHub annotations; `"numpy\\x1b]0;pwned\\x07"` must not retitle the
    terminal or clear the screen. Every error line and every finding goes through here.
    """
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
