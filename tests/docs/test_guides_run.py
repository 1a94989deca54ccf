"""Every command a guide shows runs, in page order, against local fixtures.

Each page runs in a fresh directory, as a reader would run it in their project, with
`repro-audit` being this checkout. What a guide names but no test can reach is swapped
for its local stand-in before a file is written or a command runs (see SUBSTITUTIONS):
the conda-forge channel (and a mirror of it) is the fixture channel over HTTP on
127.0.0.1, `repo.example.org/conda/internal` the same channel behind basic auth
(`ci:s3cret`), `registry.example.org` a `docker-registry` on 127.0.0.1 holding a small base
image as `python:3.11-slim`. Docker-backed steps follow the REQUIRE_DOCKER rule.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from runnable import Step, page_steps
from support.docker import require_docker, require_tool
from support.registry import LocalRegistry, registry_available

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: pages whose commands run (a new guide is picked up by being in docs/guides/)
PAGES = sorted(
    [DOCS / "getting-started.md", *(DOCS / "guides").glob("*.md")],
    key=lambda p: p.relative_to(DOCS).as_posix(),
)


def _ids(pages: list[Path]) -> list[str]:
    return [p.relative_to(DOCS).as_posix() for p in pages]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local registry holding a busybox base as python:3.11-slim; its host:port."""
    client = require_docker()
    require_tool("docker-registry", registry_available())
    from support.build import busybox_path, import_busybox, push_tag

    busybox = busybox_path()
    require_tool("busybox", busybox is not None)
    server = LocalRegistry(tmp_path_factory.mktemp("docs-registry")).start()
    try:
        repository = f"{server.host}/python"
        import_busybox(client, repository, "3.11-slim", busybox)
        push_tag(client, repository, "3.11-slim")
        yield server.host
    finally:
        server.stop()
        client.api.remove_image(f"{server.host}/python:3.11-slim", force=True)


PRIVATE_AUTH = ("ci", "s3cret")


def substitutions(channel: str, private: str, registry: str | None) -> list[tuple[str, str]]:
    """What the docs name → what this test serves (longest first)."""
    host = private.removeprefix("http://")
    pairs = [
        ("https://mirror.example.org/conda-forge", channel),
        ("conda-forge", channel),
        (
            "https://${CH_USER}:${CH_PASS}@repo.example.org/conda/internal",
            "http://${CH_USER}:${CH_PASS}@" + host,
        ),
        ("https://repo.example.org/conda/internal", private),
        ("repo.example.org", host),
    ]
    if registry:
        pairs.append(("registry.example.org", registry))
    return pairs


def _apply(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _environment(tmp: Path) -> dict[str, str]:
    """A clean user: this checkout's `repro-audit` first on PATH, a private HOME and cache."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "repro-audit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m audit "$@"\n')
    shim.chmod(0o755)
    home = tmp / "home"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "DOCKER_HOST", "TMPDIR")}
    return {
        **keep,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "REPRO_AUDIT_CACHE_DIR": str(tmp / "cache"),
        "GIT_AUTHOR_NAME": "docs",
        "GIT_AUTHOR_EMAIL": "docs@example.org",
        "GIT_COMMITTER_NAME": "docs",
        "GIT_COMMITTER_EMAIL": "docs@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }


def run_step(step: Step, cwd: Path, env: dict[str, str], pairs: list[tuple[str, str]]) -> str:
    """Do one step; a command's combined output. Fails naming the page's line."""
    if step.kind == "file":
        target = cwd / step.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_apply(step.text, pairs), encoding="utf-8")
        return ""
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", _apply(step.text, pairs)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == step.expect, (
        f"line {step.line}: `{step.text}` exited {done.returncode}, the page says "
        f"{step.expect}:\n{output}"
    )
    assert "Traceback" not in output, f"line {step.line}: `{step.text}`:\n{output}"
    return output


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_page_commands_run(
    page: Path,
    tmp_path: Path,
    channel_dir: Path,
    http_channel: str,
    serve_dir: Callable[..., str],
    request: pytest.FixtureRequest,
) -> None:
    steps = page_steps(page)
    assert any(s.kind == "command" for s in steps), f"{page.name}: no runnable command"
    registry = request.getfixturevalue("registry") if any(s.docker for s in steps) else None
    private = serve_dir(channel_dir, auth=PRIVATE_AUTH)
    pairs = substitutions(http_channel, private, registry)
    project = tmp_path / "project"
    project.mkdir()
    env = _environment(tmp_path)
    for step in steps:
        run_step(step, project, env, pairs)
