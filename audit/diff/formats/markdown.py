"""Drift → GitHub-flavoured markdown for a PR comment or $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from audit.diff.changes import KIND_MARK, by_manager, cause, describe, has_causes, summary_text
from audit.diff.classify import KINDS, Drift

#: Above this many rows a manager's table is folded in a <details> block.
FOLD_ROWS = 30


def md_escape(text: str) -> str:
    """Escape what breaks a table cell or renders as markup."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\n", " ")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("*", "\\*")
        .replace("_", "\\_")
        .replace("`", "\\`")
    )


def code(text: str) -> str:
    """An inline code span (backticks inside would end it)."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def format_diff_markdown(drift: Drift) -> str:
    lines = [
        f"### repro-audit diff: {code(drift.old_source)} → {code(drift.new_source)}",
        "",
    ]
    counts = drift.counts()
    if not drift.changes:
        lines += ["No changes.", ""]
        return "\n".join(lines)
    lines += ["| kind | count |", "| --- | ---: |"]
    lines += [f"| {KIND_MARK[k]} {k} | {counts[k]} |" for k in KINDS if counts[k]]
    lines.append("")
    for platform in drift.platforms:
        lines += [
            f"#### {md_escape(platform.platform or 'unknown platform')}: "
            f"{summary_text(platform.counts())}",
            "",
        ]
        for manager, changes in by_manager(platform.changes):
            fold = len(changes) > FOLD_ROWS
            if fold:
                lines += [
                    f"<details><summary>{manager}: {len(changes)} changes</summary>",
                    "",
                ]
            else:
                lines += [f"**{manager}**", ""]
            causes = has_causes(changes)
            head = "| kind | package | old | new | details |" + (" cause |" if causes else "")
            lines += [head, "| --- " * head.count(" |") + "|"]
            for c in changes:
                name = c.name
                if c.kind == "moved" and c.old is not None and c.old.name != c.name:
                    name = f"{c.old.name} → {c.name}"
                lines.append(
                    f"| {KIND_MARK[c.kind]} {c.kind} | {md_escape(name)} | "
                    f"{md_escape(c.old_version)} | {md_escape(c.new_version)} | "
                    f"{md_escape(describe(c))} |" + (f" {md_escape(cause(c))} |" if causes else "")
                )
            lines.append("")
            if fold:
                lines += ["</details>", ""]
    return "\n".join(lines)
