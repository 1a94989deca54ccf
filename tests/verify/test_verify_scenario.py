"""The issue's scenario, end to end against a real dockerd, registry and HTTP channel.

T0: lock against a channel, pin against a local registry, build, record, mirror. Then time
passes: the channel gains newer versions of locked packages and the base tag is re-pushed
with other content. `verify --rebuild` still says REPRODUCED (a fresh lock and an unpinned
build would differ: `drift` says so). Upstream deletes an artifact, then the base digest:
static verify says UNREPRODUCIBLE and names them; with the mirror it reproduces.
"""

from __future__ import annotations

import contextlib
import json
import shutil

import pytest
from support import make_channel
from support.docker import require_docker
from verify_helpers import cli, delete_manifest, locked_file, push_base

pytestmark = pytest.mark.docker


def _names(items: list[dict]) -> str:
    return " ".join(f"{i['name']} {i['where']} {i['reason']}" for i in items)


def test_months_later(make_world) -> None:
    client = require_docker()
    # classic: rebuilt FROM a base loaded from the mirror, it gives the same image id;
    # dockerd 20.10's BuildKit gives the same layers but another config
    # (see docs/commands/verify.md)
    world = make_world("scenario", builder="classic")
    record = json.loads(world.record.read_text())
    recorded_id = record["outputs"]["image_id"]
    mirror = world.root / "mirror"

    # T0: everything is there; keep a mirror of it
    code, out = world.verify("--mirror", str(mirror), "--write-mirror")
    assert (code, out["verdict"]) == (0, "AVAILABLE"), out
    assert (mirror / "oci" / "oci-layout").is_file()
    assert (mirror / "oci" / "blobs" / "sha256" / world.base_digest.split(":")[1]).is_file()
    mirror_repodata = json.loads((mirror / "conda" / "linux-64" / "repodata.json").read_text())
    locked = {e["name"] for e in record["inputs"]["packages"]["conda"]}
    in_mirror = {r["name"] for r in mirror_repodata["packages.conda"].values()}
    in_mirror |= {r["name"] for r in mirror_repodata["packages"].values()}
    noarch = json.loads((mirror / "conda" / "noarch" / "repodata.json").read_text())
    in_mirror |= {r["name"] for t in ("packages", "packages.conda") for r in noarch[t].values()}
    assert in_mirror == locked  # exactly the locked records: the mirror is a channel

    # time passes: newer packages upstream, the base tag moves to other content
    make_channel.build_channel(world.channel, newer=True)
    base = f"{world.registry_host}/{world.repository}"
    moved = push_base(client, base, world.tag, seed="months later")
    assert moved != world.base_digest

    code, out = world.verify("--rebuild")
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    assert out["rebuild"]["same_env_layer"] and not out["rebuild"]["inventory_changes"]
    assert out["image_identical"] is True, out["rebuild"]
    assert out["rebuild"]["rebuilt"]["image_id"] == recorded_id

    # ... while a fresh lock and an unpinned build would differ: drift says so
    drift = world.run("drift", "--format", "json", "--no-history")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    report = json.loads(drift.stdout)
    text = json.dumps(report)
    assert "six" in text and "1.17.0" in text  # upstream moved
    assert moved in text  # the base tag moved

    # upstream deletes a locked artifact: static verify names it, the mirror saves it
    gone = locked_file(world.project / "conda-lock.yml", "six")
    (world.channel / gone).unlink()
    code, out = world.verify()
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE"), out
    assert gone.split("/")[1] in _names(out["missing"])
    assert "HTTP 404" in _names(out["missing"])
    human = world.run("verify", str(world.record))
    assert human.returncode == 1 and "UNREPRODUCIBLE" in human.stdout
    assert gone.split("/")[1] in human.stdout

    code, out = world.verify("--mirror", str(mirror), "--rebuild")
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    assert gone.split("/")[1] in _names(out["mirrored"])
    assert out["image_identical"] is True

    # the registry garbage-collects the base digest
    assert delete_manifest(world.registry_host, world.repository, world.base_digest) == 202
    code, out = world.verify()
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE"), out
    assert world.base_digest in _names(out["missing"])

    # ... and dockerd forgets it too: only the mirror can bring it back
    for image in (world.image_tag, f"{base}@{world.base_digest}", recorded_id):
        with contextlib.suppress(Exception):
            client.api.remove_image(image, force=True)
    code, out = world.verify("--mirror", str(mirror), "--rebuild")
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    assert world.base_digest in _names(out["mirrored"])
    assert out["rebuild"]["loaded_bases"], out["rebuild"]
    assert out["rebuild"]["rebuilt"]["env_layer_diff_id"] == record["outputs"]["env_layer_diff_id"]
    assert out["image_identical"] is True
    client.close()


