"""`repro-audit check`: the fast, offline pre-merge gate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.cli.app import app
from audit.cli.common import (
    AuthFileOpt,
    InsecureRegistryOpt,
    check_format,
    insecure_registries,
    use_credentials,
    write_output,
)


@app.command()
def check(
    path: Annotated[
        Path,
        typer.Argument(help="Project directory (environment.yml, conda-lock.yml, Dockerfiles)."),
    ] = Path("."),
    output_format: Annotated[
        str, typer.Option("--format", help="human | github | sarif | junit | json")
    ] = "human",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the report to FILE.")
    ] = None,
    online: Annotated[
        bool,
        typer.Option(
            "--online", help="Also check each locked artifact and image digest still exists."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds per request with --online.")
    ] = 10.0,
    insecure_registry: InsecureRegistryOpt = None,
    auth_file: AuthFileOpt = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root", help="Repository root that output paths are relative to (default: git's)."
        ),
    ] = None,
    max_findings: Annotated[
        int,
        typer.Option(
            "--max-findings",
            min=0,
            help="List at most N findings in human/github output, then the total (0: all).",
        ),
    ] = 200,
    list_rules: Annotated[
        bool,
        typer.Option("--list-rules", help="List every rule (id, name, level, what it finds)."),
    ] = False,
) -> None:
    """Pre-merge checks, offline: lock in sync, images pinned, build steps, secrets, policy."""
    use_credentials(auth_file)
    from audit.check import CheckOptions, run_check

    if list_rules:
        _list_rules(output_format, output)
        raise typer.Exit(0)
    check_format(output_format, ("human", "github", "sarif", "junit", "json"))
    options = CheckOptions(
        root=path,
        online=online,
        timeout=timeout,
        insecure=insecure_registries(insecure_registry) if online else frozenset(),
        repo_root=root,
    )
    result = run_check(options)
    if output_format == "human":
        from audit.check.formats.human import format_human

        color = output is None and sys.stdout.isatty()
        text = format_human(result, color=color, max_findings=max_findings)
    elif output_format == "github":
        from audit.check.formats.github import format_github

        text = format_github(result, max_findings=max_findings)
    elif output_format == "sarif":
        from audit.check.formats.sarif import format_sarif

        text = format_sarif(result)
    elif output_format == "junit":
        from audit.check.formats.junit import format_junit

        text = format_junit(result)
    else:
        from audit.check.formats.json import format_check_json

        text = format_check_json(result)
    write_output(text, output)
    raise typer.Exit(result.exit_code)


def _list_rules(output_format: str, output: Path | None) -> None:
    """`check --list-rules`: a table (human) or JSON (`--format json`), sorted by id."""
    from audit.check.run import RULES

    check_format(output_format, ("human", "json"))
    rules = sorted(RULES.values(), key=lambda rule: rule.id)
    if output_format == "json":
        data = {
            "rules": [
                {
                    "id": r.id,
                    "name": r.name,
                    "level": r.level,
                    "summary": r.summary,
                    "hint": r.hint,
                    "tags": list(r.tags),
                }
                for r in rules
            ]
        }
        from audit.core.jsonout import dumps, envelope

        write_output(dumps(envelope("check", 0, data, 1)), output)
        return
    lines = [f"{r.id}  {r.name:<28} {r.level:<8} {r.summary}" for r in rules]
    write_output("\n".join(lines) + "\n", output)
