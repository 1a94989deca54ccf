"""Each run registers only its own command; the map of commands stays complete."""

from __future__ import annotations

import ast
import subprocess
import sys

from audit.cli import COMMANDS, load_commands


def test_every_registered_command_is_in_the_map() -> None:
    app = load_commands([])
    registered = {
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    }
    assert registered == set(COMMANDS)


def test_a_run_imports_only_its_command_module() -> None:
    code = (
        "import sys; from audit.cli import load_commands; load_commands(['pin']);"
        "print(sorted(m for m in sys.modules if m.startswith('audit.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout)
    assert "audit.cli.pin" in loaded
    assert not {"audit.cli.build", "audit.cli.lock", "audit.cli.verify"} & set(loaded)


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "audit", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": ""},
    )
    for name in COMMANDS:
        assert f" {name} " in done.stdout


def test_each_command_alone_shows_its_help() -> None:
    for name in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "audit", name, "--help"], capture_output=True, text=True,
            env={"COLUMNS": "200", "PATH": ""},
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stderr)
        assert f"audit {name} [OPTIONS]" in done.stdout, name


def test_an_unknown_command_is_a_usage_error_listing_none_missing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "audit", "biuld"], capture_output=True, text=True,
        env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 2
    assert "No such command 'biuld'" in done.stderr


def test_start_up_imports_no_heavy_library() -> None:
    """`--version` (and every command's start) loads none of what only some commands need:
    asyncio (46 ms, the solver's and merge's loop), rich, yaml, the docker SDK, rattler."""
    code = (
        "import sys; from audit.cli import main; sys.argv = ['repro-audit', '--version'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if '.' not in m), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(out.stderr.strip().splitlines()[-1]))
    assert "audit" in loaded
    assert not {"asyncio", "rich", "yaml", "docker", "rattler"} & loaded
