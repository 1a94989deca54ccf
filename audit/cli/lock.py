"""`repro-audit lock`: resolve environment.yml into conda-lock.yml and explicit lockfiles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from audit.cli.app import app
from audit.cli.common import (
    CacheDirOpt,
    FormatOpt,
    JsonOpt,
    UndatedOpt,
    emit_json,
    use_credentials,
    wants_json,
)
from audit.lockfile.projectconfig import configured_env_files
from audit.lockfile.projects import ENV_NAMES


@app.command()
def lock(
    file: Annotated[
        list[Path] | None,
        typer.Option(
            "-f",
            "--file",
            help="Environment file to lock (repeatable, merged); default: the folder's "
            "configured environment-files, else environment.yml.",
        ),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option("-p", "--platform", help="Target platform (repeatable)."),
    ] = None,
    lockfile: Annotated[
        Path, typer.Option("--lockfile", help="Where to write conda-lock.yml.")
    ] = Path("conda-lock.yml"),
    explicit: Annotated[
        bool,
        typer.Option("--explicit/--no-explicit", help="Also write conda-<platform>.lock files."),
    ] = True,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the lock is stale or missing; never write.")
    ] = False,
    update: Annotated[
        list[str] | None,
        typer.Option("--update", help="Re-solve these packages, keep the rest (repeatable)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-solve even when the inputs are unchanged (new upstream)."),
    ] = False,
    channel: Annotated[
        list[str] | None,
        typer.Option("-c", "--channel", help="Override the file's channels (repeatable)."),
    ] = None,
    virtual_packages: Annotated[
        Path | None,
        typer.Option(
            "--virtual-packages", help="Virtual packages per platform (conda-lock format)."
        ),
    ] = None,
    with_cuda: Annotated[
        str | None,
        typer.Option("--with-cuda", help="Add __cuda of this version to linux and win platforms."),
    ] = None,
    pypi_index_url: Annotated[
        str | None,
        typer.Option("--pypi-index-url", help="Index for the pip: section (default PyPI)."),
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file", help="JSON {host-or-channel: 'user:pass' | token} for channels."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Solve as the channels and PyPI stood then (ISO date or datetime, UTC).",
        ),
    ] = None,
    undated: UndatedOpt = "exclude",
    cache_dir: CacheDirOpt = None,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
) -> None:
    """Resolve environment.yml into conda-lock.yml and explicit per-platform lockfiles."""
    use_credentials(auth_file)
    from audit.lock.render import render_lock_result
    from audit.lock.run import LockOptions, run_lock

    when = _as_of(as_of, undated)
    configured = None if file else configured_env_files(Path("."))
    here = file is None and not configured and not any(Path(n).is_file() for n in ENV_NAMES)
    options = LockOptions(
        files=list(file or [Path(f) for f in configured or ("environment.yml",)]),
        platforms=list(platform or []),
        lockfile=lockfile,
        explicit=explicit,
        check=check,
        update=list(update or []),
        force=force,
        channels=list(channel or []),
        virtual_packages=virtual_packages,
        with_cuda=with_cuda,
        pypi_index_url=pypi_index_url,
        auth_file=auth_file,
        cache_dir=cache_dir,
        progress=not wants_json(output_format, as_json) and sys.stderr.isatty(),
        as_of=when,
    )
    if here and lockfile == Path("conda-lock.yml") and not lockfile.exists():
        _at_repository_root(options, wants_json(output_format, as_json))
    result = run_lock(options)
    if wants_json(output_format, as_json):
        emit_json("lock", result.exit_code, result.to_json())
    else:
        sys.stderr.write(render_lock_result(result))
    raise typer.Exit(result.exit_code)


def _at_repository_root(options: Any, as_json: bool) -> None:
    """No environment.yml and no lock here (a monorepo's root): `--check` checks every
    project below, `lock` says where they are (it writes one project's lock at a time)."""
    from audit.lock import repository

    if not options.check:
        raise repository.no_environment_here(Path("."))
    verdicts = repository.check_repository(Path("."), options)
    code = repository.exit_code(verdicts)
    if as_json:
        emit_json("lock", code, {"projects": [v.to_json() for v in verdicts]})
        raise typer.Exit(code)
    from audit.lock.render import render_lock_result

    for verdict in verdicts:
        if verdict.result is not None:
            sys.stderr.write(render_lock_result(verdict.result))
        else:
            sys.stderr.write(f"error: {verdict.error}\n")
    raise typer.Exit(code)


def _as_of(text: str | None, undated: str) -> Any:
    """The `--as-of` instant and undated policy (None without --as-of)."""
    from audit.core.asof import check_undated_policy, parse_as_of
    from audit.lock.asof import AsOf

    check_undated_policy(undated)
    return AsOf(parse_as_of(text), undated) if text is not None else None
