"""`repro-audit verify`: does a recorded build still reproduce?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    CacheDirOpt,
    FormatOpt,
    InsecureRegistryOpt,
    JsonOpt,
    TimeoutOpt,
    emit_json,
    insecure_registries,
    progress_printer,
    use_credentials,
    wants_json,
)


@app.command()
def verify(
    record: Annotated[
        str,
        typer.Argument(
            help="Build record (build-record.json), or git:REV[:path] for the record, lock and "
            "pinned Dockerfile committed at a revision."
        ),
    ],
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Rebuild from the recorded inputs and compare (Docker)."),
    ] = False,
    mirror: Annotated[
        Path | None,
        typer.Option("--mirror", help="Mirror DIR to fall back on (conda channel + OCI layout)."),
    ] = None,
    write_mirror: Annotated[
        bool,
        typer.Option(
            "--write-mirror", help="Create/refresh --mirror DIR with every input, then verify."
        ),
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Download and hash every artifact (not only HEAD).")
    ] = False,
    keep_image: Annotated[
        bool, typer.Option("--keep-image", help="Keep the rebuilt image in Docker.")
    ] = False,
    lock: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            help="Compare this lock (e.g. from `reconstruct`) with RECORD, a build record or "
            "any image source: REPRODUCED / EQUIVALENT / DRIFTED.",
        ),
    ] = None,
    platform: Annotated[
        str | None, typer.Option("-p", "--platform", help="With --lock: the platform.")
    ] = None,
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    cache_dir: CacheDirOpt = None,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
    auth_file: AuthFileOpt = None,
) -> None:
    """Does a recorded build still reproduce? AVAILABLE/REPRODUCED exit 0, others 1."""
    use_credentials(auth_file)
    if lock is not None:
        _verify_lock(str(lock), record, platform, wants_json(output_format, as_json))
    from audit.verify import VerifyOptions, render_text, run_verify

    progress = progress_printer()

    quiet_ok = not wants_json(output_format, as_json) or sys.stderr.isatty()
    options = VerifyOptions(
        record=record,
        rebuild=rebuild,
        mirror=mirror,
        write_mirror=write_mirror,
        deep=deep,
        cache_dir=cache_dir,
        insecure=insecure_registries(insecure_registry),
        timeout=timeout,
        keep_image=keep_image,
        progress=progress if quiet_ok else None,
    )
    result = run_verify(options)
    if wants_json(output_format, as_json):
        emit_json("verify", result.exit_code, result.to_json())
    else:
        for line in render_text(result):
            typer.echo(line)
    raise typer.Exit(result.exit_code)


def _verify_lock(lock: str, target: str, platform: str | None, as_json: bool) -> None:
    """`verify TARGET --lock LOCK`: how well a (reconstructed) lock agrees with an image."""
    from audit.reconstruct import agree, render_agreement

    result = agree(lock, target, platform)
    if as_json:
        emit_json("verify", result.exit_code, result.to_json())
    else:
        for line in render_agreement(result):
            typer.echo(line)
    raise typer.Exit(result.exit_code)
