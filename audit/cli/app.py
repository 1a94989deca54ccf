"""The typer application every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from audit import __version__

app = typer.Typer(
    name="repro-audit",
    help="Prove that conda + Docker environments reproduce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"repro-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Lock, pin, build, inventory, diff and verify conda + Docker environments."""
