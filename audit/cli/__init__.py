"""The `repro-audit` command line: one thin module per command (parse → run → render → exit).

Heavy libraries (conda-lock, rattler, docker) are imported inside the commands that need
them, so `--version`, `check` and `lock --check` start fast.
"""

from __future__ import annotations

import sys

import typer

from audit.cli import (  # noqa: F401
    build,
    check,
    diff,
    drift,
    inventory,
    lock,
    merge_lock,
    pin,
    reconstruct,
    verify,
)
from audit.cli.app import app
from audit.core.errors import EXIT_INPUT, ReproAuditError

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: run the app and turn expected failures into one line + exit code."""
    try:
        code = app(standalone_mode=False)
    except ReproAuditError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing value, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
