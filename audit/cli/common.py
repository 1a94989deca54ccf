"""What the command modules share: option types, the output writers, the JSON envelope.

One definition each, so every command reads and behaves alike. Terminal text goes through
`audit.cli.console`; JSON through `emit_json` (the envelope of `audit.core.jsonout`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from audit.core.errors import InputError
from audit.core.jsonout import dumps, envelope

JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
FormatOpt = Annotated[str, typer.Option("--format", help="text | json")]
UndatedOpt = Annotated[
    str,
    typer.Option("--undated", help="With a date: exclude | allow records without a timestamp."),
]
#: Resolved here, at the CLI boundary: a relative `--cache-dir cache` becomes absolute
#: before anything (file:// URLs of cached artifacts, the install step) uses it.
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Repodata, package and artifact cache.", resolve_path=True
    ),
]
InsecureRegistryOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="Use plain http for this registry host."),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds per channel or registry request.")
]
AuthFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--auth-file",
        help="JSON credentials by host, host:port or host/path ('user:pass', token, "
        "bearer) for channels, indexes and registries (default $REPRO_AUDIT_AUTH_FILE; "
        "see docs/guides/private-channels.md).",
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
]


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    """`value` if it is one of `allowed`, else the one-line usage error (exit 2)."""
    if value not in allowed:
        raise InputError(f"--format must be one of {', '.join(allowed)}, not {value!r}")
    return value


def wants_json(output_format: str, as_json: bool) -> bool:
    """`--json` is kept as an alias of `--format json` where it existed."""
    return as_json or check_format(output_format, ("text", "json")) == "json"


def emit_json(command: str, exit_code: int, data: dict[str, Any], schema: int = 1) -> None:
    """Machine output: the common envelope, sorted keys, one document on stdout."""
    sys.stdout.write(dumps(envelope(command, exit_code, data, schema)))


def write_output(text: str, output: Path | None) -> None:
    """A report to stdout, or atomically to FILE."""
    if output is None:
        sys.stdout.write(text)
    else:
        from audit.core.fs import atomic_write_text

        atomic_write_text(output, text)


def use_credentials(auth_file: Path | None) -> None:
    """Start the process's one credential store (`audit.core.credentials`) for this run."""
    from audit.core.credentials import configure

    configure(auth_file=auth_file)


def insecure_registries(values: list[str] | None) -> frozenset[str]:
    """--insecure-registry hosts plus REPRO_AUDIT_INSECURE_REGISTRIES (spaces or commas)."""
    from_env = os.environ.get("REPRO_AUDIT_INSECURE_REGISTRIES", "")
    hosts = [h.strip() for h in from_env.replace(",", " ").split() if h.strip()]
    return frozenset(hosts + list(values or []))


def stderr_console() -> Any:
    """A rich console on stderr for progress and human messages (stdout stays parseable)."""
    from audit.core.console import make_console

    return make_console(stderr=True, color=sys.stderr.isatty())


def progress_printer() -> Callable[[str, str], None]:
    """`progress(phase, message)` printing `     phase message` lines on stderr.

    Off a terminal the lines are plain text (what rich would print there too), written
    directly: a piped or CI run does not pay rich's import for a bold phase name.
    """
    if not sys.stderr.isatty():
        from audit.core.progress import plain_line

        return plain_line
    from rich.text import Text

    console = stderr_console()

    def progress(phase: str, message: str) -> None:
        from audit.core.progress import note

        note(phase, message)
        line = Text(f"{phase:>10}", style="bold")
        line.append(f" {message}")
        console.print(line, soft_wrap=True)

    return progress
