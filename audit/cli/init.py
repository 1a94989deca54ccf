"""`repro-audit init`: set up the repository it is run in (merge driver, pre-commit, CI)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import FormatOpt, JsonOpt, emit_json, wants_json
from audit.core.errors import InputError

CI_CHOICES = ("github", "gitlab", "none")


def _ci(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    for value in values:
        if value not in CI_CHOICES:
            raise InputError(f"--ci must be one of {', '.join(CI_CHOICES)}, not {value!r}")
    return tuple(v for v in dict.fromkeys(values) if v != "none")


@app.command()
def init(
    path: Annotated[
        Path, typer.Argument(help="A folder of the repository to set up (default: here).")
    ] = Path("."),
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be written, as a diff; write nothing."),
    ] = False,
    ci: Annotated[
        list[str] | None,
        typer.Option(
            "--ci",
            help="github | gitlab | none (repeatable; default: what the repository uses).",
        ),
    ] = None,
    git_config_only: Annotated[
        bool,
        typer.Option(
            "--git-config-only",
            help="Only install the merge driver in this clone's git config.",
        ),
    ] = False,
    pre_commit: Annotated[
        bool,
        typer.Option(
            "--pre-commit/--no-pre-commit", help="Add the gate to .pre-commit-config.yaml."
        ),
    ] = True,
    record: Annotated[
        str, typer.Option("--record", help="The build record CI verifies.")
    ] = "build-record.json",
    sarif: Annotated[
        bool,
        typer.Option("--sarif", help="GitHub: also upload the gate's SARIF to code scanning."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace files and settings that differ from init's."),
    ] = False,
    output_format: FormatOpt = "text",
    as_json: JsonOpt = False,
) -> None:
    """Set up this repository: merge driver, pre-commit hook, CI. Safe to run again."""
    from audit.init import InitOptions, apply_plan, plan_init

    machine = wants_json(output_format, as_json)
    options = InitOptions(
        path=path,
        ci=_ci(ci),
        pre_commit=pre_commit,
        git_config_only=git_config_only,
        force=force,
        record=record,
        sarif=sarif,
    )
    root, plan = plan_init(options)
    if not dry_run:
        apply_plan(root, plan)
    if machine:
        emit_json("init", 0, {"dry_run": dry_run, **plan.to_json()})
        raise typer.Exit(0)
    out = sys.stdout
    if dry_run:
        out.write(plan.diff())
    else:
        for change in plan.files:
            out.write(f"{change.verb}d {change.path}\n")
        for setting in plan.config:
            out.write(f"set {setting.command()}\n")
    for note in plan.notes:
        out.write(f"note: {note}\n")
    if plan.empty:
        out.write("nothing to change: the repository is set up\n")
    elif dry_run:
        out.write(
            f"dry run: {len(plan.files)} file(s) and {len(plan.config)} git config "
            "setting(s) would change; nothing written\n"
        )
    elif plan.files:
        names = " ".join(c.path for c in plan.files)
        out.write(
            f"next: git add {names} && git commit; other clones run "
            "`repro-audit init --git-config-only`\n"
        )
    raise typer.Exit(0)
