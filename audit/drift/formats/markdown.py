"""DriftReport → markdown (a PR comment, an issue, $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import time

from audit.diff.formats.markdown import md_escape
from audit.drift.report import DriftReport, Finding, Section
from audit.drift.timeline import transitions

#: Rows per findings table before the rest is summarised in one line.
MAX_ROWS = 200


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _status(section: Section) -> str:
    if section.status != "ok":
        return section.status
    return "drift" if section.findings else "ok"


def _findings_table(findings: list[Finding], with_revision: bool) -> list[str]:
    head = "| kind | package / image | platform | old | new | cause | details |"
    sep = "| --- | --- | --- | --- | --- | --- | --- |"
    if with_revision:
        head = "| revision " + head
        sep = "| --- " + sep
    lines = [head, sep]
    for f in findings[:MAX_ROWS]:
        subject = f.subject if f.manager in ("", "conda") else f"{f.subject} ({f.manager})"
        row = (
            f"| {f.kind} | {md_escape(subject)} | {f.platform} | {md_escape(f.old)} | "
            f"{md_escape(f.new)} | {f.cause} | {md_escape(f.detail)} |"
        )
        lines.append((f"| `{f.revision}` " if with_revision else "") + row)
    if len(findings) > MAX_ROWS:
        lines.append(f"\n…and {len(findings) - MAX_ROWS} more (see the JSON report).")
    return lines


def format_drift_markdown(report: DriftReport) -> str:
    findings = report.findings
    lines = [
        f"## repro-audit drift: {md_escape(report.repository)}",
        "",
        f"Lock `{report.lockfile}` at `{report.head[:12]}`: **{len(findings)} finding(s)**, "
        f"exit {report.exit_code}.",
        "",
        "| section | status | findings |",
        "| --- | --- | ---: |",
    ]
    for section in report.sections:
        reason = f" ({md_escape(section.reason)})" if section.reason else ""
        lines.append(f"| {section.title} | {_status(section)}{reason} | {len(section.findings)} |")
    causes = report.cause_counts()
    if causes:
        lines += ["", "| likely root cause | findings |", "| --- | ---: |"]
        lines += [f"| {cause} | {n} |" for cause, n in causes.items()]
    for section in report.sections:
        if section.status == "skipped":
            continue
        lines += ["", f"### {section.title}", ""]
        if section.status == "unavailable":
            lines += [f"_Unavailable: {md_escape(section.reason)}_", ""]
            continue
        if section.name == "history" and report.history is not None:
            lines += _history_lines(report)
        elif section.name == "images":
            refs = section.data.get("references") or []
            if refs:
                lines += ["| reference | pinned | now |", "| --- | --- | --- |"]
                lines += [
                    f"| {md_escape(r['reference'])} | `{r['pinned'][:19]}` | `{r['now'][:19]}` |"
                    for r in refs
                ]
                lines.append("")
            for item in section.data.get("unavailable") or []:
                lines.append(f"- unavailable: {md_escape(item['reference'])}: {item['reason']}")
        elif section.name == "image_vs_lock":
            data = section.data
            lines.append(
                f"{md_escape(str(data.get('image', '')))} ({data.get('platform', '')}): "
                f"{data.get('image_packages', 0)} packages, "
                f"{data.get('system_packages', 0)} from the OS (not covered by the lock)."
            )
            lines.append("")
        if section.findings:
            lines += _findings_table(
                sorted(section.findings, key=Finding.sort_key), section.name == "history"
            )
        else:
            lines.append("No drift.")
    return "\n".join(lines) + "\n"


def _history_lines(report: DriftReport) -> list[str]:
    history = report.history
    assert history is not None
    lines = ["| revision | date | subject | cause | changes |", "| --- | --- | --- | --- | ---: |"]
    for revision in reversed(history.revisions):
        if revision.error:
            what = f"unreadable lock: {md_escape(revision.error)}"
        elif revision.created:
            what = "lock created"
        elif revision is history.revisions[0]:
            what = "baseline"
        else:
            what = str(revision.change_count)
        lines.append(
            f"| `{revision.commit.sha[:12]}` | {_date(revision.commit.time)} | "
            f"{md_escape(revision.commit.subject)} | {revision.cause} | {what} |"
        )
    shas = [r.commit.sha for r in history.revisions]
    rows = [
        (f"{name}" if manager == "conda" else f"{name} ({manager})", platform, versions)
        for (platform, manager, name), versions in history.timelines.items()
        if platform == report.chart_platform
    ]
    if rows:
        lines += [
            "",
            f"Version timelines ({report.chart_platform}):",
            "",
            "| package | versions |",
            "| --- | --- |",
        ]
        lines += [
            f"| {md_escape(label)} | {md_escape(transitions(versions, shas))} |"
            for label, _, versions in rows[:MAX_ROWS]
        ]
    lines.append("")
    return lines
