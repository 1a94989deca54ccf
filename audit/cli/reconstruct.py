"""`repro-audit reconstruct git:REV[:path] -o LOCK`: the lock a past commit would have had."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import CacheDirOpt, FormatOpt, JsonOpt, UndatedOpt, emit_json, wants_json


@app.command()
def reconstruct(
    source: Annotated[
        str,
        typer.Argument(help="git:REV[:path] of the environment file (default environment.yml)."),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the reconstructed lock.")
    ],
    against: Annotated[
        Path | None,
        typer.Option("--against", help="Today's lock to compare with (default: beside the file)."),
    ] = None,
    platform: Annotated[
        list[str] | None, typer.Option("-p", "--platform", help="Target platform (repeatable).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Solve as of this date instead of the commit's date."),
    ] = None,
    undated: UndatedOpt = "exclude",
    pypi_index_url: Annotated[
        str | None, typer.Option("--pypi-index-url", help="Index for the pip: section.")
    ] = None,
    cache_dir: CacheDirOpt = None,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
) -> None:
    """Write the lock the environment file at REV would have had on the commit's date."""
    from audit.core.asof import check_undated_policy, parse_as_of
    from audit.reconstruct import ReconstructOptions, run_reconstruct
    from audit.reconstruct.render import render_reconstruct

    options = ReconstructOptions(
        source=source,
        output=output,
        against=against,
        platforms=list(platform or []),
        undated=check_undated_policy(undated),
        as_of=parse_as_of(as_of) if as_of else None,
        pypi_index_url=pypi_index_url,
        cache_dir=cache_dir,
    )
    result = run_reconstruct(options)
    if wants_json(output_format, as_json):
        emit_json("reconstruct", result.exit_code, result.to_json())
    else:
        sys.stderr.write(render_reconstruct(result))
    raise typer.Exit(result.exit_code)
