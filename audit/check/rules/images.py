"""Image rules: every pulled image pinned by digest and recorded in image-lock.json.

The logic is `pin --check`'s (audit.pin.run.check), run over the Dockerfiles and compose
files found in the project; this module only turns its reports into findings.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from audit.check.run import Finding, error_finding, finding, rel
from audit.core.errors import InputError


def check_images(
    root: Path,
    dockerfiles: list[Path],
    compose_files: list[Path],
    texts: dict[str, str],
    findings: list[Finding],
    broken: set[str] | None = None,
) -> list[Any]:
    """Findings for unpinned and lock-mismatched references; returns the image sites.

    A file that cannot be read or parsed is an RA038 finding (its name joins `broken`, so
    the step rules skip it) and an unreadable image-lock.json an RA039 one; every other
    file is still checked, and references beside a broken image lock are still judged
    pinned or not.
    """
    if not dockerfiles and not compose_files:
        return []
    from audit.core.text import cannot_read
    from audit.pin.run import PinOptions, RefReport, check, load_sources

    broken = broken if broken is not None else set()
    sources = []
    for path, options in [
        *((p, PinOptions(dockerfiles=[p], compose_files=[])) for p in dockerfiles),
        *((p, PinOptions(dockerfiles=[], compose_files=[p])) for p in compose_files),
    ]:
        name = rel(root, path)
        try:
            sources.extend(load_sources(options, lenient=True))
        except OSError as exc:
            broken.add(name)
            findings.append(finding("RA038", name, 0, cannot_read(path, exc)))
        except InputError as exc:
            broken.add(name)
            findings.append(error_finding("RA038", exc, name, str(path)))
            with contextlib.suppress(OSError, UnicodeDecodeError):
                texts[name] = path.read_text(encoding="utf-8")  # still scanned for secrets
    by_lock: dict[Path, list[Any]] = {}
    for source in sources:
        texts[rel(root, source.path)] = source.text
        findings.extend(unresolved_findings(rel(root, source.path), source.unresolved))
        by_lock.setdefault(source.lock_path, []).append(source)
    reports = []
    for lock_path, group in by_lock.items():
        if lock_path.exists():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                texts[rel(root, lock_path)] = lock_path.read_text(encoding="utf-8")
        try:
            reports.extend(check(group).references)
        except InputError as exc:
            findings.append(error_finding("RA039", exc, rel(root, lock_path), str(lock_path)))
            reports.extend(
                RefReport(site.path, site.line, site.expanded, "unpinned", None)
                for source in group
                for site in source.sites
                if not site.ref.pinned
            )
    for report in reports:
        if report.status == "unpinned":
            findings.append(
                finding(
                    "RA011",
                    rel(root, report.file),
                    report.line,
                    f"{report.reference} is not pinned by digest (run `repro-audit pin`)",
                )
            )
        elif report.status == "lock-mismatch":
            findings.append(
                finding(
                    "RA012",
                    rel(root, report.file),
                    report.line,
                    f"{report.reference} does not match the image lock: {report.detail}",
                )
            )
    return [site for source in sources for site in source.sites]


def unresolved_findings(name: str, unresolved: list[Any]) -> list[Finding]:
    """RA036 for each image that needs a build ARG without a default (it cannot be pinned)."""
    out = []
    for image in unresolved:
        keyword = "FROM" if image.kind == "from" else "COPY --from="
        sep = " " if image.kind == "from" else ""
        why = (
            "which has no default"
            if image.default is None
            else f"whose default {image.default!r} is no image reference (a template)"
        )
        out.append(
            finding(
                "RA036",
                name,
                image.line,
                f"`{keyword}{sep}{image.written}` needs the build ARG {image.arg}, {why}: the "
                f"image is whatever `--build-arg {image.arg}=…` names on the day of the build, "
                "and no digest can pin it; give the ARG a default and run `repro-audit pin`",
            )
        )
    return out


def dockerfile_image_findings(text: str, name: str) -> list[Finding]:
    """RA036 findings of one Dockerfile's text (no file system access; bad input raises)."""
    from audit.dockerfile.parser import parse_for_platforms

    return unresolved_findings(name, parse_for_platforms(text, name, lenient=True).unresolved)
