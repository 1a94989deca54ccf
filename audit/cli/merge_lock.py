"""`repro-audit merge-lock %O %A %B %P`: git's merge driver for conda-lock.yml and the
explicit `conda-<platform>.lock` files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import JsonOpt, emit_json, wants_json


@app.command("merge-lock")
def merge_lock(
    base: Annotated[Path, typer.Argument(help="%O: the common ancestor's version.")],
    ours: Annotated[Path, typer.Argument(help="%A: our version; the result is written here.")],
    theirs: Annotated[Path, typer.Argument(help="%B: their version.")],
    path: Annotated[
        str,
        typer.Argument(help="%P: the file's path: conda-lock.yml or a conda-<platform>.lock."),
    ] = "conda-lock.yml",
    output_format: Annotated[str, typer.Option("--format", help="text | json")] = "text",
    as_json: JsonOpt = False,
) -> None:
    """Merge conda-lock.yml per package, re-solving where needed, and derive each explicit
    conda-<platform>.lock from the merged conda-lock.yml; never write conflict markers."""
    from audit.merge import merge_file

    result = merge_file(base, ours, theirs, path)
    if wants_json(output_format, as_json):
        emit_json("merge-lock", result.exit_code, result.to_json())
    else:
        detail = ", ".join(f"{n} from {side}" for side, n in sorted(result.taken.items()))
        if result.derived_from is not None:
            detail = f"derived from {result.derived_from}"
        head = {"merged": "merged", "resolved": "merged and re-solved", "conflict": "CONFLICT"}
        shown = f" ({detail})" if detail else ""
        sys.stderr.write(f"merge-lock: {result.path}: {head[result.status]}{shown}\n")
        for reason in result.reasons:
            sys.stderr.write(f"  {reason}\n")
    raise typer.Exit(result.exit_code)
