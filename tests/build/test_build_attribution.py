"""A real build whose Dockerfile pip-installs a package the lock does not hold: the image's
inventory records the layer and step of every package, `check` names the step before the
build, and `drift` names the Dockerfile line after it.

The base is a real Python with pip (support.python_image), pushed to the session's local
registry and pinned; the step is a real `python3 -m pip install` of a wheel from the
build context (no index: the test needs no network)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_helpers import BaseImage, cli, write_project
from support.build import busybox_path, make_wheel, push_tag
from support.docker import require_docker, require_tool
from support.python_image import host_python, python_rootfs
from support.registry import LocalRegistry

pytestmark = pytest.mark.docker

PIP_STEP = (
    "RUN python3 -m pip install --no-index --no-deps --disable-pip-version-check "
    "/wheels/numpy-1.26.4-py3-none-any.whl"
)


@pytest.fixture(scope="module")
def python_base(build_registry: LocalRegistry) -> Iterator[BaseImage]:
    client = require_docker()
    busybox = busybox_path()
    require_tool("busybox (busybox-static)", busybox is not None)
    require_tool("a Python with pip to put in the base image", host_python() is not None)
    assert busybox is not None
    repository = f"{build_registry.host}/ra-build-python"
    client.api.import_image_from_data(
        python_rootfs(busybox), repository=repository, tag="3", changes=["ENV PATH=/bin:/usr/bin"]
    )
    digest = push_tag(client, repository, "3")
    yield BaseImage(build_registry.host, "ra-build-python", "3", digest)
    with contextlib.suppress(Exception):
        client.api.remove_image(f"{repository}:3", force=True)


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=project, check=True, capture_output=True,
    )  # fmt: skip


def test_drift_names_the_dockerfile_line_of_an_outside_lock_pip_install(
    tmp_path: Path, channel_url: str, python_base: BaseImage, tag_for, build_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    project = write_project(tmp_path / "project", channel_url, None)
    (project / "wheels").mkdir()
    make_wheel(project / "wheels", name="numpy", version="1.26.4")
    (project / "Dockerfile").write_text(
        f"FROM {python_base.tagged}\nCOPY wheels/ /wheels/\n{PIP_STEP}\n", encoding="utf-8"
    )
    assert cli("pin", cwd=project).returncode == 0

    # before the build: check names the step (the lock has no numpy)
    done = cli("check", ".", "--format", "json", cwd=project)
    found = {(f["rule_id"], f["line"]) for f in json.loads(done.stdout)["findings"]}
    assert ("RA021", 3) in found, done.stdout  # (RA005 too: locked with -c, see write_project)

    tag = tag_for("pip")
    done = cli("build", "-t", tag, "--prefix", "/opt/conda/envs/app", "--cache-dir",
               str(build_cache), cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((project / "build-record.json").read_text())

    # the inventory says which layer and step put each package there
    packages = {(p["manager"], p["name"]): p for p in record["inventory"]["packages"]}
    numpy = packages[("pip", "numpy")]
    assert "pip install" in numpy["created_by"] and numpy["layer"].startswith("sha256:")
    env_layer = record["outputs"]["env_layer_diff_id"]
    assert packages[("conda", "six")]["layer"] == env_layer
    assert numpy["layer"] != env_layer

    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "project")
    done = cli("drift", "--record", "build-record.json", "--no-history", "--no-upstream",
               "--no-images", "--format", "json", cwd=project)  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    (section,) = [s for s in report["sections"] if s["name"] == "image_vs_lock"]
    (outside,) = [f for f in section["findings"] if f["kind"] == "outside-lock"]
    assert outside["subject"] == "numpy" and outside["new"].startswith("1.26.4")
    assert outside["origin"] == f"Dockerfile:3 (RUN {PIP_STEP[4:][:59]}…)"
    text = cli("drift", "--record", "build-record.json", "--no-history", "--no-upstream",
               "--no-images", cwd=project).stdout  # fmt: skip
    assert "installed outside the lock by Dockerfile:3 (RUN python3 -m pip install" in text
