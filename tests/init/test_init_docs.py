"""The files the guides show as what `init` writes are what it writes (byte for byte)."""

from __future__ import annotations

import re

from init_helpers import ROOT

from audit import __version__
from audit.init import gitattributes, templates
from audit.init.templates import DriftTarget, Settings

BLOCK = re.compile(r'^```[\w-]* title="(?P<path>[^"]+)"\n(?P<body>.*?)\n```$', re.S | re.M)


def generated() -> dict[str, str]:
    """init's files for a repository with one environment at its root."""
    settings = Settings(
        __version__, (DriftTarget("conda-lock.yml", ("environment.yml",), "drift"),)
    )
    return {
        ".gitattributes": gitattributes.merged_attributes(None, False)[0] or "",
        ".pre-commit-config.yaml": templates.precommit_config(__version__),
        templates.GITHUB_GATE: templates.github_gate(settings),
        templates.GITHUB_SCHEDULED: templates.github_scheduled(settings),
        templates.GITLAB_JOBS: templates.gitlab_jobs(settings),
        templates.GITLAB_CI: templates.gitlab_ci(),
    }


def test_guides_show_what_init_writes() -> None:
    expected = generated()
    shown: set[str] = set()
    for page in [ROOT / "docs/getting-started.md", *sorted((ROOT / "docs/guides").glob("*.md"))]:
        for block in BLOCK.finditer(page.read_text(encoding="utf-8")):
            if block["path"] in expected:
                assert block["body"] + "\n" == expected[block["path"]], (
                    f"{page.name}: {block['path']} is not what `repro-audit init` writes"
                )
                shown.add(block["path"])
    assert shown == set(expected)  # every file init writes is shown somewhere
