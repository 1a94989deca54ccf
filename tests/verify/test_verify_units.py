"""`verify` without Docker: the verdict logic, static checks over HTTP, the mirror, git:REV."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from support import make_channel
from support.docker import require_tool
from support.http import serve_directory
from support.verify import record_for_lock, synthetic_lock
from verify_helpers import cli, locked_file, verify_json

from audit.build.imageid import normalize_config
from audit.diff.classify import diff_inventories
from audit.inventory import Inventory, Package
from audit.verify import GONE, MISMATCH, Problem, Rebuild, Verdict, decide

# --------------------------------------------------------------------------- verdicts


def _inventory(*packages: tuple[str, str]) -> Inventory:
    return Inventory(
        "test",
        "linux-64",
        tuple(
            Package("conda", n, v, "b0", "c", "linux-64", f"u/{n}", f"{n}{v}") for n, v in packages
        ),
    )


def _rebuild(old: Inventory, new: Inventory, **rebuilt: object) -> Rebuild:
    recorded = {
        "image_id": "sha256:i",
        "env_layer_diff_id": "sha256:e",
        "labels": {"a": "1", "io.repro-audit.version": "0.1.0"},
        "layers": ["sha256:b", "sha256:e"],
    }
    return Rebuild(recorded, {**recorded, **rebuilt}, diff_inventories(old, new), 1.0)


SAME = _inventory(("python", "3.11.9"), ("six", "1.16.0"))


def test_reproduced_and_image_identical() -> None:
    verdict, why = decide([], _rebuild(SAME, SAME))
    assert verdict is Verdict.REPRODUCED and verdict.exit_code == 0
    assert any("same image id" in line for line in why)
    verdict, why = decide([], _rebuild(SAME, SAME, image_id="sha256:other"))
    assert verdict is Verdict.REPRODUCED and any("image id differs" in line for line in why)


def test_equivalent_says_what_differs() -> None:
    verdict, why = decide([], _rebuild(SAME, SAME, env_layer_diff_id="sha256:x"))
    assert verdict is Verdict.EQUIVALENT and verdict.exit_code == 1
    assert any("sha256:x" in line for line in why)
    verdict, why = decide([], _rebuild(SAME, SAME, labels={"a": "2"}))
    assert verdict is Verdict.EQUIVALENT and any("label a" in line for line in why)


def test_tool_version_label_alone_does_not_downgrade() -> None:
    labels = {"a": "1", "io.repro-audit.version": "9.9"}
    verdict, why = decide([], _rebuild(SAME, SAME, labels=labels))
    assert verdict is Verdict.REPRODUCED and any("io.repro-audit.version" in w for w in why)


def test_drifted_lists_classified_changes() -> None:
    newer = _inventory(("python", "3.11.9"), ("six", "1.17.0"))
    verdict, why = decide([], _rebuild(SAME, newer, env_layer_diff_id="sha256:x"))
    assert verdict is Verdict.DRIFTED and verdict.exit_code == 1
    assert any("upgraded" in line and "six" in line and "1.17.0" in line for line in why)


def test_missing_inputs_beat_everything_unless_mirrored() -> None:
    gone = Problem("artifact", "six 1.16.0", "http://x/six.conda", GONE, "gone (HTTP 404)")
    verdict, why = decide([gone], _rebuild(SAME, SAME))
    assert verdict is Verdict.UNREPRODUCIBLE and "six 1.16.0" in why[0]
    mirrored = Problem("artifact", "six", "u", GONE, "gone", mirrored=True)
    assert decide([mirrored], None)[0] is Verdict.AVAILABLE
    mismatch = Problem("artifact", "six", "u", MISMATCH, "sha256", expected="a", got="b")
    verdict, why = decide([mismatch], None)
    assert verdict is Verdict.UNREPRODUCIBLE and "expected a, got b" in why[0]


def test_normalize_config_is_deterministic() -> None:
    config = {
        "created": "2026-01-01T00:00:01.5Z",
        "container": "abc",
        "container_config": {"Hostname": "abc"},
        "config": {"Image": "sha256:intermediate", "Env": ["A=1"]},
        "history": [{"created": "2020-01-01T00:00:00Z"}, {"created": "2026-01-01T00:00:01Z"}],
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    out = normalize_config(config, 86400, inherited=1)
    assert out["created"] == "1970-01-02T00:00:00Z"
    assert "container" not in out and "container_config" not in out
    assert out["config"] == {"Image": "", "Env": ["A=1"]}
    assert [h["created"] for h in out["history"]] == ["2020-01-01T00:00:00Z", out["created"]]
    assert config["container"] == "abc"  # input untouched


def test_substitute_bases_only_changes_the_text_sent_to_docker() -> None:
    from audit.build.run import substitute_bases

    digest = "sha256:" + "a" * 64
    text = f"FROM reg:5000/base:1@{digest} AS b\nCOPY x /\n"
    out = substitute_bases(text, {f"reg:5000/base:1@{digest}": "sha256:" + "b" * 64})
    assert out == f"FROM sha256:{'b' * 64} AS b\nCOPY x /\n"
    assert substitute_bases(text, {}) == text


# --------------------------------------------------------------------------- static, HTTP


@pytest.fixture
def http_project(tmp_path: Path):
    """A channel the test owns, served over HTTP, a lock against it and a record of it."""
    channel = make_channel.build_channel(tmp_path / "channel")
    with serve_directory(channel) as url:
        project = tmp_path / "project"
        project.mkdir()
        (project / "environment.yml").write_text(
            f"name: app\nchannels:\n  - {url}\ndependencies:\n  - python 3.11.*\n  - six\n"
            "  - tzdata\nplatforms:\n  - linux-64\n",
            encoding="utf-8",
        )
        env = {"REPRO_AUDIT_CACHE_DIR": str(tmp_path / "cache")}
        done = cli("lock", "-p", "linux-64", cwd=project, env=env)
        assert done.returncode == 0, done.stderr
        record_for_lock(project / "conda-lock.yml", project / "build-record.json")
        yield channel, project, env, url


def test_static_available_then_gone_then_mirrored(http_project, tmp_path: Path) -> None:
    channel, project, env, _ = http_project
    code, out = verify_json("build-record.json", cwd=project, env=env)
    assert (code, out["verdict"]) == (0, "AVAILABLE") and out["checked"]["artifacts"] == 5

    mirror = tmp_path / "mirror"
    code, out = verify_json(
        "build-record.json", "--mirror", str(mirror), "--write-mirror", cwd=project, env=env
    )
    assert (code, out["verdict"]) == (0, "AVAILABLE"), out
    index = json.loads((mirror / "mirror.json").read_text())
    assert len(index["artifacts"]) == 5
    for rel in index["artifacts"].values():
        assert (mirror / rel).is_file()

    gone = locked_file(project / "conda-lock.yml", "python")
    (channel / gone).unlink()
    code, out = verify_json("build-record.json", cwd=project, env=env)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE")
    (missing,) = out["missing"]
    assert gone.split("/")[1] in missing["name"] and "HTTP 404" in missing["reason"]
    assert missing["cached"] is True  # --write-mirror fetched it: the hint says so

    code, out = verify_json("build-record.json", "--mirror", str(mirror), cwd=project, env=env)
    assert (code, out["verdict"]) == (0, "AVAILABLE"), out
    assert [m["name"] for m in out["mirrored"]] == [missing["name"]]


def test_mirror_is_a_channel_rattler_can_solve(http_project, tmp_path: Path) -> None:
    """The mirror's repodata holds exactly the locked records: a solve from it gives the lock."""
    from support import solve, versions

    _, project, env, _ = http_project
    mirror = tmp_path / "mirror"
    code, _ = verify_json(
        "build-record.json", "--mirror", str(mirror), "--write-mirror", cwd=project, env=env
    )
    assert code == 0
    records = solve(mirror / "conda", ["python 3.11.*", "six", "tzdata"], "linux-64", tmp_path)
    lock = json.loads((project / "build-record.json").read_text())["inputs"]["packages"]["conda"]
    assert versions(records) == {p["name"]: p["version"] for p in lock}


