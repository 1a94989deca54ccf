"""Fixtures of the diff/drift tests: a git project whose lock drifts, a moving registry tag.

The project is built once per module (several `lock` runs against a private copy of the
fixture channel) and treated as read-only by the tests; `drift` never writes into it.
History, oldest first:

1. `initial lock`: environment.yml, conda-lock.yml, Dockerfile + image-lock.json (pinned)
2. `add linux-only-tool`: environment.yml edited, re-locked                → spec edit
3. `broken lock`: conda-lock.yml overwritten with garbage                  → corrupt lock
4. `restore lock, Dockerfile`: lock bytes differ only in a comment, Dockerfile edited
                                                                           → tool change
5. `update libzlib`: the channel gained a build; `lock --update libzlib`   → upstream

Afterwards the channel keeps its newer packages (numpy 2.1.0, six 1.17.0, tzdata 2025a),
so re-locking today upgrades them, and the registry tag is re-pushed with other content.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from drift_helpers import (  # noqa: F401
    ENV_DEPS,
    Project,
    cli,
    commit,
    git,
    rebuild_channel,
    require,
    write_env,
)
from support import make_channel
from support.registry import LocalRegistry, StaticCredentials, push_image

from audit.registry.client import RegistryClient


@pytest.fixture(scope="session")
def drift_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    require("docker-registry")
    instance = LocalRegistry(tmp_path_factory.mktemp("drift-registry")).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, drift_registry: LocalRegistry) -> Project:
    base = tmp_path_factory.mktemp("drift-project")
    root, cache, channel = base / "repo", base / "cache", base / "channel"
    root.mkdir()
    make_channel.build_channel(channel, newer=False)
    client = RegistryClient(credentials=StaticCredentials(), backoff=0.01)
    host = drift_registry.host
    push_image(client, host, "base/python", "3.11", seed="v1")
    image = f"{host}/base/python:3.11"

    def lock(*extra: str) -> None:
        done = cli(["lock", *extra], root, cache)
        assert done.returncode == 0, done.stderr

    commits: dict[str, str] = {}
    git(root, "init", "-q", "-b", "main")
    write_env(root / "environment.yml", channel.as_uri(), ENV_DEPS)
    lock("--no-explicit")
    (root / "Dockerfile").write_text(f"FROM {image}\nCOPY conda-lock.yml /tmp/\n")
    pinned = cli(["pin"], root, cache)
    assert pinned.returncode == 0, pinned.stderr
    commits["initial"] = commit(root, "initial lock", 1_735_700_000)

    write_env(root / "environment.yml", channel.as_uri(), [*ENV_DEPS, "linux-only-tool"])
    lock("--no-explicit")
    commits["spec"] = commit(root, "add linux-only-tool", 1_735_800_000)
    good = (root / "conda-lock.yml").read_bytes()

    (root / "conda-lock.yml").write_text("metadata: [unclosed\npackage:\n  - {\n")
    commits["corrupt"] = commit(root, "broken lock", 1_735_900_000)

    (root / "conda-lock.yml").write_bytes(good.replace(b"# This lock", b"# Lock", 1))
    dockerfile = (root / "Dockerfile").read_text()
    (root / "Dockerfile").write_text(dockerfile + "RUN true\n")
    commits["tool"] = commit(root, "restore lock, Dockerfile", 1_736_000_000)

    rebuild_channel(channel, newer=True)
    lock("--no-explicit", "--update", "libzlib")
    commits["upstream"] = commit(root, "update libzlib", 1_736_100_000)

    (root / "README.md").write_text("unrelated\n")
    commits["unrelated"] = commit(root, "docs", 1_736_200_000)
    # months later: the tag moves to other content
    push_image(client, host, "base/python", "3.11", seed="v2")
    return Project(root, cache, channel, commits, drift_registry, image)
