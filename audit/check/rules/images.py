"""Image rules: every pulled image pinned by digest and recorded in image-lock.json.

The logic is `pin --check`'s (audit.pin.run.check), run over the Dockerfiles and compose
files found in the project; this module only turns its reports into findings.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from audit.check.run import Finding, finding, rel


def check_images(
    root: Path,
    dockerfiles: list[Path],
    compose_files: list[Path],
    texts: dict[str, str],
    findings: list[Finding],
) -> list[Any]:
    """Findings for unpinned and lock-mismatched references; returns the image sites."""
    if not dockerfiles and not compose_files:
        return []
    from audit.pin.run import PinOptions, check, load_sources

    options = PinOptions(dockerfiles=dockerfiles, compose_files=compose_files)
    sources = load_sources(options, lenient=True)
    for source in sources:
        texts[rel(root, source.path)] = source.text
        findings.extend(unresolved_findings(rel(root, source.path), source.unresolved))
        if source.lock_path.exists():
            # an unreadable lock is reported by read_lock below, as bad input
            with contextlib.suppress(OSError, UnicodeDecodeError):
                texts[rel(root, source.lock_path)] = source.lock_path.read_text(encoding="utf-8")
    result = check(sources)
    for report in result.references:
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
