"""DriftReport → a short plain-text summary for the terminal (the details go to --report)."""

from __future__ import annotations

from audit.drift.report import DriftReport, Finding

#: Findings listed per section before "... and N more".
SHOW = 15


def format_drift_text(report: DriftReport) -> str:
    lines = [
        f"drift report for {report.repository} ({report.lockfile} at {report.head[:12]}): "
        f"{len(report.findings)} finding(s)"
    ]
    for section in report.sections:
        if section.status == "skipped":
            lines.append(f"  {section.title}: skipped")
            continue
        if section.status == "unavailable":
            lines.append(f"  {section.title}: UNAVAILABLE ({section.reason})")
            continue
        lines.append(f"  {section.title}: {len(section.findings) or 'no'} finding(s)")
        findings = sorted(section.findings, key=Finding.sort_key)
        for f in findings[:SHOW]:
            where = f"{f.revision} " if f.revision else ""
            plat = f" [{f.platform}]" if f.platform else ""
            change = f" {f.old} -> {f.new}" if f.old or f.new else ""
            cause = f"{f.cause} by {f.origin}" if f.origin else f.cause
            lines.append(f"    {where}{f.kind}: {f.subject}{plat}{change} ({cause})")
        if len(findings) > SHOW:
            lines.append(f"    ... and {len(findings) - SHOW} more")
    causes = report.cause_counts()
    if causes:
        lines.append("  likely causes: " + ", ".join(f"{c} ({n})" for c, n in causes.items()))
    return "\n".join(lines) + "\n"
