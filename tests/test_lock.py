"""`repro-audit lock` end to end: real py-rattler against the fixture channel.

CLI tests run `python -m audit` in a subprocess so exit codes and stderr are the real
ones a user sees.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.cli import repro_audit

PLATFORMS = ("linux-64", "osx-arm64", "win-64")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`repro-audit ARGS` in `cwd`, with a cache private to the test."""
    return repro_audit(*args, cwd=cwd, env={"REPRO_AUDIT_CACHE_DIR": str(cwd / ".cache"), **env})


def write_env(
    path: Path, channel: str, deps: list[str], platforms=PLATFORMS, extra: str = ""
) -> Path:
    text = "name: t\nchannels:\n  - " + channel + "\n  - nodefaults\ndependencies:\n"
    text += "".join(f"  - {d}\n" for d in deps)
    if platforms:
        text += "platforms:\n" + "".join(f"  - {p}\n" for p in platforms)
    path.write_text(text + extra)
    return path


BASIC = ["python 3.11.*", "numpy >=1.26", "six", "tzdata", "linux-only-tool  # [linux]"]


@pytest.fixture
def project(tmp_path: Path, channel_url: str) -> Path:
    write_env(tmp_path / "environment.yml", channel_url, BASIC)
    return tmp_path


def packages(lockfile: Path) -> list[dict]:
    return yaml.safe_load(lockfile.read_text())["package"]


def versions(lockfile: Path, platform: str) -> dict[str, str]:
    return {p["name"]: p["version"] for p in packages(lockfile) if p["platform"] == platform}


# --------------------------------------------------------------------------- happy paths


def test_lock_writes_conda_lock_and_explicit_files(project: Path) -> None:
    result = run(["lock"], project)
    assert result.returncode == 0, result.stderr
    lock = project / "conda-lock.yml"
    for platform in PLATFORMS:
        got = versions(lock, platform)
        assert got["python"] == "3.11.9"
        assert got["numpy"] == "2.0.0"  # the newest that fits
        assert got["six"] == "1.16.0"
        assert ("linux-only-tool" in got) == platform.startswith("linux")
        explicit = (project / f"conda-{platform}.lock").read_text().splitlines()
        assert "@EXPLICIT" in explicit
        urls = explicit[explicit.index("@EXPLICIT") + 1 :]
        assert urls and all("#sha256:" in u and len(u.split("#sha256:")[1]) == 64 for u in urls)
        names = [u.rsplit("/", 1)[1].rsplit("-", 2)[0] for u in urls]
        # install order: a package comes after what it depends on
        assert names.index("python_abi") < names.index("python") < names.index("numpy")
        assert sorted(names) == sorted(got)
    meta = yaml.safe_load(lock.read_text())["metadata"]
    assert sorted(meta["content_hash"]) == sorted(PLATFORMS)
    assert meta["sources"] == ["environment.yml"]


def test_explicit_files_are_what_the_written_lock_derives(project: Path) -> None:
    """`lock` renders the explicit files from the records it solved; merge-lock derives
    them from a conda-lock.yml read back. Both must give the same bytes, or a merge would
    rewrite files nobody changed."""
    from audit.lock.explicit import explicit_files

    assert run(["lock"], project).returncode == 0
    lock = project / "conda-lock.yml"
    derived = explicit_files(yaml.safe_load(lock.read_text()), lock)
    assert sorted(p.name for p in derived) == [f"conda-{p}.lock" for p in sorted(PLATFORMS)]
    for path, text in derived.items():
        assert path.read_text() == text, path.name


def test_lock_reads_back_with_conda_lock_and_rattler(project: Path) -> None:
    assert run(["lock"], project).returncode == 0
    from conda_lock.lockfile import parse_conda_lock_file
    from rattler import LockFile

    parsed = parse_conda_lock_file(project / "conda-lock.yml")
    assert sorted(parsed.metadata.platforms) == sorted(PLATFORMS)
    assert {p.name for p in parsed.package} >= {"python", "numpy", "six", "tzdata"}
    env = LockFile.from_path(project / "conda-lock.yml").default_environment()
    by_platform = {str(p.name): p for p in env.platforms()}
    records = env.conda_repodata_records_for_platform(by_platform["linux-64"])
    assert {r.name.normalized for r in records} == set(
        versions(project / "conda-lock.yml", "linux-64")
    )


