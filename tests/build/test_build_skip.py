"""The skip rule: an unchanged user image is not built again; any changed input is.

Real dockerd and the real BuildKit client, wrapped by a script that logs each invocation,
so "the builder was not invoked" is observed, not inferred.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import docker.errors
import pytest
from build_helpers import PREFIX, BaseImage, cli
from support.build import push_tag
from support.docker import require_docker, unavailable

from audit.build.builders import choose

pytestmark = pytest.mark.docker


def logging_client(directory: Path) -> tuple[Path, Path]:
    """A `docker` that appends its arguments to a log, then runs the BuildKit client."""
    builder, _ = choose(None)
    if not builder.buildkit or builder.client is None:
        unavailable("no docker client with BuildKit (scripts/setup.sh installs docker.io)")
    directory.mkdir()
    log, script = directory / "calls.log", directory / "docker"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\nexec {builder.client} "$@"\n', encoding="utf-8"
    )
    script.chmod(0o755)
    return script, log


def build_calls(log: Path) -> list[str]:
    if not log.is_file():
        return []
    lines = log.read_text().splitlines()
    return [line for line in lines if line.startswith("build ") and "--iidfile" in line]


def run_build(project: Path, tag: str, cache: Path, client: Path, log: Path) -> tuple[int, str]:
    """One build; (number of builder invocations it made, its stderr)."""
    before = len(build_calls(log))
    env = {"REPRO_AUDIT_DOCKER_CLIENTS": "", "PATH": f"{client.parent}:{os.environ['PATH']}"}
    done = cli(
        "build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(cache), "--builder",
        "buildkit", cwd=project, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return len(build_calls(log)) - before, done.stderr


def image_id(project: Path) -> str:
    return json.loads((project / "build-record.json").read_text())["outputs"]["image_id"]


def other_base(client, base_image: BaseImage) -> str:
    """A second base image (the first plus a label) pushed to the registry: its digest."""
    repository = f"{base_image.host}/{base_image.repository}"
    dockerfile = f"FROM {base_image.pinned}\nLABEL variant=2\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=f"{repository}:skip-2", rm=True)
    return push_tag(client, repository, "skip-2")


def test_unchanged_rebuild_skips_the_builder_and_changes_rebuild(
    project: Path,
    tag_for: Callable[[str], str],
    tmp_path: Path,
    base_image: BaseImage,
) -> None:
    engine = require_docker()
    client, log = logging_client(tmp_path / "client")
    cache, tag = tmp_path / "cache", tag_for("skip")
    calls, stderr = run_build(project, tag, cache, client, log)
    assert calls == 1, stderr
    first = image_id(project)

    calls, stderr = run_build(project, tag, cache, client, log)
    assert calls == 0, stderr
    assert "user image unchanged" in stderr
    assert image_id(project) == first
    assert engine.images.get(tag).id == first

    # a changed context file: the builder runs and the image differs
    (project / "hello.txt").write_text("changed\n", encoding="utf-8")
    calls, stderr = run_build(project, tag, cache, client, log)
    assert calls == 1 and "user image unchanged" not in stderr, stderr
    assert image_id(project) != first
    changed = image_id(project)

    # a changed build argument default (the Dockerfile text)
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(text + "ARG FLAVOUR=a\nRUN echo $FLAVOUR > /flavour\n", "utf-8")
    assert run_build(project, tag, cache, client, log)[0] == 1
    with_arg = image_id(project)
    dockerfile.write_text(text + "ARG FLAVOUR=b\nRUN echo $FLAVOUR > /flavour\n", "utf-8")
    assert run_build(project, tag, cache, client, log)[0] == 1
    assert image_id(project) not in (with_arg, changed)
    assert engine.containers.run(tag, ["cat", "/flavour"], remove=True).decode() == "b\n"

    # a changed base digest
    digest = other_base(engine, base_image)
    dockerfile.write_text(text.replace(base_image.digest, digest), "utf-8")
    assert digest != base_image.digest and digest in dockerfile.read_text()
    assert run_build(project, tag, cache, client, log)[0] == 1
    assert engine.images.get(tag).labels.get("variant") == "2"

    # the remembered user image is gone (pruned): the builder runs again
    memos = list((cache / "user-images").iterdir())
    user_images = {m.read_text().strip() for m in memos}
    engine.api.remove_image(tag, force=True)
    for user_image in user_images:
        with contextlib.suppress(docker.errors.APIError):
            engine.api.remove_image(user_image, force=True)
    assert run_build(project, tag, cache, client, log)[0] == 1


def test_derived_inventory_equals_reading_the_image_back(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    """The record's inventory (user image's layers + the staged layer) is the image's own."""
    require_docker()
    from audit.inventory import read_inventory

    meta = f"{PREFIX}/conda-meta"
    dist = "/usr/local/lib/python3.11/site-packages/userpkg-2.0.dist-info"
    stale = '{"name":"stale","version":"0.1","build":"0","subdir":"linux-64"}'
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned}\nCOPY . /app/\n"
        f"RUN mkdir -p {dist} {meta} && "
        f"printf 'Metadata-Version: 2.1\\nName: userpkg\\nVersion: 2.0\\n' > {dist}/METADATA && "
        f"echo '{stale}' > {meta}/stale-0.1-0.json\n",
        encoding="utf-8",
    )
    tag = tag_for("derived")
    env = {"PATH": os.environ["PATH"]}
    done = cli(
        "build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(build_cache), cwd=project,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "from the user image's layers and the environment layer" in done.stderr
    record = json.loads((project / "build-record.json").read_text())
    read_back = read_inventory(f"docker-daemon:{tag}", "linux/amd64")
    assert record["inventory"] == read_back.with_source(f"docker-daemon:{tag}").to_json()
    names = {p["name"] for p in record["inventory"]["packages"]}
    assert {"userpkg", "stale", "six", "python"} <= names
