"""`repro-audit diff`: classify every package change between two inventories."""

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
def diff(
    old: Annotated[
        str,
        typer.Argument(
            help="Old side: lockfile | git:REV:path | prefix dir | build record | "
            "docker-daemon:NAME:TAG | docker-archive:FILE.tar | docker://REF"
        ),
    ],
    new: Annotated[str, typer.Argument(help="New side (any source OLD accepts).")],
    platform: Annotated[
        str | None,
        typer.Option("-p", "--platform", help="Compare this platform only (default: all common)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table | markdown | json | html")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Kinds that exit 1, comma-separated: added, removed, upgraded, downgraded, "
            "rebuilt, channel-changed, hash-changed, moved, metadata-changed, any, none.",
        ),
    ] = "any",
    dockerfile: Annotated[
        Path | None,
        typer.Option(
            "--dockerfile",
            help="The Dockerfile NEW was built from (and OLD, unless --old-dockerfile): "
            "names the step behind each OS package change.",
        ),
    ] = None,
    old_dockerfile: Annotated[
        Path | None,
        typer.Option("--old-dockerfile", help="The Dockerfile OLD was built from."),
    ] = None,
    auth_file: AuthFileOpt = None,
) -> None:
    """Classify every package change between two inventories (exit 1 on selected kinds)."""
    use_credentials(auth_file)
    from audit.diff.classify import diff_many, parse_fail_on
    from audit.diff.formats.dispatch import DIFF_FORMATS, render_diff
    from audit.diff.sides import attribute_sources
    from audit.inventory import normalize_platform, open_source

    check_format(output_format, DIFF_FORMATS)
    kinds = parse_fail_on(fail_on)
    for given in (dockerfile, old_dockerfile):
        if given is not None and not given.is_file():
            from audit.core.errors import InputError

            raise InputError("no such Dockerfile", where=str(given))
    wanted = normalize_platform(platform)
    before, after = open_source(old, platform).read(), open_source(new, platform).read()
    result = diff_many(before, after, wanted)
    result = attribute_sources(
        result, (old, before, old_dockerfile or dockerfile), (new, after, dockerfile)
    )
    code = 1 if result.selected(kinds) else 0
    text = render_diff(
        result, output_format, color=output is None and sys.stdout.isatty(), exit_code=code
    )
    write_output(text, output)
    raise typer.Exit(code)
