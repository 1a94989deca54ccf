"""Fixtures of the image-pinning tests: real local registries and a fast in-process CLI.

`docker-registry` (Debian package of the CNCF distribution registry) runs on 127.0.0.1.
Without it these tests skip, unless REPRO_AUDIT_REQUIRE_DOCKER=1 (CI), where they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.docker import require_tool
from support.registry import LocalRegistry, StaticCredentials, make_htpasswd

from audit.registry.client import RegistryClient
from audit.registry.credentials import Credential

USER, PASSWORD = "alice", "s3cret-pw"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """An anonymous registry for the whole session (tests use distinct repositories)."""
    require_tool("docker-registry")
    instance = LocalRegistry(tmp_path_factory.mktemp("registry")).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry behind htpasswd (bcrypt) Basic auth."""
    require_tool("docker-registry")
    require_tool("htpasswd")
    root = tmp_path_factory.mktemp("auth-registry")
    make_htpasswd(root / "htpasswd", USER, PASSWORD)
    instance = LocalRegistry(root, htpasswd=root / "htpasswd").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def pusher(registry: LocalRegistry) -> RegistryClient:
    """A client that pushes test images to `registry`."""
    return RegistryClient(credentials=StaticCredentials(), backoff=0.01)


@pytest.fixture(scope="session")
def auth_pusher(auth_registry: LocalRegistry) -> RegistryClient:
    creds = {auth_registry.host: Credential(USER, PASSWORD)}
    return RegistryClient(credentials=StaticCredentials(creds), backoff=0.01)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DOCKER_CONFIG so the developer's real ~/.docker never leaks in."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("REPRO_AUDIT_INSECURE_REGISTRIES", raising=False)
    return directory


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run `repro-audit ARGS` through `audit.cli.main` in-process (exit codes as in a shell)."""
    from audit.cli import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["repro-audit", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
