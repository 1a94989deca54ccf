"""`repro-audit drift`: the periodic drift report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    CacheDirOpt,
    InsecureRegistryOpt,
    TimeoutOpt,
    check_format,
    insecure_registries,
    use_credentials,
    write_output,
)


@app.command()
def drift(
    path: Annotated[Path, typer.Argument(help="Repository checkout (default: .).")] = Path("."),
    lockfile: Annotated[
        Path, typer.Option("--lockfile", help="The lock, relative to PATH.")
    ] = Path("conda-lock.yml"),
    file: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="environment.yml, relative to PATH (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option("-n", help="Last N revisions that touched the lock.")] = 20,
    since: Annotated[
        str | None, typer.Option("--since", help="Revisions after REV instead of -n.")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Image to check: docker-daemon:, docker-archive:, docker://."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Build record to check against the lock.")
    ] = None,
    platform: Annotated[
        str | None, typer.Option("-p", "--platform", help="Platform of the image and chart.")
    ] = None,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Skip the lock history.")
    ] = False,
    no_upstream: Annotated[
        bool, typer.Option("--no-upstream", help="Skip re-solving environment.yml today.")
    ] = False,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Skip checking pinned base image tags.")
    ] = False,
    report: Annotated[
        list[Path] | None,
        typer.Option("--report", help="Write a report: FILE.html | FILE.md | FILE.json."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="stdout: text | markdown | json | html")
    ] = "text",
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    cache_dir: CacheDirOpt = None,
    auth_file: AuthFileOpt = None,
) -> None:
    """The periodic drift report: lock history, upstream, base images, image vs lock."""
    use_credentials(auth_file)
    from audit.core.errors import InputError
    from audit.drift.formats.dispatch import DRIFT_FORMATS, render_drift, report_format
    from audit.drift.report import DriftOptions, run_drift

    check_format(output_format, DRIFT_FORMATS)
    if image and record:
        raise InputError("--image and --record cannot be combined")
    if since is not None and limit != 20:
        raise InputError("-n and --since cannot be combined")
    reports = [(p, report_format(p)) for p in report or []]
    options = DriftOptions(
        path=path,
        lockfile=lockfile,
        files=list(file or []),
        limit=limit,
        since=since,
        image=image or (str(record) if record else None),
        platform=platform,
        history=not no_history,
        upstream=not no_upstream,
        images=not no_images,
        cache_dir=cache_dir,
        insecure=insecure_registries(insecure_registry),
        timeout=timeout,
    )
    result = run_drift(options)
    for target, fmt in reports:
        write_output(render_drift(result, fmt), target)
        sys.stderr.write(f"wrote {target}\n")
    sys.stdout.write(render_drift(result, output_format))
    raise typer.Exit(result.exit_code)