def test_hand_edited_version_is_unreproducible(http_project) -> None:
    """six 1.16.0 → 1.17.0 with URL and hash kept: the artifact verifies, the entry lies."""
    _, project, env, _ = http_project
    lock = project / "conda-lock.yml"
    text = lock.read_text()
    start = text.index("- name: six\n")
    lock.write_text(text[:start] + text[start:].replace("version: 1.16.0", "version: 1.17.0", 1))
    record_for_lock(lock, project / "build-record.json")
    code, out = verify_json("build-record.json", cwd=project, env=env)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE"), out
    (edited,) = [m for m in out["mismatches"] if m["kind"] == "lockfile"]
    assert edited["name"] == "six 1.17.0 (linux-64)"
    assert edited["where"].startswith("conda-lock.yml:")
    assert "'1.17.0' (the file says '1.16.0')" in edited["reason"]


def test_corrupted_mirror_copy_is_named(http_project, tmp_path: Path) -> None:
    channel, project, env, _ = http_project
    mirror = tmp_path / "mirror"
    verify_json(
        "build-record.json", "--mirror", str(mirror), "--write-mirror", cwd=project, env=env
    )
    rel = locked_file(project / "conda-lock.yml", "six")
    copy = mirror / "conda" / rel
    copy.unlink()  # a hard link to the cache: replace, don't write through
    copy.write_bytes(b"not the package")
    (channel / rel).unlink()
    code, out = verify_json("build-record.json", "--mirror", str(mirror), cwd=project, env=env)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE")
    (mismatch,) = out["mismatches"]
    assert "mirrored copy" in mismatch["reason"]
    assert mismatch["got"] == hashlib.sha256(b"not the package").hexdigest()


