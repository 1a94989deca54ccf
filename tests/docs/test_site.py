"""The documentation site: a strict build, a page per rule whose examples are true, and
command pages that match the CLI."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from runnable import page_steps

from audit.check import CheckOptions, run_check
from audit.check.run import RULES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SECTIONS = ("## What it finds", "## Why", "## Bad", "## Good", "## Fix")


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "hooks/reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_rule_has_a_page_with_why_examples_and_fix() -> None:
    pages = {p.stem for p in (DOCS / "rules").glob("RA*.md")}
    assert pages == set(RULES), "a page per registered rule, none for an unknown id"
    for rule in RULES.values():
        text = (DOCS / "rules" / f"{rule.id}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {rule.id} {rule.name}\n"), rule.id
        positions = [text.find(s + "\n") for s in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), rule.id


def _section_files(text: str, section: str) -> dict[str, str]:
    """The titled files of one section of a rule page."""
    body = text.split(f"\n{section}\n", 1)[1].split("\n## ", 1)[0]
    files: dict[str, str] = {}
    for match in re.finditer(r'```\w+ title="([^"]+)"\n(.*?)\n```', body, re.S):
        files[match[1]] = match[2] + "\n"
    return files


def _findings(files: dict[str, str], where: Path) -> set[str]:
    where.mkdir()
    for name, content in files.items():
        (where / name).write_text(content, encoding="utf-8")
    result = run_check(CheckOptions(root=where, repo_root=where))
    return {f.rule_id for f in result.findings}


def test_rule_examples_are_what_check_says(tmp_path: Path) -> None:
    """A rule page's bad example (when it is a whole file) is a finding of that rule, its
    good example is not: the pages cannot show an example the rule judges otherwise."""
    judged = set()
    for rule_id in sorted(RULES):
        text = (DOCS / "rules" / f"{rule_id}.md").read_text(encoding="utf-8")
        for section, expected in (("## Bad", True), ("## Good", False)):
            files = _section_files(text, section)
            if not files.keys() & {"environment.yml", "Dockerfile", "compose.yaml"}:
                continue  # an excerpt or a policy alone: not a project check can read
            found = _findings(files, tmp_path / f"{rule_id}-{section[3:].lower()}")
            assert (rule_id in found) is expected, f"{rule_id} {section}: check found {found}"
            judged.add(rule_id)
    dockerfile_rules = {r.id for r in RULES.values() if "dockerfile" in r.tags}
    # RA021 and RA025 judge a step against a lock: their pages show excerpts
    assert judged >= (dockerfile_rules - {"RA021", "RA025"}) | {"RA001", "RA010", "RA011"}


def test_command_reference_lists_every_option() -> None:
    hook = _hook()
    group = hook.cli_group()
    assert hook.command_names() == list(group.commands)
    for name, command in group.commands.items():
        reference = hook.command_reference(name)
        assert reference.startswith("## Usage and options\n") and f"repro-audit {name}" in reference
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if param.param_type_name == "option":
                    assert f"`{opt}`" in reference, (name, opt)


def test_command_page_synopses_name_real_options() -> None:
    """The hand-written synopsis of a command page uses only options the command has."""
    hook = _hook()
    group = hook.cli_group()
    for name, command in group.commands.items():
        page = DOCS / "commands" / f"{name}.md"
        if not page.exists():
            continue  # the hook generates the page
        text = page.read_text(encoding="utf-8")
        synopses = [
            b
            for b in re.findall(r"```\w*\n(.*?)\n```", text, re.S)
            if b.startswith(f"repro-audit {name}")
        ]
        assert synopses, f"{page.name}: no synopsis"
        known = {o for p in command.params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        for synopsis in synopses:
            for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", synopsis):
                assert flag in known, f"{page.name}: {flag} is not an option of {name}"


def test_guides_have_runnable_commands() -> None:
    for page in [DOCS / "getting-started.md", *sorted((DOCS / "guides").glob("*.md"))]:
        assert any(s.kind == "command" for s in page_steps(page)), page.name


def test_strict_build(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, a missing page or a rule without one fails."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pages = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    for rule_id in RULES:
        assert f"rules/{rule_id}" in pages
    for name in _hook().command_names():
        html = (site / "commands" / name / "index.html").read_text(encoding="utf-8")
        assert "generated from the CLI" in html and f"repro-audit {name}" in html
    lock = (site / "commands/lock/index.html").read_text(encoding="utf-8")
    assert "--update" in lock and "Re-solve these packages" in lock
    rules = (site / "rules/index.html").read_text(encoding="utf-8")
    assert all(f"{r.id}" in rules and r.name in rules for r in RULES.values())