def test_lock_content_hash_matches_conda_lock(project: Path) -> None:
    """Our content hash is conda-lock's, so `conda-lock --check-input-hash` agrees."""
    assert run(["lock"], project).returncode == 0
    from conda_lock.content_hash import compute_content_hashes
    from conda_lock.src_parser import make_lock_spec
    from conda_lock.virtual_package import default_virtual_package_repodata

    from audit.envfile.spec import MAPPING_PATH

    spec = make_lock_spec(src_files=[project / "environment.yml"], mapping_url=str(MAPPING_PATH))
    expected = compute_content_hashes(spec, default_virtual_package_repodata(cuda_version=""))
    meta = yaml.safe_load((project / "conda-lock.yml").read_text())["metadata"]
    assert meta["content_hash"] == expected


def test_lock_over_http_channel(tmp_path: Path, http_channel: str) -> None:
    write_env(tmp_path / "environment.yml", http_channel, ["python 3.12.*", "numpy"], ["linux-64"])
    result = run(["lock"], tmp_path)
    assert result.returncode == 0, result.stderr
    entries = packages(tmp_path / "conda-lock.yml")
    assert all(p["url"].startswith(http_channel + "/") for p in entries)
    assert versions(tmp_path / "conda-lock.yml", "linux-64")["python"] == "3.12.4"


def test_lock_is_deterministic(tmp_path: Path, channel_url: str) -> None:
    outputs = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        write_env(d / "environment.yml", channel_url, BASIC)
        assert run(["lock"], d).returncode == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(d.glob("conda-*"))})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 4


def test_unchanged_inputs_do_not_solve_or_rewrite(project: Path) -> None:
    assert run(["lock"], project).returncode == 0
    lock = project / "conda-lock.yml"
    before = lock.stat().st_mtime_ns, lock.read_bytes()
    again = run(["lock"], project)
    assert again.returncode == 0
    assert "current" in again.stderr
    assert (lock.stat().st_mtime_ns, lock.read_bytes()) == before
    # a comment-only edit changes the bytes but not the content hash: still current
    env = project / "environment.yml"
    env.write_text("# a comment\n" + env.read_text())
    third = run(["lock"], project)
    assert third.returncode == 0 and "current" in third.stderr
    assert lock.read_bytes() == before[1]


def test_check_exit_codes_and_never_writes(project: Path) -> None:
    missing = run(["lock", "--check"], project)
    assert missing.returncode == 1
    assert "no lockfile" in missing.stderr
    assert not (project / "conda-lock.yml").exists()
    assert run(["lock"], project).returncode == 0
    assert run(["lock", "--check"], project).returncode == 0
    env = project / "environment.yml"
    env.write_text(env.read_text().replace("  - six\n", "  - six >=1.16\n"))
    before = (project / "conda-lock.yml").read_bytes()
    stale = run(["lock", "--check", "--json"], project)
    assert stale.returncode == 1
    report = json.loads(stale.stdout)
    assert report["status"] == "stale"
    assert set(report["stale"]) == set(PLATFORMS)
    assert (project / "conda-lock.yml").read_bytes() == before
    # a missing explicit file is stale too
    assert run(["lock"], project).returncode == 0
    (project / "conda-win-64.lock").unlink()
    assert run(["lock", "--check"], project).returncode == 1


def test_check_reports_missing_platform(project: Path) -> None:
    assert run(["lock"], project).returncode == 0
    result = run(["lock", "--check", "-p", "linux-64", "-p", "osx-64", "--json"], project)
    assert result.returncode == 1
    stale = json.loads(result.stdout)["stale"]
    assert stale["osx-64"] == "platform missing from the lock"


def test_update_keeps_other_packages(project: Path, newer_channel_dir: Path) -> None:
    assert run(["lock"], project).returncode == 0
    old = versions(project / "conda-lock.yml", "linux-64")
    # months later the channel has numpy 2.1.0, six 1.17.0, tzdata 2025a
    newer = newer_channel_dir.as_uri()
    result = run(["lock", "-c", newer, "--update", "numpy", "--json"], project)
    assert result.returncode == 0, result.stderr
    new = versions(project / "conda-lock.yml", "linux-64")
    assert new["numpy"] == "2.1.0"
    assert new["six"] == old["six"] == "1.16.0"
    assert new["tzdata"] == old["tzdata"] == "2024a"
    changes = json.loads(result.stdout)["changes"]
    assert {(c["platform"], c["name"]) for c in changes} == {(p, "numpy") for p in PLATFORMS}
    assert all(c["new"].startswith("2.1.0-") for c in changes)
    # unchanged inputs are current; --force re-solves and moves everything
    current = run(["lock", "-c", newer], project)
    assert current.returncode == 0 and "current" in current.stderr
    fresh = run(["lock", "-c", newer, "--force"], project)
    assert fresh.returncode == 0
    assert versions(project / "conda-lock.yml", "linux-64")["six"] == "1.17.0"


