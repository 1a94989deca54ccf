"""`repro-audit build` with the engine's BuildKit, the Dockerfiles teams write today.

Real dockerd, real docker clients (every one on PATH is probed), the fixture channel and a
local registry. Each test runs the CLI as a user would and looks at the image after.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from build_helpers import PREFIX, BaseImage, cli
from support.build import remove_env_images
from support.docker import require_buildkit, require_docker

pytestmark = pytest.mark.docker


def build(project: Path, tag: str, cache: Path, *extra: str) -> dict:
    done = cli(
        "build", "-t", tag, "--prefix", PREFIX, "--cache-dir", str(cache), *extra, cwd=project
    )
    assert done.returncode == 0, done.stderr
    return json.loads((project / "build-record.json").read_text())


def run(client, image: str, command: list[str]) -> str:
    return client.containers.run(image, command, remove=True).decode()


def test_buildkit_features_build(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    require_buildkit()
    client = require_docker()
    (project / "tool.sh").write_text("#!/bin/sh\necho tool\n", encoding="utf-8")
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned} AS build\n"
        "ARG TARGETARCH\n"
        "RUN --mount=type=cache,target=/root/.cache echo cached > /root/.cache/x && "
        "cat /root/.cache/x > /from-cache && echo $TARGETARCH > /arch\n"
        f"FROM {base_image.pinned}\n"
        "COPY --from=build /arch /from-cache /\n"
        "COPY --chmod=755 tool.sh /usr/local/bin/tool\n",
        encoding="utf-8",
    )
    tag = tag_for("1")
    record = build(project, tag, build_cache)
    assert run(client, tag, ["cat", "/arch"]).strip() == "amd64"
    assert run(client, tag, ["/usr/local/bin/tool"]).strip() == "tool"
    assert run(client, tag, ["cat", "/from-cache"]).strip() == "cached"
    assert record["inputs"]["builder"]["kind"] in ("buildkit", "buildx")
    assert record["outputs"]["placement"] == "last-layer"
    layers = client.images.get(tag).attrs["RootFS"]["Layers"]
    assert layers[-1] == record["outputs"]["env_layer_diff_id"]
    assert record["outputs"]["env_layer_diff_id"] == "sha256:" + record["outputs"]["env_tar_sha256"]
    assert f'prefix="{PREFIX}"' in run(client, tag, ["cat", f"{PREFIX}/bin/python3-config"])

    # an unchanged rebuild gives the very same image
    again = build(project, tag, build_cache)
    assert again["outputs"]["image_id"] == record["outputs"]["image_id"]


def test_environment_placed_by_the_dockerfile(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    """`COPY --from=repro-audit-env` then a RUN that executes a locked package's program."""
    require_buildkit()
    client = require_docker()
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned}\n"
        f"COPY --from=repro-audit-env {PREFIX} {PREFIX}\n"
        f"RUN {PREFIX}/bin/python > /smoke.txt && {PREFIX}/bin/python3-config >> /smoke.txt\n"
        "COPY hello.txt /app/\n",
        encoding="utf-8",
    )
    done = cli("pin", "--check", cwd=project)  # the lock, not a registry image
    assert done.returncode == 0, done.stdout + done.stderr
    tag = tag_for("1")
    record = build(project, tag, build_cache)
    smoke = run(client, tag, ["cat", "/smoke.txt"]).splitlines()
    assert smoke == ["fixture python 3.11.9", f"{PREFIX}/include/python3.11"]
    outputs = record["outputs"]
    assert outputs["placement"] == "dockerfile" and outputs["env_layer_diff_id"] is None
    labels = client.images.get(tag).attrs["Config"]["Labels"]
    assert labels["io.repro-audit.env.tree"] == outputs["env_tree_digest"]
    # the same environment as the last-layer build: the same tree digest
    (project / "Dockerfile").write_text(f"FROM {base_image.pinned}\n", encoding="utf-8")
    last = build(project, tag_for("2"), build_cache)
    assert last["outputs"]["env_tree_digest"] == outputs["env_tree_digest"]
    assert not [t for t in client.images.get(tag).tags if t.startswith("repro-audit-env")]
    assert client.images.list(name="repro-audit-env")  # the environment image, kept as a cache
    remove_env_images(client)