def test_tamper_found_by_deep_and_by_size(http_project, tmp_path: Path) -> None:
    channel, project, env, _ = http_project
    rel = locked_file(project / "conda-lock.yml", "tzdata")
    # the cache holds the locked bytes (a build fetched them), then upstream changes
    assert verify_json("build-record.json", "--deep", cwd=project, env=env)[0] == 0
    make_channel.build_channel(channel, tamper=rel.split("/")[1])
    code, out = verify_json("build-record.json", cwd=project, env=env)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE")
    assert "size mismatch" in out["mismatches"][0]["reason"]
    shutil.rmtree(tmp_path / "cache")
    code, out = verify_json("build-record.json", "--deep", cwd=project, env=env)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE")
    (mismatch,) = out["mismatches"]
    assert rel.split("/")[1] in mismatch["name"] and "sha256 mismatch" in mismatch["reason"]


def test_channel_host_down_is_exit_3(tmp_path: Path) -> None:
    channel = tmp_path / "channel"
    lock = tmp_path / "conda-lock.yml"
    with serve_directory(tmp_path) as url:
        synthetic_lock(channel, f"{url}/channel", 5, lock)
        record_for_lock(lock, tmp_path / "build-record.json")
        assert verify_json("build-record.json", cwd=tmp_path)[0] == 0
    done = cli("verify", "build-record.json", "--timeout", "2", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not check 5 input(s)" in done.stderr


def test_lock_changed_and_unparsable(tmp_path: Path) -> None:
    lock = tmp_path / "conda-lock.yml"
    synthetic_lock(tmp_path / "channel", (tmp_path / "channel").as_uri(), 3, lock)
    record_for_lock(lock, tmp_path / "build-record.json")
    lock.write_text(lock.read_text().replace("version: 1\n", "version: [\n", 1))
    code, out = verify_json("build-record.json", cwd=tmp_path)
    assert (code, out["verdict"]) == (1, "UNREPRODUCIBLE")
    kinds = {(m["kind"], m["status"]) for m in out["mismatches"]}
    assert ("lockfile", "mismatch") in kinds
    assert out["checked"]["artifacts"] == 3  # the record's package list stood in


def test_git_revision_static(tmp_path: Path) -> None:
    lock = tmp_path / "conda-lock.yml"
    synthetic_lock(tmp_path / "channel", (tmp_path / "channel").as_uri(), 3, lock)
    record_for_lock(lock, tmp_path / "build-record.json")
    identity = ["-c", "user.email=v@example.invalid", "-c", "user.name=v"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for args in (["add", "conda-lock.yml", "build-record.json"], ["commit", "-qm", "T0"]):
        subprocess.run(["git", *identity, *args], cwd=tmp_path, check=True)
    lock.write_text(lock.read_text() + "# edited after the build\n")
    assert verify_json("build-record.json", cwd=tmp_path)[0] == 1
    code, out = verify_json("git:HEAD", cwd=tmp_path)
    assert (code, out["verdict"]) == (0, "AVAILABLE"), out
    code, out = verify_json("git:HEAD:build-record.json", cwd=tmp_path)
    assert code == 0
    done = cli("verify", "git:nope", cwd=tmp_path)
    assert done.returncode == 2 and "nope" in done.stderr


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    assert cli("verify", "missing.json", cwd=tmp_path).returncode == 2
    (tmp_path / "x.json").write_text("{}")
    assert cli("verify", "x.json", cwd=tmp_path).returncode == 2
    done = cli("verify", "x.json", "--write-mirror", cwd=tmp_path)
    assert done.returncode == 2


# --------------------------------------------------------------------------- mirror images


def test_mirror_image_and_docker_archive(tmp_path: Path) -> None:
    """An image copied through the registry API becomes an OCI layout and a docker-archive."""
    require_tool("docker-registry")
    from support.registry import LocalRegistry, push_index

    from audit.registry.client import RegistryClient
    from audit.registry.reference import parse_reference
    from audit.verify.mirror import Mirror

    registry = LocalRegistry(tmp_path / "registry").start()
    try:
        client = RegistryClient()
        index, per_platform = push_index(
            client,
            registry.host,
            "m/base",
            "1",
            [("linux", "amd64", None), ("linux", "arm64", "v8")],
        )
        ref = parse_reference(f"{registry.host}/m/base:1").with_digest(index)
        mirror = Mirror.open(tmp_path / "mirror", create=True)
        mirror.add_image(client, ref, "linux/amd64")
        mirror.save()
    finally:
        registry.stop()
    reopened = Mirror.open(tmp_path / "mirror")
    assert reopened.images == {index: ref.canonical()}
    assert json.loads((tmp_path / "mirror" / "oci" / "oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"
    }
    (entry,) = json.loads((tmp_path / "mirror" / "oci" / "index.json").read_text())["manifests"]
    assert entry["digest"] == index
    assert reopened.image_missing(index, "linux/amd64") is None
    assert reopened.has_blob(per_platform[("linux", "amd64", None)])
    assert not reopened.has_blob(per_platform[("linux", "arm64", "v8")])  # recorded platform only
    buffer = io.BytesIO()
    config_digest = reopened.docker_archive(index, "linux/amd64", buffer)
    with tarfile.open(fileobj=io.BytesIO(buffer.getvalue())) as archive:
        (manifest,) = json.loads(archive.extractfile("manifest.json").read())
        config = archive.extractfile(manifest["Config"]).read()
        assert "sha256:" + hashlib.sha256(config).hexdigest() == config_digest
        assert len(manifest["Layers"]) == 1 and archive.getmember(manifest["Layers"][0]).size
