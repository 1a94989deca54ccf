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
    """List every package an environment contains (lockfile, prefix, image, record, git).

    A multi-platform lock without -p lists every platform (JSON: `inventories`).
    """
    use_credentials(auth_file)
    from audit.core.errors import InputError
    from audit.inventory import read_inventories

    check_format(output_format, ("table", "json", "cyclonedx"))
    results = read_inventories(source, platform)
    several = len(results) > 1
    if output_format == "json":
        from audit.inventory.formats.json import iter_inventory_json

        pieces = iter_inventory_json(results, several=several)
        if output is None:
            sys.stdout.writelines(pieces)
        else:
            write_output("".join(pieces), output)
        raise typer.Exit(0)
    if output_format == "cyclonedx":
        from audit.inventory.formats.cyclonedx import format_cyclonedx

        if several:
            platforms = ", ".join(r.platform for r in results)
            raise InputError(
                f"{source}: a CycloneDX BOM describes one platform ({platforms})",
                hint="pass -p PLATFORM",
            )
        text = format_cyclonedx(results[0])
    else:
        from audit.inventory.formats.table import format_table

        color = output is None and sys.stdout.isatty()
        text = "\n".join(format_table(r, color=color) for r in results)
    write_output(text, output)
    raise typer.Exit(0)
