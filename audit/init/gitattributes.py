"""`.gitattributes`: route every lock file through the merge driver, keeping the rest.

git applies the last line that sets an attribute for a path, so a pattern is already set
up when its last `merge` setting is the driver's. One that sets another merge (`-merge`,
`binary`, `merge=union`…) is the user's decision: `init` refuses to override it unless
told to (`--force` appends the driver's line, which then wins).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.init.templates import DRIVER, LOCK_PATTERNS

PATH = ".gitattributes"
COMMENT = "# repro-audit: merge lock files per package (repro-audit merge-lock)"


@dataclass(frozen=True)
class Setting:
    """The last `merge` setting of one pattern: its value and line (1-based)."""

    value: str
    line: int


def _pattern(word: str) -> str:
    """`**/conda-lock.yml` matches what `conda-lock.yml` matches (no slash: any level)."""
    return word.removeprefix("**/")


def _merge_value(attrs: list[str]) -> str | None:
    """What a line's attributes do to `merge` (None: nothing)."""
    value = None
    for attr in attrs:
        if attr == "binary":  # the built-in macro: -diff -merge -text
            value = "-merge"
        elif attr in ("merge", "-merge", "!merge"):
            value = attr
        elif attr.startswith("merge="):
            value = attr.removeprefix("merge=")
    return value


def merge_settings(text: str) -> dict[str, Setting]:
    """Pattern → its last merge setting, for the patterns `init` writes."""
    found: dict[str, Setting] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        pattern = _pattern(words[0])
        value = _merge_value(words[1:])
        if pattern in LOCK_PATTERNS and value is not None:
            found[pattern] = Setting(value, number)
    return found


@dataclass(frozen=True)
class Conflict:
    pattern: str
    setting: Setting

    def message(self) -> str:
        shown = (
            self.setting.value
            if self.setting.value.startswith(("-", "!"))
            else (f"merge={self.setting.value}")
        )
        return f"{self.pattern} is set to {shown} here, not merge={DRIVER}"


def merged_attributes(old: str | None, force: bool) -> tuple[str | None, list[Conflict]]:
    """The file with the driver's lines added (None: nothing to add), and the patterns
    whose own merge setting stands in the way (empty with `force`)."""
    settings = merge_settings(old or "")
    missing: list[str] = []
    conflicts: list[Conflict] = []
    for pattern in LOCK_PATTERNS:
        setting = settings.get(pattern)
        if setting is not None and setting.value == DRIVER:
            continue
        if setting is not None and not force:
            conflicts.append(Conflict(pattern, setting))
        missing.append(pattern)
    if conflicts or not missing:
        return None, conflicts
    text = old or ""
    if text and not text.endswith("\n"):
        text += "\n"
    if COMMENT not in text:
        text += ("\n" if text.strip() else "") + COMMENT + "\n"
    text += "".join(f"{pattern} merge={DRIVER}\n" for pattern in missing)
    return text, []