def test_tampered_artifact(make_world) -> None:
    """An artifact whose bytes change after locking: verify names the hash mismatch."""
    world = make_world("tamper")
    target = locked_file(world.project / "conda-lock.yml", "tzdata")
    make_channel.build_channel(world.channel, tamper=target.split("/")[1])
    shutil.rmtree(world.cache)

    code, out = world.verify("--deep")
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE"), out
    (mismatch,) = out["mismatches"]
    assert target.split("/")[1] in mismatch["name"] and "sha256 mismatch" in mismatch["reason"]
    sha = next(
        p["sha256"]
        for p in json.loads(world.record.read_text())["inputs"]["packages"]["conda"]
        if p["name"] == "tzdata"
    )
    assert mismatch["expected"] == sha and mismatch["got"] not in (None, sha)

    code, out = world.verify("--rebuild")  # the fetch refuses it too: no rebuild happens
    assert code == 1 and out["verdict"] == "UNREPRODUCIBLE" and out["rebuild"] is None


def test_docker_down_and_git_revision(make_world, tmp_path) -> None:
    """`--rebuild` without Docker is exit 3; `git:REV` verifies what was committed."""
    world = make_world("git")
    done = cli(
        "verify",
        str(world.record),
        "--rebuild",
        cwd=world.project,
        env={**world.env, "DOCKER_HOST": "tcp://127.0.0.1:1"},
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Docker is not reachable" in done.stderr

    # the working tree moves on: a re-lock against the newer channel
    make_channel.build_channel(world.channel, newer=True)
    assert world.run("lock", "-p", "linux-64", "--force").returncode == 0
    code, out = world.verify()
    assert code == 1 and out["verdict"] == "UNREPRODUCIBLE"
    assert any(m["kind"] == "lockfile" for m in out["mismatches"]), out

    done = cli("verify", "git:HEAD", "--json", "--rebuild", cwd=world.project, env=world.env)
    out = json.loads(done.stdout)
    assert (done.returncode, out["verdict"]) == (0, "REPRODUCED"), out
    assert out["image_identical"] is True


def test_environment_placed_by_the_dockerfile_reproduces(make_world) -> None:
    """BuildKit, `COPY --from=repro-audit-env`, then a step using it: REPRODUCED by tree."""
    world = make_world("placed", build=False)
    prefix = "/opt/conda/envs/app"
    dockerfile = world.project / "Dockerfile"
    pinned_from = dockerfile.read_text(encoding="utf-8").splitlines()[0]
    dockerfile.write_text(
        f"{pinned_from}\nCOPY --from=repro-audit-env {prefix} {prefix}\n"
        f"RUN {prefix}/bin/python > /smoke.txt\nCOPY files/ /\n",
        encoding="utf-8",
    )
    done = world.run("build", "-t", world.image_tag)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(world.record.read_text())
    assert record["outputs"]["placement"] == "dockerfile"

    code, out = world.verify("--rebuild")
    assert (code, out["verdict"]) == (0, "REPRODUCED"), out
    rebuilt = out["rebuild"]["rebuilt"]
    assert out["rebuild"]["same_env_tree"] is True
    assert rebuilt["env_tree_digest"] == record["outputs"]["env_tree_digest"]
    assert rebuilt["placement"] == "dockerfile" and rebuilt["env_layer_diff_id"] is None
    assert any("environment tree identical" in reason for reason in out["reasons"])
    from support.build import remove_env_images

    remove_env_images(require_docker())
