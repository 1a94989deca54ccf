"""`repro-audit inventory`: list every package an environment contains."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    check_format,
    use_credentials,
    write_output,
)


@app.command()
def inventory(
    source: Annotated[
        str,
        typer.Argument(
            help="conda-lock.yml | explicit .lock | pixi.lock | prefix dir | build record | "
            "docker-daemon:NAME:TAG | docker-archive:FILE.tar | docker://REF | git:REV:path"
        ),
    ],
    platform: Annotated[
        str | None,
        typer.Option("-p", "--platform", help="Platform of a multi-platform lock or image."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table | json | cyclonedx")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
    ] = None,
    auth_file: AuthFileOpt = None,
) -> None:
    """List every package an environment contains (lockfile, prefix, image, record, git)."""
    use_credentials(auth_file)
    from audit.inventory import read_inventory

    check_format(output_format, ("table", "json", "cyclonedx"))
    result = read_inventory(source, platform)
    if output_format == "json":
        from audit.core.jsonout import dumps, envelope

        text = dumps(envelope("inventory", 0, result.to_json()))
    elif output_format == "cyclonedx":
        from audit.inventory.formats.cyclonedx import format_cyclonedx

        text = format_cyclonedx(result)
    else:
        from audit.inventory.formats.table import format_table

        text = format_table(result, color=output is None and sys.stdout.isatty())
    write_output(text, output)
    raise typer.Exit(0)
