"""Builder choice, BuildKit's plain progress, the tree digest, trusting the artifact."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml
from build_helpers import PREFIX, write_project

from audit.build.builders import Builder, Probe, choose, parse_buildx_ls
from audit.build.buildkit import PlainProgress, command
from audit.build.materialize import materialize
from audit.build.treedigest import tree_digest
from audit.core.errors import FindingsError, InfrastructureError, InputError

BUILDX_LS = """\
NAME/NODE       DRIVER/ENDPOINT                   STATUS   BUILDKIT PLATFORMS
team-k8s *      kubernetes
  team-k8s0     kubernetes:///team-k8s            running  v0.13.2  linux/amd64
remote1         remote
  remote10      tcp://buildkitd:1234              running  v0.13.2  linux/amd64
default         docker
  default       default                           running  v0.11.7  linux/amd64
"""


def test_buildx_ls_table_gives_names_and_drivers() -> None:
    assert parse_buildx_ls(BUILDX_LS) == {
        "team-k8s": "kubernetes",
        "remote1": "remote",
        "default": "docker",
    }


def test_choice_prefers_buildx_then_builtin_then_classic_with_a_warning() -> None:
    builtin = Probe(tried=["/a/docker", "/b/docker"], builtin=[("/b/docker", "20.10.24")])
    builder, warning = choose(None, builtin)
    assert (builder.kind, builder.client, warning) == ("buildkit", "/b/docker", None)
    assert choose("classic", builtin)[0].kind == "classic"
    builder, warning = choose(None, Probe(tried=["/a/docker"]))
    assert builder.kind == "classic" and warning is not None
    assert "/a/docker" in warning and "classic builder" in warning


def test_buildkit_required_but_unreachable_is_exit_3_saying_what_was_probed() -> None:
    with pytest.raises(InfrastructureError) as caught:
        choose("buildkit", Probe(tried=["/usr/local/bin/docker"]))
    assert caught.value.exit_code == 3
    line = caught.value.one_line()
    assert "/usr/local/bin/docker" in line and "buildx" in line and "docker.io" in line


def test_unknown_named_builder_is_exit_2_listing_the_builders() -> None:
    with pytest.raises(InputError) as caught:
        choose("nosuch", Probe(tried=["/b/docker"], builtin=[("/b/docker", "20.10")]))
    assert caught.value.exit_code == 2
    assert "classic, buildkit" in caught.value.one_line()


def test_cli_invocations() -> None:
    buildx = Builder("buildx", "/x/docker", "team-k8s", "kubernetes")
    args, env = command(buildx, "Dockerfile", Path("/t/iid"), "linux/amd64", True)
    assert args[:6] == ["/x/docker", "buildx", "build", "--load", "--builder", "team-k8s"]
    assert args[-1] == "-" and "--no-cache" in args and env == {}
    args, env = command(Builder("buildkit", "/b/docker"), "sub/D", Path("/t/iid"), None, False)
    assert args[:2] == ["/b/docker", "build"] and env == {"DOCKER_BUILDKIT": "1"}
    assert args[args.index("-f") + 1] == "sub/D" and "--platform" not in args


PLAIN_FAILURE = """\
#5 [1/2] FROM registry/base@sha256:abc
#5 DONE 0.0s

#6 [2/2] RUN make test
#6 0.201 compiling
#6 0.305 test_a ok
#6 0.406 test_b FAILED: expected 2, got 3
#6 ERROR: executor failed running [/bin/sh -c make test]: exit code: 2
------
 > [2/2] RUN make test:
------
failed to solve with frontend dockerfile.v0: failed to build LLB: exit code: 2
"""


def test_plain_progress_names_the_failing_step_and_its_last_output() -> None:
    seen: list[tuple[str, str]] = []
    progress = PlainProgress(lambda phase, line: seen.append((phase, line)))
    for line in PLAIN_FAILURE.splitlines(keepends=True):
        progress.feed(line)
    assert [line for phase, line in seen if phase == "building"] == [
        "[1/2] FROM registry/base@sha256:abc",
        "[2/2] RUN make test",
    ]
    assert [line for phase, line in seen if phase == "output"][-1] == (
        "test_b FAILED: expected 2, got 3"
    )
    error = progress.failure(1)
    assert isinstance(error, InputError) and error.exit_code == 2
    line = error.one_line()
    assert "[2/2] RUN make test" in line and "exit code: 2" in line
    assert "test_b FAILED: expected 2, got 3" in line and "\n" not in line


def test_a_builder_that_stops_answering_is_exit_3() -> None:
    progress = PlainProgress(lambda *_: None)
    progress.feed("error: failed to dial gRPC: transport is closing\n")
    assert progress.failure(1).exit_code == 3


def _tar(entries: list[tuple[str, str, bytes, int, int]]) -> io.BytesIO:
    """(name, type, data, mode, mtime) → an in-memory tar in that order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind, data, mode, mtime in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, mtime
            if kind == "d":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


