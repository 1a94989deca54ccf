"""The same inputs give the same image id: the Dockerfile's own layers re-packed canonically.

Each test writes one Dockerfile shape into a world (a locked, pinned project on a local
registry and channel), builds it, and lets `verify --rebuild` (every step run again,
`--no-cache`) say whether the image id is the recorded one. A step that is not
deterministic is named: its layer, its Dockerfile line and the files that differ.
"""

from __future__ import annotations

import json
import time

import pytest
from support.docker import require_buildkit, require_docker

pytestmark = pytest.mark.docker

PREFIX = "/opt/conda/envs/app"


def _shape(world, body: str) -> None:
    """The world's Dockerfile as `body`, each `FROM-BASE` its pinned base."""
    dockerfile = world.project / "Dockerfile"
    pinned_from = dockerfile.read_text(encoding="utf-8").splitlines()[0]
    dockerfile.write_text(body.replace("FROM-BASE", pinned_from), encoding="utf-8")


def _build(world, *extra: str) -> dict:
    done = world.run("build", "-t", world.image_tag, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(world.record.read_text())


@pytest.mark.parametrize(
    "name, body",
    [
        (
            "run-copy-chmod",
            "FROM-BASE\n"
            "RUN mkdir -p /srv/data && echo fixed > /srv/data/a && ln -s a /srv/data/b\n"
            "COPY --chmod=0750 files/ /srv/files/\n"
            "RUN rm /srv/data/b\n",  # a whiteout in a layer of its own
        ),
        (
            "run-mount",
            "FROM-BASE\n"
            "RUN --mount=type=cache,target=/root/.cache echo cached > /root/.cache/x "
            "&& echo out > /out.txt\n"
            "RUN --mount=type=bind,source=files,target=/mnt cp -r /mnt/app /app2\n",
        ),
        (
            "multi-stage",
            "FROM-BASE AS build\nRUN mkdir /out && echo built > /out/artifact\n"
            "FROM-BASE\nCOPY --from=build /out/ /opt/out/\nRUN cat /opt/out/artifact\n",
        ),
        (
            "placed-environment",
            "FROM-BASE\n"
            f"COPY --from=repro-audit-env {PREFIX} {PREFIX}\n"
            f"RUN {PREFIX}/bin/python > /smoke.txt\n",
        ),
    ],
)
def test_deterministic_shapes_keep_the_image_id(make_world, name: str, body: str) -> None:
    require_docker()
    require_buildkit()
    world = make_world(name, build=False)
    _shape(world, body)
    record = _build(world)
    code, out = world.verify("--rebuild")
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    assert out["image_identical"] is True, out["reasons"]
    assert out["rebuild"]["rebuilt"]["layers"] == record["outputs"]["layers"]
    assert any("bit-identical image" in reason for reason in out["reasons"])


def test_a_heredoc_keeps_the_image_id_or_is_refused_at_its_line(make_world) -> None:
    """Heredocs are Dockerfile syntax 1.4: a frontend that knows them gives the same image
    id on a rebuild; Docker 20.10's built-in one reads the body as instructions, and the
    build says so at the heredoc's line, with nothing tagged."""
    client = require_docker()
    require_buildkit()
    world = make_world("heredoc", build=False)
    _shape(world, "FROM-BASE\nRUN <<EOF\nmkdir -p /srv\necho fixed > /srv/a\nEOF\n")
    done = world.run("build", "-t", world.image_tag)
    if done.returncode == 0:
        code, out = world.verify("--rebuild")
        assert (code, out["image_identical"]) == (0, True), out["reasons"]
        return
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "Dockerfile:2: the builder's Dockerfile frontend does not know heredocs" in line
    assert "RUN <<EOF" in line and "# syntax=docker/dockerfile:1.4" in line
    assert not client.images.list(name=world.image_tag)
    assert not world.record.exists()


def test_a_step_that_is_not_deterministic_is_named_with_its_files(make_world) -> None:
    require_docker()
    world = make_world("stamp", build=False)
    uuid = "cat /proc/sys/kernel/random/uuid"
    _shape(world, f"FROM-BASE\nRUN mkdir /srv && echo fixed > /srv/same && {uuid} > /srv/stamp\n")
    record = _build(world)
    code, out = world.verify("--rebuild")
    # the packages are the record's: still REPRODUCED, but not the same image id
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    assert out["image_identical"] is False
    (difference,) = out["rebuild"]["layer_differences"]
    assert difference["step"].startswith("Dockerfile:2 (RUN mkdir /srv")
    assert difference["files"] == ["~ /srv/stamp (content)"]
    assert difference["recorded"] == record["outputs"]["layers"][difference["position"] - 1]
    text = "\n".join(out["reasons"])
    assert "is not deterministic" in text and "/srv/stamp" in text
    assert "~ /srv/same" not in text  # the same bytes: not listed


def test_opting_out_keeps_the_builders_layers(make_world) -> None:
    """`--no-reproducible-image`: the RUN layer as the builder wrote it (its wall-clock
    mtimes), so two builds differ; by default they do not."""
    require_docker()
    world = make_world("optout", build=False)
    _shape(world, "FROM-BASE\nRUN mkdir /srv && echo fixed > /srv/same\n")
    first = _build(world, "--no-cache")
    second = _build(world, "--no-cache")
    assert first["outputs"]["layers"] == second["outputs"]["layers"]
    assert first["outputs"]["image_id"] == second["outputs"]["image_id"]
    third = _build(world, "--no-cache", "--no-reproducible-image")
    time.sleep(1.1)  # a layer tar stores whole seconds: two builds in one second match
    fourth = _build(world, "--no-cache", "--no-reproducible-image")
    assert third["outputs"]["layers"][-2] != fourth["outputs"]["layers"][-2]
    assert third["outputs"]["layers"][-1] == first["outputs"]["layers"][-1]  # the env layer


def test_a_layer_that_cannot_be_repacked_is_bad_input(make_world) -> None:
    client = require_docker()
    world = make_world("device", build=False)
    _shape(world, "FROM-BASE\nRUN mknod /dev-null-copy c 1 3\n")
    done = world.run("build", "-t", world.image_tag)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "cannot re-pack" in x]  # one line
    assert "cannot re-pack layer 2" in line and "dev-null-copy is a character device (1:3)" in line
    assert "--no-reproducible-image" in line
    assert not client.images.list(name=world.image_tag)
    assert not world.record.exists()


def test_an_epoch_that_is_not_a_number_is_bad_input(make_world) -> None:
    client = require_docker()
    world = make_world("epoch", build=False)
    done = world.run_env({"SOURCE_DATE_EPOCH": "yesterday"}, "build", "-t", world.image_tag)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SOURCE_DATE_EPOCH must be an integer, not 'yesterday'" in done.stderr
    assert not client.images.list(name=world.image_tag)
