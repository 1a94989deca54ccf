"""One conda dependency line → the match spec conda means, as rattler's lenient parser reads it.

conda accepts more than rattler's strict grammar: `conda env export` pins
(`name=1.2=build`), fuzzy `name=1.2` (1.2.*), `name 1.2 build`, bracket keys
(`pkg[version='>=1',build=py*]`), `channel/subdir::name`. rattler's lenient mode
(`MatchSpec(text, strict=False)`) reads all of these as conda does; its canonical string
is what the solver gets, so the text is never rewritten by hand. conda strips a bracket
that holds no `key=value` (`dask[complete]`, pip extras written on a conda line): that is
done here too, with a warning, since the extras are not installed.

`lock` and `check` both parse conda lines through `parse_conda_spec`, so they agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from audit.core.errors import InputError

#: `[...]` groups holding no `=`: extras-like, which conda drops.
_EXTRAS = re.compile(r"\[([^\[\]=]*)\]")


@dataclass(frozen=True)
class CondaSpec:
    """A conda dependency as written and as the solver gets it."""

    written: str  # the text on the line
    solver: str  # rattler's canonical form (channel as written, if any)
    name: str  # normalised package name
    channel: str | None  # the channel part as written (`conda-forge`, `nvidia/label/x`)
    warning: str | None = None  # e.g. an extras bracket that was dropped


def parse_conda_spec(text: str, where: str | None = None) -> CondaSpec:
    """Parse one conda spec as conda would; InputError with `where` when it is not one."""
    written = text.strip()
    if not written:
        raise InputError("empty dependency", where=where)
    return _parse_cached(written, where)


@lru_cache(maxsize=8192)
def _parse_cached(written: str, where: str | None) -> CondaSpec:
    from rattler import MatchSpec

    body, warning = _strip_extras(written)
    head, sep, tail = body.partition("::")
    try:
        spec = MatchSpec(body, strict=False)
        rest = str(MatchSpec(tail.strip(), strict=False)) if sep else ""
    except Exception as exc:
        raise InputError(
            f"invalid conda spec '{written}': {_first_line(exc)}",
            where=where,
            hint=_hint(written),
        ) from None
    if spec.name is None:
        raise InputError(f"invalid conda spec '{written}': no package name", where=where)
    name = spec.name.normalized
    canonical = str(spec)
    channel = (head.strip() or None) if sep else _written_channel(body, spec)
    if sep:
        canonical = f"{channel}::{rest}" if channel else rest
    _check_reparse(canonical, written, where)
    return CondaSpec(written, canonical, name, channel, warning)


def _strip_extras(text: str) -> tuple[str, str | None]:
    """Drop extras-like brackets (conda does), keeping `key=value` brackets."""
    found = _EXTRAS.findall(text)
    if not found:
        return text, None
    body = _EXTRAS.sub("", text)
    dropped = ", ".join(f"[{f}]" for f in found)
    return body, f"'{text}': conda ignores {dropped} (extras are not a conda concept)"


def _written_channel(body: str, spec: object) -> str | None:
    """The channel of a `[channel=…]` key (a `chan::` prefix is taken as written)."""
    channel = getattr(spec, "channel", None)
    return channel.name if channel is not None else None


def _check_reparse(canonical: str, written: str, where: str | None) -> None:
    """The solver re-reads the canonical string (leniently, see `as_match_spec`)."""
    try:
        as_match_spec(canonical)
    except Exception as exc:
        raise InputError(
            f"conda spec '{written}' cannot be solved as read ('{canonical}'): {_first_line(exc)}",
            where=where,
        ) from None


def as_match_spec(solver_text: str) -> object:
    """rattler's MatchSpec of a `CondaSpec.solver` string (lenient: conda's build strings
    may hold dots, `py3.7_cuda11.0_0`, which rattler's strict grammar refuses)."""
    from rattler import MatchSpec

    return MatchSpec(solver_text, strict=False)


def record_match_spec(written: str, where: str | None = None) -> tuple[Any, str | None]:
    """The MatchSpec a locked record must meet for the line `written`, without its channel
    (rattler ignores channels on lock records), and the channel as written.

    `check` (a spec unmet by the lock) and `merge-lock` (a merged lock unmet by the merged
    environment file) judge records this one way.
    """
    parsed = parse_conda_spec(written, where)
    text = parsed.solver.split("::", 1)[1] if "::" in parsed.solver else parsed.solver
    if parsed.channel and "::" not in parsed.solver:
        text = re.sub(r"\[?channel=\"[^\"]*\",?\]?", "", text)
    return as_match_spec(text), parsed.channel


def _hint(text: str) -> str | None:
    """A likely fix for a common mistake."""
    if "==" not in text and re.search(r"[A-Za-z0-9]\s*=\s*$", text):
        return "a '=' needs a version after it"
    if re.search(r"\s(>=|<=|==|<|>)\s*$", text):
        return "an operator needs a version after it"
    if text.count("[") != text.count("]"):
        return "unbalanced brackets"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