def test_update_unknown_package_is_an_error(project: Path) -> None:
    assert run(["lock"], project).returncode == 0
    result = run(["lock", "--update", "nosuchpkg"], project)
    assert result.returncode == 2
    assert "nosuchpkg" in result.stderr and "not in the lock" in result.stderr


def test_channel_package_spec_and_selectors(tmp_path: Path, channel_dir: Path) -> None:
    url = channel_dir.as_uri()
    deps = [f"{url}::six 1.15.*", "python 3.12.*", "osx-only-tool  # [osx]"]
    write_env(tmp_path / "environment.yml", url, deps, ["linux-64", "osx-arm64"])
    assert run(["lock"], tmp_path).returncode == 0
    assert versions(tmp_path / "conda-lock.yml", "linux-64")["six"] == "1.15.0"
    assert "osx-only-tool" in versions(tmp_path / "conda-lock.yml", "osx-arm64")
    assert "osx-only-tool" not in versions(tmp_path / "conda-lock.yml", "linux-64")


def test_local_path_channel_relative_to_environment(tmp_path: Path, channel_dir: Path) -> None:
    import shutil

    shutil.copytree(channel_dir, tmp_path / "proj" / "channel")
    write_env(tmp_path / "proj" / "environment.yml", "./channel", ["six"], ["linux-64"])
    result = run(
        ["lock", "-f", "proj/environment.yml", "--lockfile", "proj/conda-lock.yml"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert versions(tmp_path / "proj" / "conda-lock.yml", "linux-64")["six"] == "1.16.0"
    meta = yaml.safe_load((tmp_path / "proj" / "conda-lock.yml").read_text())["metadata"]
    assert meta["channels"][0]["url"] == "./channel"


def test_several_files_are_merged(tmp_path: Path, channel_url: str) -> None:
    write_env(tmp_path / "base.yml", channel_url, ["python 3.11.*"], ["linux-64"])
    write_env(tmp_path / "extra.yml", channel_url, ["six 1.15.*"], None)
    result = run(["lock", "-f", "base.yml", "-f", "extra.yml"], tmp_path)
    assert result.returncode == 0, result.stderr
    got = versions(tmp_path / "conda-lock.yml", "linux-64")
    assert got["python"] == "3.11.9" and got["six"] == "1.15.0"
    assert yaml.safe_load((tmp_path / "conda-lock.yml").read_text())["metadata"]["sources"] == [
        "base.yml",
        "extra.yml",
    ]


def test_default_platforms_without_platforms_key(tmp_path: Path, channel_url: str) -> None:
    write_env(tmp_path / "environment.yml", channel_url, ["six"], None)
    assert run(["lock"], tmp_path).returncode == 0
    meta = yaml.safe_load((tmp_path / "conda-lock.yml").read_text())["metadata"]
    assert meta["platforms"] == ["linux-64", "osx-64", "osx-arm64", "win-64"]


def test_virtual_packages_cuda(tmp_path: Path, channel_url: str) -> None:
    write_env(tmp_path / "environment.yml", channel_url, ["cuda-runtime-lite"], ["linux-64"])
    without = run(["lock"], tmp_path)
    assert without.returncode == 2
    assert "linux-64" in without.stderr and "cuda" in without.stderr
    assert not (tmp_path / "conda-lock.yml").exists()
    with_cuda = run(["lock", "--with-cuda", "12.2"], tmp_path)
    assert with_cuda.returncode == 0, with_cuda.stderr
    assert "cuda-runtime-lite" in versions(tmp_path / "conda-lock.yml", "linux-64")


def test_virtual_packages_file(tmp_path: Path, channel_url: str) -> None:
    write_env(tmp_path / "environment.yml", channel_url, ["linux-only-tool"], ["linux-64"])
    (tmp_path / "vp.yml").write_text(
        "subdirs:\n  linux-64:\n    packages:\n      __glibc: '2.17'\n      __unix: '0'\n"
    )
    old_glibc = run(["lock", "--virtual-packages", "vp.yml"], tmp_path)
    assert old_glibc.returncode == 2  # linux-only-tool needs __glibc >=2.28
    (tmp_path / "vp.yml").write_text(
        "subdirs:\n  linux-64:\n    packages:\n      __glibc: '2.31'\n      __unix: '0'\n"
    )
    assert run(["lock", "--virtual-packages", "vp.yml"], tmp_path).returncode == 0


def test_json_summary(project: Path) -> None:
    result = run(["lock", "--json", "-p", "linux-64"], project)
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    assert summary["status"] == "written"
    assert summary["counts"]["linux-64"]["conda"] == len(
        versions(project / "conda-lock.yml", "linux-64")
    )
    assert summary["written"] == ["conda-lock.yml", "conda-linux-64.lock"]


# --------------------------------------------------------------------------- credentials


def _no_secret_anywhere(directory: Path, secret: str, *outputs: str) -> None:
    for path in directory.glob("conda-*"):
        assert secret not in path.read_text(), path
    for text in outputs:
        assert secret not in text


def test_basic_auth_in_channel_url_is_stripped(
    tmp_path: Path, channel_dir: Path, serve_dir
) -> None:
    url = serve_dir(channel_dir, auth=("alice", "s3cret-pw"))
    authed = url.replace("http://", "http://alice:s3cret-pw@")
    write_env(tmp_path / "environment.yml", authed, ["six"], ["linux-64"])
    result = run(["lock", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    _no_secret_anywhere(tmp_path, "s3cret-pw", result.stdout, result.stderr)
    assert all(p["url"].startswith(url) for p in packages(tmp_path / "conda-lock.yml"))


def test_auth_file_and_env_var_credentials(tmp_path: Path, channel_dir: Path, serve_dir) -> None:
    url = serve_dir(channel_dir, auth=("bob", "hunter2-pw"))
    write_env(tmp_path / "environment.yml", url, ["six"], ["linux-64"])
    denied = run(["lock"], tmp_path)
    assert denied.returncode in (2, 3) and "Traceback" not in denied.stderr
    host = url.split("//", 1)[1]
    (tmp_path / "auth.json").write_text(json.dumps({host: "bob:hunter2-pw"}))
    result = run(["lock", "--auth-file", "auth.json"], tmp_path)
    assert result.returncode == 0, result.stderr
    _no_secret_anywhere(tmp_path, "hunter2-pw", result.stdout, result.stderr)
    # conda-lock's convention: ${VAR} in the channel URL, expanded only for fetching
    (tmp_path / "conda-lock.yml").unlink()
    write_env(
        tmp_path / "environment.yml",
        url.replace("http://", "http://bob:${CHAN_PW}@"),
        ["six"],
        ["linux-64"],
    )
    result = run(["lock"], tmp_path, CHAN_PW="hunter2-pw")
    assert result.returncode == 0, result.stderr
    _no_secret_anywhere(tmp_path, "hunter2-pw", result.stdout, result.stderr)


def test_token_in_channel_url_is_stripped(tmp_path: Path, channel_dir: Path, serve_dir) -> None:
    import shutil

    root = tmp_path / "srv"
    shutil.copytree(channel_dir, root / "t" / "tk-8c1f77d2e9" / "chan")
    base = serve_dir(root)
    write_env(tmp_path / "environment.yml", f"{base}/t/tk-8c1f77d2e9/chan", ["six"], ["linux-64"])
    result = run(["lock"], tmp_path)
    assert result.returncode == 0, result.stderr
    _no_secret_anywhere(tmp_path, "tk-8c1f77d2e9", result.stdout, result.stderr)
    assert all(p["url"].startswith(f"{base}/chan/") for p in packages(tmp_path / "conda-lock.yml"))


def test_lock_and_check_leave_no_temp_folders(project: Path, tmp_path: Path) -> None:
    """Nothing a command makes outlives it: conda-lock's fake repodata folder included."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    assert run(["lock"], project, TMPDIR=str(temp)).returncode == 0
    (project / "environment.yml").write_text(
        (project / "environment.yml").read_text().replace("  - six\n", "")
    )
    assert run(["lock", "--check"], project, TMPDIR=str(temp)).returncode == 1
    assert sorted(p.name for p in temp.iterdir()) == []
