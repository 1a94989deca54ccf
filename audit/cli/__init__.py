"""The `repro-audit` command line: one thin module per command (parse → run → render → exit).

Heavy libraries (conda-lock, rattler, docker) are imported inside the commands that need
them, so `--version`, `check` and `lock --check` start fast.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

import typer

from audit.cli.app import app
from audit.core import interrupt
from audit.core.errors import EXIT_INPUT, ReproAuditError
from audit.core.tempdirs import sweep_stale

__all__ = ["COMMANDS", "app", "load_commands", "main", "run"]

#: Each command and the module that registers it, in the order `--help` lists them.
COMMANDS = {
    "init": "init",
    "lock": "lock",
    "pin": "pin",
    "build": "build",
    "inventory": "inventory",
    "diff": "diff",
    "drift": "drift",
    "check": "check",
    "verify": "verify",
    "reconstruct": "reconstruct",
    "merge-lock": "merge_lock",
}


def load_commands(argv: Sequence[str] = ()) -> typer.Typer:
    """The app with the command `argv` names registered, or every command.

    typer turns every registered command's signature into click parameters at each start
    (~30 ms for all of them), so a run registers only the command it runs; `--help`, an
    unknown name or no command at all registers them all.
    """
    name = next(iter(argv), "")
    wanted = [COMMANDS[name]] if name in COMMANDS else list(COMMANDS.values())
    for module in wanted:
        importlib.import_module(f"audit.cli.{module}")
    return app


def main() -> None:
    """Console entry point: run the app and turn expected failures into one line + exit code.

    SIGTERM and SIGINT unwind the command like an error (temp folders removed, no file
    half-written) and end it with one line and 128 + the signal (`audit.core.interrupt`);
    what a killed run left in the temp directory is swept first (`audit.core.tempdirs`).
    """
    argv = sys.argv[1:]
    name = next(iter(argv), "")
    previous = interrupt.install(f"repro-audit {name}" if name in COMMANDS else "repro-audit")
    try:
        sweep_stale()
        _main(argv)
    except interrupt.Interrupted as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        sys.exit(exc.exit_code)
    finally:
        interrupt.restore(previous)


def _main(argv: Sequence[str]) -> None:
    try:
        code = load_commands(argv)(args=list(argv), standalone_mode=False)
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


def run() -> None:
    """The process entry point (`python -m audit`, the `repro-audit` script): main, then exit.

    py-rattler's background (tokio) threads can still be running when the interpreter
    finalizes; one of them touching Python then crashes the process (SIGSEGV, or SIGABRT
    "PyGILState_Release … runtime state: finalizing"), after all work is done: a bare
    solve script dies so in ~1 run of 15 (bench/stress_solve.py, BENCHMARKS.md). Once
    rattler has been loaded, the process therefore ends with os._exit after flushing its
    output, skipping interpreter teardown (every file and pool is closed by then: they
    are all context managers). The `atexit` handlers still run first, as `sys.exit`
    would run them: conda-lock removes its temp folders (`conda-lock-fake-repodata-*`)
    there. `main` itself stays importable and in-process testable.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    if "rattler" in sys.modules:
        atexit._run_exitfuncs()  # what teardown would run before finalizing; nothing more
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
                stream.flush()
        os._exit(code)
    sys.exit(code)
