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
    UndatedOpt,
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
        Path | None,
        typer.Option(
            "--record",
            help="Build record to check against the lock; with --image, also the recorded "
            "OS packages against that image's.",
        ),
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
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Upstream section: solve as the channels stood then."),
    ] = None,
    timeline: Annotated[
        list[str] | None,
        typer.Option(
            "--timeline", help="Only: when did this package's solved version change (repeatable)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Timeline start date (default: --to - 365 days).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Timeline end date (default: now).")
    ] = None,
    max_solves: Annotated[
        int, typer.Option("--max-solves", help="Timeline: at most this many solves.")
    ] = 40,
    undated: UndatedOpt = "exclude",
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
    from audit.core.asof import check_undated_policy, parse_as_of

    check_undated_policy(undated)
    if timeline:
        window = (start, end, max_solves)
        _timeline(path, file, timeline, platform, window, undated, output_format, cache_dir)
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
        record=str(record) if record and image else None,
        platform=platform,
        history=not no_history,
        upstream=not no_upstream,
        images=not no_images,
        cache_dir=cache_dir,
        insecure=insecure_registries(insecure_registry),
        timeout=timeout,
    )
    if as_of is not None:
        from audit.lock.asof import AsOf

        options.as_of = AsOf(parse_as_of(as_of), undated)
    result = run_drift(options)
    for target, fmt in reports:
        write_output(render_drift(result, fmt), target)
        sys.stderr.write(f"wrote {target}\n")
    sys.stdout.write(render_drift(result, output_format))
    raise typer.Exit(result.exit_code)


def _timeline(
    path: Path,
    files: list[Path] | None,
    packages: list[str],
    platform: str | None,
    window: tuple[str | None, str | None, int],
    undated: str,
    output_format: str,
    cache_dir: Path | None,
) -> None:
    """`drift --timeline NAME`: bisect the dates where NAME's solved version changed."""
    from datetime import UTC, datetime, timedelta

    from audit.cli.common import emit_json
    from audit.core.asof import parse_as_of
    from audit.core.errors import InputError
    from audit.drift.asof_timeline import conda_solver, package_timeline, render_timeline
    from audit.lock.run import LockOptions

    start, end, max_solves = window
    if max_solves < 2:
        raise InputError("--max-solves must be at least 2")
    stop = parse_as_of(end, option="--to") if end else datetime.now(UTC).replace(microsecond=0)
    begin = parse_as_of(start, option="--from") if start else stop - timedelta(days=365)
    if begin >= stop:
        raise InputError("--from must be before --to")
    env_files = [path / f for f in files] if files else [path / "environment.yml"]
    options = LockOptions(files=env_files, explicit=False, cache_dir=cache_dir)
    chosen, solve_at = conda_solver(options, platform, undated)
    names = [n.lower() for n in packages]
    result = package_timeline(solve_at, names, chosen, begin, stop, max_solves)
    if output_format == "json":
        emit_json("drift-timeline", 0, result.to_json())
    else:
        sys.stdout.write(render_timeline(result))
    raise typer.Exit(0)
