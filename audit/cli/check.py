"""`repro-audit check`: the fast, offline pre-merge gate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from audit.core.errors import InputError, ReproAuditError

if TYPE_CHECKING:
    from audit.check.run import CheckResult


@app.command()
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="A repository or project folder (default: here); or files (what pre-commit "
            "passes): only the projects they belong to are checked.",
            show_default=False,
        ),
    ] = None,
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
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="REV",
            help="Only the projects with a file changed since REV (from its merge base "
            "with HEAD; the working tree counts).",
        ),
    ] = None,
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
    try:
        folder, only = _target(paths or [])
        options = CheckOptions(
            root=folder,
            online=online,
            timeout=timeout,
            insecure=insecure_registries(insecure_registry) if online else frozenset(),
            repo_root=root,
            changed_since=changed_since,
            only=only,
        )
        result = run_check(options)
    except ReproAuditError as exc:
        # CI reads the report whatever happened: a whole document that says the run failed
        if output_format != "human":
            write_output(_failed_document(output_format, exc), output)
        raise
    write_output(_render(result, output_format, output, max_findings), output)
    raise typer.Exit(result.exit_code)


def _target(paths: list[Path]) -> tuple[Path, tuple[str, ...] | None]:
    """(folder to check, the files or folders that limit it, or None for all of it).

    One folder is checked whole; files (pre-commit's list) or several paths are read
    from the current folder, and only the projects they belong to are checked.
    """
    if not paths:
        return Path("."), None
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0], None
    here = Path.cwd().resolve()
    only = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file or directory", where=str(path))
        try:
            only.append(path.resolve().relative_to(here).as_posix())
        except ValueError:
            raise InputError(
                "not under the current folder (run check from the repository root)",
                where=str(path),
            ) from None
    return Path("."), tuple(only)


def _render(result: CheckResult, output_format: str, output: Path | None, max_findings: int) -> str:
    """The report of `result` in `output_format`."""
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
    return text


def _failed_document(output_format: str, error: ReproAuditError) -> str:
    """The report of a run that could not check (bad usage, exit 2; unreachable, exit 3)."""
    from audit.check.run import CheckResult

    failed = CheckResult(Path("."), error=error.one_line(), failed_exit=error.exit_code)
    return _render(failed, output_format, None, 0)


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
