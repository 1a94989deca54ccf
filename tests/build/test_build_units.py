"""The parts of `build` that need no Docker: fetch/verify, staging, the context, the CLI's
bad-input and no-Docker exits, Docker endpoint resolution."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from build_helpers import PREFIX, cli, write_project
from support import make_channel
from support.build import add_pip_entry, make_wheel

from audit.artifacts import Artifact, cache_path, fetch_all, fetch_one
from audit.build.materialize import conda_platform, materialize, normalize_prefix, stage_digest
from audit.build.run import (
    BaseImage,
    base_images,
    final_base,
    refuse_unpinned,
    user_context_tar,
)
from audit.core.dockerapi import endpoint
from audit.core.errors import FindingsError, InputError
from audit.inventory import read_inventory

DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, channel_url: str) -> Path:
    """A project locked against the session's fixture channel (treat as read-only)."""
    return write_project(tmp_path_factory.mktemp("locked"), channel_url, None)


def artifact_for(path: Path, **overrides: object) -> Artifact:
    data = path.read_bytes()
    fields: dict[str, object] = {
        "name": "six",
        "version": "1.16.0",
        "platform": "noarch",
        "url": path.as_uri(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "file_name": path.name,
        "size": len(data),
    }
    fields.update(overrides)
    return Artifact(**fields)  # type: ignore[arg-type]


def untar(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as archive:
        return {m.name: m for m in archive.getmembers()}


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read()


# --------------------------------------------------------------------------- fetch


def test_fetch_verifies_and_caches(tmp_path: Path) -> None:
    source = tmp_path / "six-1.16.0-pyh6c4a22f_0.conda"
    source.write_bytes(b"package bytes")
    artifact = artifact_for(source)
    path, cached = fetch_one(artifact, tmp_path / "cache")
    assert not cached and path.read_bytes() == b"package bytes"
    assert path == cache_path(tmp_path / "cache", artifact)
    assert fetch_one(artifact, tmp_path / "cache") == (path, True)


def test_fetch_refuses_a_sha256_mismatch_and_names_the_package(tmp_path: Path) -> None:
    source = tmp_path / "six-1.16.0-pyh6c4a22f_0.conda"
    source.write_bytes(b"tampered")
    artifact = artifact_for(source, sha256="0" * 64, size=None)
    with pytest.raises(FindingsError) as caught:
        fetch_all([artifact], tmp_path / "cache")
    assert "sha256 mismatch for six 1.16.0 (noarch)" in caught.value.one_line()
    assert caught.value.exit_code == 1
    assert not cache_path(tmp_path / "cache", artifact).exists()


def test_fetch_refuses_a_truncated_file_by_size(tmp_path: Path) -> None:
    source = tmp_path / "six-1.16.0-pyh6c4a22f_0.conda"
    source.write_bytes(b"full")
    artifact = artifact_for(source, size=100)
    with pytest.raises(FindingsError, match="size mismatch for six"):
        fetch_one(artifact, tmp_path / "cache")


def test_a_corrupted_cache_entry_is_fetched_again(tmp_path: Path) -> None:
    source = tmp_path / "six-1.16.0-pyh6c4a22f_0.conda"
    source.write_bytes(b"good bytes")
    artifact = artifact_for(source)
    path, _ = fetch_one(artifact, tmp_path / "cache")
    path.write_bytes(b"bit rot")
    again, cached = fetch_one(artifact, tmp_path / "cache")
    assert not cached and again.read_bytes() == b"good bytes"


def test_fetch_over_http_and_a_missing_artifact(tmp_path: Path, serve_dir) -> None:
    (tmp_path / "srv").mkdir()
    source = tmp_path / "srv" / "six-1.16.0-pyh6c4a22f_0.conda"
    source.write_bytes(b"served")
    base = serve_dir(tmp_path / "srv")
    good = artifact_for(source, url=f"{base}/{source.name}")
    gone = artifact_for(source, url=f"{base}/nope.conda", name="gone")
    assert fetch_all([good], tmp_path / "cache")[good.sha256].read_bytes() == b"served"
    with pytest.raises(InputError, match="gone"):
        fetch_all([gone], tmp_path / "cache2")


# --------------------------------------------------------------------------- staging


def test_staged_env_is_deterministic_and_has_no_host_paths(locked: Path, tmp_path: Path) -> None:
    one = materialize(locked / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c1")
    two = materialize(locked / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c2")
    assert one.tar_sha256 == two.tar_sha256
    assert one.tar_path.read_bytes() == two.tar_path.read_bytes()
    members = untar(one.tar_path)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
    assert list(members) == sorted(members)
    root = PREFIX.lstrip("/")  # the tar is the layer: members are the in-image paths
    assert f"{root}/CACHEDIR.TAG" not in members
    assert {"opt", "opt/conda", root} <= set(members)
    data = one.tar_path.read_bytes()
    assert str(tmp_path).encode() not in data
    meta = json.loads(read_member(one.tar_path, f"{root}/conda-meta/six-1.16.0-pyh6c4a22f_0.json"))
    assert "extracted_package_dir" not in meta and "source" not in meta.get("link", {})
    assert meta["url"].endswith("/noarch/six-1.16.0-pyh6c4a22f_0.conda")
    assert meta["url"].startswith("file://") and "artifacts" not in meta["url"]
    assert f'prefix="{PREFIX}"'.encode() in read_member(one.tar_path, f"{root}/bin/python3-config")


def test_stage_cache_is_reused_and_rechecked(locked: Path, tmp_path: Path) -> None:
    lockfile = locked / "conda-lock.yml"
    first = materialize(lockfile, "linux-64", PREFIX, tmp_path / "c")
    assert first.verified and stage_digest(first.tar_path) == first.tar_sha256
    second = materialize(lockfile, "linux-64", PREFIX, tmp_path / "c")
    assert second.cached and not second.verified and second.tar_sha256 == first.tar_sha256
    with first.tar_path.open("r+b") as handle:  # damage the cached stage, same size
        handle.seek(1024)
        handle.write(b"XXXX")
    assert stage_digest(first.tar_path) != first.tar_sha256
    third = materialize(lockfile, "linux-64", PREFIX, tmp_path / "c", reuse_stage=False)
    assert third.verified and stage_digest(third.tar_path) == first.tar_sha256
    with third.tar_path.open("r+b") as handle:  # a truncated stage is not reused at all
        handle.truncate(1024)
    assert not materialize(lockfile, "linux-64", PREFIX, tmp_path / "c").cached


def test_one_pass_staging_gives_what_reading_the_tar_again_gives(
    locked: Path, tmp_path: Path
) -> None:
    """The tree digest and the layer index are made while the tar is written; a second
    read of the tar (what `verify` does with an image) must agree with both."""
    from audit.build.treedigest import tree_digest
    from audit.inventory import scan_layer_file
    from audit.inventory.image import layer_index_to_json
    from audit.inventory.layercache import LayerCache

    project = tmp_path / "project"
    project.mkdir()
    (project / "conda-lock.yml").write_bytes((locked / "conda-lock.yml").read_bytes())
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    add_pip_entry(project / "conda-lock.yml", make_wheel(wheels), make_wheel(wheels).as_uri())
    staged = materialize(project / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c")
    with staged.tar_path.open("rb") as handle:
        assert staged.tree_digest == tree_digest(handle, PREFIX)
    kept = LayerCache(tmp_path / "c").get(staged.diff_id)
    assert kept is not None, "the environment layer's index is kept when it is staged"
    scanned = layer_index_to_json(scan_layer_file(staged.tar_path, "tar"))
    assert layer_index_to_json(kept) == scanned
    assert any(name.endswith("tinywheel-1.0.dist-info/METADATA") for name, *_ in scanned["files"])
    assert any("/conda-meta/" in name for name, *_ in scanned["files"])


def test_an_installed_wheel_is_linked_into_later_stages_and_an_edited_tree_unpacked_again(
    locked: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conda-lock.yml").write_bytes((locked / "conda-lock.yml").read_bytes())
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels)
    add_pip_entry(project / "conda-lock.yml", wheel, wheel.as_uri())
    lockfile, cache = project / "conda-lock.yml", tmp_path / "c"
    said: list[str] = []

    def say(_phase: str, message: str) -> None:
        said.append(message)

    first = materialize(lockfile, "linux-64", PREFIX, cache, progress=say)
    assert any("unpacked" in m and "tinywheel" in m for m in said), said
    expected = first.tar_path.read_bytes()
    said.clear()
    again = materialize(lockfile, "linux-64", PREFIX, cache, progress=say, reuse_stage=False)
    assert any("linked from the installed-wheel cache" in m for m in said), said
    assert again.tar_path.read_bytes() == expected
    # an edit in the kept tree (through any link) is seen, and the wheel is unpacked again
    (kept,) = (cache / "wheel-trees").glob("*/*/tree/lib/python3.11/site-packages/tinywheel")
    (kept / "__init__.py").write_text("VALUE = 43\n")
    said.clear()
    third = materialize(lockfile, "linux-64", PREFIX, cache, progress=say, reuse_stage=False)
    assert any("unpacked" in m and "tinywheel" in m for m in said), said
    assert third.tar_path.read_bytes() == expected


def test_source_date_epoch_sets_every_mtime(locked: Path, tmp_path: Path) -> None:
    staged = materialize(
        locked / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c", epoch=1_700_000_000
    )
    assert {m.mtime for m in untar(staged.tar_path).values()} == {1_700_000_000}


def test_lock_without_the_platform_is_bad_input(locked: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no platform linux-aarch64") as caught:
        materialize(locked / "conda-lock.yml", "linux-aarch64", PREFIX, tmp_path / "c")
    assert caught.value.exit_code == 2


def test_tampered_channel_installs_nothing(tmp_path: Path) -> None:
    channel = make_channel.build_channel(tmp_path / "channel")
    project = write_project(tmp_path / "project", channel.as_uri(), None)
    make_channel.build_channel(channel, tamper="six-1.16.0-pyh6c4a22f_0.conda")
    with pytest.raises(FindingsError, match=r"sha256 mismatch for six 1\.16\.0 \(noarch\)"):
        materialize(project / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c")
    assert not list((tmp_path / "c").glob("stages/*.tar"))
    assert not (tmp_path / "c" / "rattler-pkgs").exists()


def test_locked_wheels_are_installed_with_installer(locked: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conda-lock.yml").write_bytes((locked / "conda-lock.yml").read_bytes())
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels)
    add_pip_entry(project / "conda-lock.yml", wheel, wheel.as_uri())
    staged = materialize(project / "conda-lock.yml", "linux-64", PREFIX, tmp_path / "c")
    assert [w["name"] for w in staged.pip] == ["tinywheel"]
    root = PREFIX.lstrip("/")
    site = f"{root}/lib/python3.11/site-packages"
    assert read_member(staged.tar_path, f"{site}/tinywheel/__init__.py") == b"VALUE = 42\n"
    assert read_member(staged.tar_path, f"{site}/tinywheel-1.0.dist-info/INSTALLER") == b"pip\n"
    script = read_member(staged.tar_path, f"{root}/bin/tinywheel")
    assert script.startswith(f"#!{PREFIX}/bin/python".encode())
    assert untar(staged.tar_path)[f"{root}/bin/tinywheel"].mode == 0o755

    # the staged prefix inventories as the lock's conda packages plus the pip wheel
    with tarfile.open(staged.tar_path) as archive:
        archive.extractall(tmp_path / "out", filter="tar")
    inventory = read_inventory(str(tmp_path / "out" / root))
    pip = [p for p in inventory.packages if p.manager == "pip"]
    assert [(p.name, p.version, p.installer) for p in pip] == [("tinywheel", "1.0", "pip")]

    # a wheel that is not the locked one is refused before anything is installed
    make_wheel(wheels, version="1.0").write_bytes(wheel.read_bytes() + b"junk")
    with pytest.raises(FindingsError, match="sha256 mismatch for tinywheel 1.0"):
        materialize(project / "conda-lock.yml", "linux-64", "/opt/other", tmp_path / "c2")


# --------------------------------------------------------------------------- small parts


def test_platforms_and_prefixes() -> None:
    assert conda_platform("linux/amd64") == "linux-64"
    assert conda_platform("linux/arm64") == "linux-aarch64"
    assert conda_platform("linux-aarch64") == "linux-aarch64"
    with pytest.raises(InputError):
        conda_platform("windows/amd64")
    assert normalize_prefix("/opt/conda/envs/app/") == "/opt/conda/envs/app"
    for bad in ("relative/env", "/", "/opt/../.."):
        with pytest.raises(InputError):
            normalize_prefix(bad)


def test_unpinned_images_are_a_finding_with_file_and_line() -> None:
    text = f"FROM python:3.11 AS b\nCOPY --from=alpine@{DIGEST} / /\nFROM b\n"
    images = base_images(text, "Dockerfile")
    with pytest.raises(FindingsError) as caught:
        refuse_unpinned(images, allow=False)
    assert "Dockerfile:1" in caught.value.one_line()
    assert "repro-audit pin" in caught.value.one_line()
    assert [i.where for i in refuse_unpinned(images, allow=True)] == ["Dockerfile:1"]


def test_final_base_follows_stage_names() -> None:
    text = f"FROM reg.example/base@{DIGEST} AS base\nFROM scratch AS other\nFROM base\n"
    base = final_base(text, base_images(text, "Dockerfile"))
    assert isinstance(base, BaseImage) and base.digest == DIGEST
    assert final_base("FROM scratch\n", []) is None


def test_final_config_appends_the_environment_layer(tmp_path: Path) -> None:
    from audit.build.envlayer import final_config
    from audit.build.materialize import StagedEnv

    staged = StagedEnv(tmp_path / "t.tar", "ab" * 32, "linux-64", "/opt/env")
    config = {
        "created": "2026-01-01T10:00:00.123Z",
        "config": {"Env": ["PATH=/bin", "A=1"], "Labels": {"keep": "1"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
        "history": [{"created": "2020-01-01T00:00:00Z"}, {"created": "2026-01-01T10:00:00Z"}],
    }
    out = final_config(config, staged, {"k": 'a "q" $x'}, 7, inherited=1)
    assert out["rootfs"]["diff_ids"] == ["sha256:" + "0" * 64, "sha256:" + "ab" * 32]
    assert out["config"]["Env"] == ["A=1", "PATH=/opt/env/bin:/bin", "CONDA_PREFIX=/opt/env"]
    assert out["config"]["Labels"] == {"keep": "1", "k": 'a "q" $x'}
    assert [h["created"] for h in out["history"]] == [
        "2020-01-01T00:00:00Z",
        "1970-01-01T00:00:07Z",
        "1970-01-01T00:00:07Z",
    ]
    assert "/opt/env" in out["history"][-1]["created_by"]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "0" * 64]  # input untouched
    labelled = final_config(config, None, {"k": "v"}, 7, inherited=None)
    assert labelled["rootfs"] == config["rootfs"] and labelled["created"] == config["created"]


def test_user_context_is_normalised_and_honours_dockerignore(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "sub").mkdir(parents=True)
    (context / "sub" / "b.txt").write_text("b")
    (context / "a.txt").write_text("a")
    (context / "secret.txt").write_text("s")
    (context / ".dockerignore").write_text("# comment\nsecret.txt\n")
    (context / "build-record.json").write_text("{}")
    out = io.BytesIO()
    user_context_tar(context, "FROM x\n", "Dockerfile", 7, out, frozenset({"build-record.json"}))
    out.seek(0)
    with tarfile.open(fileobj=out) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert "secret.txt" not in names and "build-record.json" not in names
    assert "Dockerfile" in names
    assert {"a.txt", "sub", "sub/b.txt", ".dockerignore"} <= set(names)
    assert {m.mtime for m in members} == {7} and {m.uid for m in members} == {0}


def docker_config_with_context(directory: Path, name: str, host: str) -> Path:
    """A DOCKER_CONFIG whose current context `name` points at `host` (docker's layout)."""
    meta = directory / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"currentContext": name}))
    endpoint = {"Host": host, "SkipTLSVerify": False}
    document = {"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}}
    (meta / "meta.json").write_text(json.dumps(document))
    return directory


def test_docker_context_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = docker_config_with_context(tmp_path / "cfg", "remote-engine", "tcp://127.0.0.1:1")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    assert endpoint().host == "tcp://127.0.0.1:1"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert endpoint().host == "tcp://10.0.0.1:2375"


# --------------------------------------------------------------------------- CLI exits


def _pinned_project(locked: Path, tmp_path: Path) -> Path:
    project = tmp_path / "p"
    project.mkdir()
    for name in ("conda-lock.yml", "environment.yml"):
        (project / name).write_bytes((locked / name).read_bytes())
    (project / "Dockerfile").write_text(f"FROM busybox@{DIGEST}\n")
    return project


def test_docker_not_running_is_exit_3(locked: Path, tmp_path: Path) -> None:
    project = _pinned_project(locked, tmp_path)
    done = cli("build", "-t", "x:1", cwd=project, env={"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert done.returncode == 3, done.stderr
    assert "Docker is not reachable at tcp://127.0.0.1:1" in done.stderr
    assert "start dockerd" in done.stderr
    assert "Traceback" not in done.stderr


def test_docker_context_is_honoured(locked: Path, tmp_path: Path) -> None:
    project = _pinned_project(locked, tmp_path)
    config = docker_config_with_context(tmp_path / "cfg", "remote", "tcp://127.0.0.1:1")
    env = {"DOCKER_HOST": "", "DOCKER_CONFIG": str(config)}
    done = cli("build", "-t", "x:1", cwd=project, env=env)
    assert done.returncode == 3, done.stderr
    assert "Docker is not reachable at tcp://127.0.0.1:1" in done.stderr
    done = cli("build", "-t", "x:1", cwd=project, env={**env, "DOCKER_CONTEXT": "nope"})
    assert done.returncode == 2 and "nope" in done.stderr


def test_bad_inputs_are_exit_2(locked: Path, tmp_path: Path) -> None:
    project = _pinned_project(locked, tmp_path)
    assert cli("build", "--lockfile", "missing.yml", cwd=project).returncode == 2
    (project / "Dockerfile").unlink()
    done = cli("build", cwd=project)
    assert done.returncode == 2 and "no such Dockerfile" in done.stderr
    done = cli("build", "--base", f"busybox@{DIGEST}", "-f", "Dockerfile", cwd=project)
    assert done.returncode == 2


def test_final_config_sets_the_locks_variables_as_env() -> None:
    """environment.yml's `variables:` reach the image as ENV, over any the base had."""
    from audit.build.envlayer import final_config

    config = {"config": {"Env": ["PATH=/usr/bin", "MY_FLAG=old", "KEEP=1"]}, "rootfs": {}}
    out = final_config(config, None, {"l": "v"}, 0, None, {"MY_FLAG": "1", "OTHER": "a b"})
    assert out["config"]["Env"] == ["PATH=/usr/bin", "KEEP=1", "MY_FLAG=1", "OTHER=a b"]
    assert out["config"]["Labels"] == {"l": "v"}
    assert final_config(config, None, {}, 0, None)["config"]["Env"] == config["config"]["Env"]


def test_stage_is_found_by_the_lock_text_and_any_edit_parses_again(
    locked: Path, tmp_path: Path
) -> None:
    lockfile = tmp_path / "conda-lock.yml"
    lockfile.write_bytes((locked / "conda-lock.yml").read_bytes())
    cache, said = tmp_path / "c", []
    first = materialize(lockfile, "linux-64", PREFIX, cache)

    def say(phase: str, message: str) -> None:
        said.append(message)

    again = materialize(lockfile, "linux-64", PREFIX, cache, progress=say)
    assert again.cached and "staged before from the same lock" in " ".join(said)
    assert not any(m.startswith("linux-64 from") for m in said)  # the lock was not parsed
    assert (again.tar_sha256, again.conda, again.pip) == (first.tar_sha256, first.conda, first.pip)
    said.clear()
    lockfile.write_bytes(lockfile.read_bytes() + b"# an edit\n")
    edited = materialize(lockfile, "linux-64", PREFIX, cache, progress=say)
    assert any(m.startswith("linux-64 from") for m in said)  # parsed again
    assert edited.cached and edited.tar_sha256 == first.tar_sha256  # same records: same stage
    said.clear()
    other = materialize(lockfile, "linux-64", "/opt/conda/envs/other", cache, progress=say)
    assert not other.cached and other.tar_sha256 != first.tar_sha256


def test_context_without_dockerignore_is_what_docker_py_includes(tmp_path: Path) -> None:
    """The walk used when there is no .dockerignore gives docker-py's `exclude_paths` set."""
    from docker.utils.build import exclude_paths

    from audit.build.context import context_paths

    (tmp_path / "src" / "pkg" / "empty").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".hidden").write_text("h\n")
    (tmp_path / "link").symlink_to("src")
    (tmp_path / "dangling").symlink_to("nowhere")
    expected = set(exclude_paths(str(tmp_path), [], dockerfile="Dockerfile"))
    assert context_paths(tmp_path, "Dockerfile") == expected
    assert "src/pkg/empty" in expected and "link" in expected
    (tmp_path / ".dockerignore").write_text("src/pkg\n")
    assert "src/pkg/mod.py" not in context_paths(tmp_path, "Dockerfile")