@pytest.mark.parametrize(
    ("dockerfile", "line", "message"),
    [
        ("FROM {base}\nCOPY --from=repro-audit-env /opt/other /opt/other\n", 2, "--prefix"),
        (
            "FROM {base} AS unused\nCOPY --from=repro-audit-env {prefix} {prefix}\nFROM {base}\n",
            2,
            "does not run",
        ),
    ],
)
def test_bad_environment_use_is_exit_2_with_file_and_line(
    project: Path,
    tag_for: Callable[[str], str],
    build_cache: Path,
    base_image: BaseImage,
    dockerfile: str,
    line: int,
    message: str,
) -> None:
    text = dockerfile.format(base=base_image.pinned, prefix=PREFIX)
    (project / "Dockerfile").write_text(text, encoding="utf-8")
    done = cli("build", "-t", tag_for("1"), "--prefix", PREFIX, "--cache-dir", str(build_cache),
               cwd=project)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"Dockerfile:{line}" in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_failing_step_is_exit_2_with_the_step_and_its_output(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, base_image: BaseImage
) -> None:
    require_buildkit()
    client = require_docker()
    (project / "Dockerfile").write_text(
        f"FROM {base_image.pinned}\nRUN echo preparing && echo about to fail && exit 3\n",
        encoding="utf-8",
    )
    tag = tag_for("1")
    done = cli("build", "-t", tag, "--cache-dir", str(build_cache), cwd=project)
    assert done.returncode == 2, done.stderr
    assert "RUN echo preparing" in done.stderr and "about to fail" in done.stderr
    assert "exit code: 3" in done.stderr
    assert not client.images.list(name=tag)
    assert not (project / "build-record.json").exists()


def test_hand_edited_version_is_refused(
    project: Path, tag_for: Callable[[str], str], tmp_path: Path
) -> None:
    client = require_docker()
    lockfile = project / "conda-lock.yml"
    document = yaml.safe_load(lockfile.read_text(encoding="utf-8"))
    for entry in document["package"]:
        if entry["name"] == "six":
            entry["version"] = "9.9.9"  # url and hash unchanged
    lockfile.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tag = tag_for("1")
    done = cli("build", "-t", tag, "--cache-dir", str(tmp_path / "cache"), cwd=project)
    assert done.returncode == 1, done.stderr
    assert "six 9.9.9" in done.stderr and "'1.16.0'" in done.stderr
    assert not client.images.list(name=tag)


def test_warm_and_fresh_cache_give_the_same_environment(
    project: Path, tag_for: Callable[[str], str], build_cache: Path, tmp_path: Path
) -> None:
    warm = build(project, tag_for("warm"), build_cache)
    fresh = build(project, tag_for("fresh"), tmp_path / "fresh-cache")
    for key in ("env_tree_digest", "env_layer_diff_id", "env_tar_sha256", "image_id"):
        assert warm["outputs"][key] == fresh["outputs"][key], key


def test_classic_builder_still_works(
    project: Path, tag_for: Callable[[str], str], build_cache: Path
) -> None:
    client = require_docker()
    tag = tag_for("1")
    record = build(project, tag, build_cache, "--builder", "classic")
    assert record["inputs"]["builder"]["kind"] == "classic"
    assert (
        client.images.get(tag).attrs["RootFS"]["Layers"][-1]
        == (record["outputs"]["env_layer_diff_id"])
    )
    assert "hello.txt" in run(client, tag, ["ls", "/app"])


def test_unknown_builder_name_lists_the_builders(
    project: Path, tag_for: Callable[[str], str], build_cache: Path
) -> None:
    done = cli("build", "-t", tag_for("1"), "--builder", "nosuch-remote",
               "--cache-dir", str(build_cache), cwd=project)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no builder named 'nosuch-remote'" in done.stderr
    assert "builders here:" in done.stderr and "classic" in done.stderr


def test_no_buildkit_reachable_is_exit_3(project: Path, tmp_path: Path) -> None:
    """Only a docker client that refuses BuildKit on PATH (and no docker.io client)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text("#!/bin/sh\necho 'buildx component is missing' >&2\nexit 1\n")
    (fake / "docker").chmod(0o755)
    env = {"PATH": str(fake), "REPRO_AUDIT_DOCKER_CLIENTS": ""}
    done = cli("build", "--builder", "buildkit", cwd=project, env=env)
    assert done.returncode == 3, done.stderr
    assert "no BuildKit to build with" in done.stderr and str(fake / "docker") in done.stderr