TREE = [
    ("opt/env", "d", b"", 0o755, 0),
    ("opt/env/bin", "d", b"", 0o755, 0),
    ("opt/env/bin/tool", "f", b"#!/bin/sh\n", 0o755, 0),
    ("opt/env/lib", "l", b"bin", 0o777, 0),
]


def test_tree_digest_ignores_order_mtimes_and_where_the_tree_sits() -> None:
    digest = tree_digest(_tar(TREE), "opt/env")
    shuffled = [(n, k, d, m, 1_700_000_000) for n, k, d, m, _ in reversed(TREE)]
    assert tree_digest(_tar(shuffled), "opt/env") == digest
    # `docker cp` of the prefix: members start at the prefix's last component
    moved = [(n.replace("opt/env", "env", 1), k, d, m, t) for n, k, d, m, t in TREE]
    assert tree_digest(_tar(moved), "env") == digest
    assert digest.startswith("sha256:")


@pytest.mark.parametrize(
    "change",
    [
        ("opt/env/bin/tool", "f", b"#!/bin/sh\nexit 1\n", 0o755, 0),  # bytes
        ("opt/env/bin/tool", "f", b"#!/bin/sh\n", 0o644, 0),  # mode
        ("opt/env/lib", "l", b"lib64", 0o777, 0),  # symlink target
    ],
)
def test_tree_digest_sees_bytes_modes_and_link_targets(change: tuple) -> None:
    changed = [change if entry[0] == change[0] else entry for entry in TREE]
    assert tree_digest(_tar(changed), "opt/env") != tree_digest(_tar(TREE), "opt/env")


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, channel_url: str) -> Path:
    """A project locked against the session's fixture channel (treat as read-only)."""
    return write_project(tmp_path_factory.mktemp("locked"), channel_url, None)


def _edit_lock(lockfile: Path, name: str, **fields: object) -> None:
    document = yaml.safe_load(lockfile.read_text(encoding="utf-8"))
    for entry in document["package"]:
        if entry["name"] == name:
            entry.update(fields)
    lockfile.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize(("field", "value"), [("version", "9.9.9"), ("build", "other_0")])
def test_a_lock_that_disagrees_with_its_artifact_is_refused(
    locked: Path, tmp_path: Path, field: str, value: str
) -> None:
    lockfile = tmp_path / "conda-lock.yml"
    lockfile.write_bytes((locked / "conda-lock.yml").read_bytes())
    _edit_lock(lockfile, "six", **{field: value})
    with pytest.raises(FindingsError) as caught:
        materialize(lockfile, "linux-64", PREFIX, tmp_path / "cache")
    line = caught.value.one_line()
    assert caught.value.exit_code == 1 and line.startswith("six ")
    assert value in line and "six-1.16.0-pyh6c4a22f_0.conda" in line
    assert not list((tmp_path / "cache" / "stages").glob("*.tar"))


def test_conda_meta_comes_from_the_artifact_and_the_stage_key_covers_the_lock_text(
    locked: Path, tmp_path: Path
) -> None:
    lockfile = tmp_path / "conda-lock.yml"
    lockfile.write_bytes((locked / "conda-lock.yml").read_bytes())
    cache = tmp_path / "cache"
    first = materialize(lockfile, "linux-64", PREFIX, cache)
    _edit_lock(lockfile, "six", dependencies={"python": ">=2.0", "extra-dep": "*"})
    second = materialize(lockfile, "linux-64", PREFIX, cache)
    assert not second.cached  # another lock text is another stage, never the cached one
    with tarfile.open(second.tar_path) as archive:
        name = f"{PREFIX.lstrip('/')}/conda-meta/six-1.16.0-pyh6c4a22f_0.json"
        meta = json.loads(archive.extractfile(name).read())  # type: ignore[union-attr]
    assert meta["depends"] == ["python >=3.7"]  # the artifact's info/index.json
    assert (meta["name"], meta["version"], meta["build"]) == ("six", "1.16.0", "pyh6c4a22f_0")
    assert second.tree_digest == first.tree_digest
