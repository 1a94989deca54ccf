"""`repro-audit pin`: pin every base image to its registry digest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    FormatOpt,
    InsecureRegistryOpt,
    JsonOpt,
    TimeoutOpt,
    emit_json,
    insecure_registries,
    use_credentials,
    wants_json,
)


@app.command()
def pin(
    file: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="Dockerfile to pin (repeatable; default ./Dockerfile)."),
    ] = None,
    compose: Annotated[
        list[Path] | None,
        typer.Option("--compose", help="Compose file whose image: fields to pin (repeatable)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 on unpinned or lock-mismatched images; never write."),
    ] = False,
    update: Annotated[
        bool, typer.Option("--update", help="Re-resolve pinned tags and move their digests.")
    ] = False,
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = 15.0,
    retries: Annotated[
        int, typer.Option("--retries", help="Retries on 429/5xx and connection failures.")
    ] = 4,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
    auth_file: AuthFileOpt = None,
) -> None:
    """Pin every image a build pulls to a digest and record it in image-lock.json."""
    use_credentials(auth_file)
    from audit.pin.run import PinOptions, render_text, run_pin

    dockerfiles = list(file or [])
    if not dockerfiles and not compose:
        dockerfiles = [Path("Dockerfile")]
    options = PinOptions(
        dockerfiles=dockerfiles,
        compose_files=list(compose or []),
        check=check,
        update=update,
        insecure=insecure_registries(insecure_registry),
        timeout=timeout,
        retries=retries,
    )
    result = run_pin(options)
    if wants_json(output_format, as_json):
        emit_json("pin", result.exit_code, result.to_json())
    else:
        for line in render_text(result):
            typer.echo(line)
        for path in result.written:
            sys.stderr.write(f"wrote {path}\n")
    raise typer.Exit(result.exit_code)
