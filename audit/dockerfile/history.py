"""An image history entry (`created_by`) back to the Dockerfile instruction that made it.

The classic builder writes `/bin/sh -c pip install numpy` for a RUN and
`/bin/sh -c #(nop) COPY file:<hash> in /dest ` for a COPY (`|2 A=1 B=2 /bin/sh -c …` when
build args are set); BuildKit writes `RUN /bin/sh -c pip install numpy # buildkit` and
`COPY src /dest # buildkit`. A RUN is matched on its command text (whitespace collapsed),
a COPY/ADD on its keyword and destination, in the last stage (the one the image is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit.dockerfile.parser import Instruction, instructions

_BUILD_ARGS = re.compile(r"^\|\d+\s+(?:\S+=\S*\s+)*")
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh\s+-c\s+)")


@dataclass(frozen=True)
class StepRef:
    """Where a layer comes from: `Dockerfile:12 (RUN pip install numpy)`."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.text})"


def normalize(created_by: str) -> tuple[str, str]:
    """(keyword, rest) of a history entry: ("RUN", "pip install numpy"), ("COPY", "… /dest")."""
    text = created_by.strip().removesuffix("# buildkit").strip()
    keyword = ""
    match = re.match(r"^(RUN|COPY|ADD)\s+", text)
    if match:
        keyword, text = match.group(1), text[match.end() :]
        text = re.sub(r"^(?:--\S+\s+)+", "", text)  # BuildKit keeps RUN --mount=…
    text = _BUILD_ARGS.sub("", text)
    text = _SHELL.sub("", text)
    nop = re.match(r"^#\(nop\)\s+(\w+)\s+(.*)$", text)
    if nop:
        keyword, text = nop.group(1).upper(), nop.group(2)
    return keyword or "RUN", " ".join(text.split())


def _args(item: Instruction) -> str:
    return " ".join(item.args.split())


def find_step(created_by: str, items: list[Instruction], path: str) -> StepRef | None:
    """The instruction of the image's (last) stage that made a history entry, if any."""
    if not created_by or not items:
        return None
    keyword, text = normalize(created_by)
    last = max(item.stage for item in items)
    stage = [i for i in items if i.stage == last and i.keyword == keyword]
    for item in stage:
        if keyword == "RUN" and _args(item) == text:
            return StepRef(path, item.line, f"RUN {_short(_args(item))}")
    if keyword in ("COPY", "ADD"):
        dest = text.rsplit(" in ", 1)[-1].strip() if " in " in text else text.split()[-1]
        for item in stage:
            words = item.args.split()
            if words and words[-1].rstrip("/") == dest.rstrip("/"):
                return StepRef(path, item.line, f"{keyword} {_short(_args(item))}")
    return None


def find_in_text(created_by: str, text: str, path: str) -> StepRef | None:
    """find_step over a Dockerfile's text; None when it does not parse."""
    from audit.core.errors import InputError

    try:
        return find_step(created_by, instructions(text, path), path)
    except InputError:
        return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
