"""conda-lock.yml → a staged conda prefix whose files say the in-image prefix, as a tar.

The staged environment is what becomes the image's environment layer, so it must be a
pure function of the lock, the platform and the prefix:

1. every artifact (conda packages, pip wheels) is fetched and verified against the lock
   (`audit.artifacts`) before anything is installed;
2. rattler installs the conda packages from those verified files only (records point at
   the cache as `file://`), with `alternative_target_prefix` and no link scripts;
3. `conda-meta/*.json` lose rattler's host paths, get the locked URL back and take the
   package metadata from each artifact's own `info/index.json` (a lock that disagrees
   with its artifact is refused: `audit.build.artifactmeta`);
4. the locked wheels are installed with PyPA `installer` (INSTALLER=pip, shebangs naming
   the in-image prefix);
5. the tree is written as a tar with fixed mtimes, owners and modes, sorted, as
   `<prefix>/…` with the prefix's parent directories: that tar is the image layer itself
   (`audit.build.envlayer`), so its sha256 is the environment layer's diff_id.

The tar is cached under the cache dir by a key over all of that; a cached tar is used
only if it still hashes to what was recorded when it was made.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from audit import __version__
from audit.artifacts import Artifact, fetch_all
from audit.build.wheels import install_wheels
from audit.core.errors import InfrastructureError, InputError, ReproAuditError
from audit.core.fs import (
    atomic_write_text,
    out_of_space,
    scratch_dir,
    sha256_file,
    write_error,
)
from audit.core.progress import Meter
from audit.core.redact import redact_url
from audit.core.tempdirs import sweep_stale_cache
from audit.lockfile.vcs import is_vcs, parse_vcs_url

if TYPE_CHECKING:
    from rattler import RepoDataRecord

#: Bump when the staged tree for the same lock changes (part of the stage cache key).
STAGE_FORMAT = "2"
#: conda subdirs an image can have, and their OCI platforms.
CONDA_TO_OCI = {"linux-64": "linux/amd64", "linux-aarch64": "linux/arm64"}
OCI_TO_CONDA = {v: k for k, v in CONDA_TO_OCI.items()}
OCI_TO_CONDA.update(
    {
        "linux/x86_64": "linux-64",
        "linux/aarch64": "linux-aarch64",
        "linux/arm64/v8": "linux-aarch64",
    }
)
#: Keys of rattler's conda-meta records that hold host paths of its package cache.
HOST_PATH_KEYS = ("extracted_package_dir", "package_tarball_full_path")


def conda_platform(platform: str) -> str:
    """`linux/amd64` or `linux-64` → `linux-64`; anything but Linux amd64/arm64 is exit 2."""
    if platform in CONDA_TO_OCI:
        return platform
    if platform in OCI_TO_CONDA:
        return OCI_TO_CONDA[platform]
    raise InputError(
        f"unsupported image platform {platform!r}",
        hint="use linux/amd64 (linux-64) or linux/arm64 (linux-aarch64)",
    )


@dataclass
class StagedEnv:
    """The environment as a deterministic tar, plus what went into it."""

    tar_path: Path
    tar_sha256: str
    platform: str
    prefix: str
    conda: list[dict[str, str]] = field(default_factory=list)
    pip: list[dict[str, str]] = field(default_factory=list)
    cached: bool = False
    fetched: int = 0
    #: Content hash of the tree (audit.build.treedigest), computed once when staged.
    tree_digest: str = ""

    @property
    def diff_id(self) -> str:
        """The staged tar is the environment layer: its sha256 is the layer's diff_id."""
        return f"sha256:{self.tar_sha256}"

    @property
    def verified(self) -> bool:
        """Built in this run from verified artifacts (a cached stage still needs a check)."""
        return not self.cached


@dataclass(frozen=True)
class PipWheel:
    name: str
    version: str
    url: str
    sha256: str
    #: for a wheel built here from a VCS entry: the locked `git+…@<sha>` URL
    source: str = ""

    @property
    def file_name(self) -> str:
        return posixpath.basename(urllib.parse.urlparse(self.url).path)


# --------------------------------------------------------------------------- lock reading


def lock_platforms(lockfile: Path) -> tuple[str, ...]:
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(lockfile)
    if meta is None:
        raise InputError("no such lockfile", where=str(lockfile), hint="run `repro-audit lock`")
    from audit.core.credentials import register_urls

    register_urls(meta.channels)  # `${VAR}` channels: credentials for the artifacts
    return meta.platforms


def read_pip_wheels(lockfile: Path, platform: str) -> list[PipWheel]:
    """The `manager: pip` entries of one platform (conda-lock v1 keeps url + sha256)."""
    from audit.inventory.condalock import CondaLockSource

    wheels = []
    for inventory in CondaLockSource(str(lockfile), lockfile.read_bytes()).read():
        if inventory.platform != platform:
            continue
        for package in inventory.packages:
            if package.manager != "pip":
                continue
            if not package.url or not (package.sha256 or is_vcs(package.url)):
                raise InputError(
                    f"pip package {package.name} has no url or sha256 in the lock",
                    where=str(lockfile),
                )
            wheels.append(PipWheel(package.name, package.version, package.url, package.sha256))
    return wheels


def lock_artifact(record: RepoDataRecord) -> Artifact:
    if not record.sha256:
        raise InputError(f"{record.name.normalized} {record.version} has no sha256 in the lock")
    return Artifact(
        name=record.name.normalized,
        version=str(record.version),
        platform=record.subdir or "",
        url=record.url,
        sha256=record.sha256.hex(),
        file_name=record.file_name,
        size=record.size or None,
    )


def wheel_artifact(wheel: PipWheel, platform: str) -> Artifact:
    if not wheel.file_name.endswith(".whl"):
        raise InputError(f"pip package {wheel.name}: {wheel.file_name} is not a wheel")
    return Artifact(wheel.name, wheel.version, platform, wheel.url, wheel.sha256, wheel.file_name)


def channel_of(url: str) -> str:
    """`…/channel/subdir/file.conda` → `…/channel`, redacted."""
    return redact_url(url.rsplit("/", 2)[0]) if url.count("/") >= 4 else ""


# --------------------------------------------------------------------------- VCS pip entries


def vcs_wheel(wheel: PipWheel, cache_dir: Path, say: Callable[[str, str], None]) -> PipWheel:
    """The wheel of a `git+…@<sha>` entry, built once from that commit, cached by the commit.

    The lock has no hash for it (the commit is the hash); the wheel built here is hashed,
    and that sha256 is what the stage, the record and `verify` then hold it to.
    """
    vcs = parse_vcs_url(wheel.url)
    if vcs is None or not vcs.pinned:
        raise InputError(
            f"pip package {wheel.name}: {redact_url(wheel.url)} is not pinned to a commit sha",
            hint="run `repro-audit lock` (it locks a VCS requirement to its commit)",
        )
    out = Path(cache_dir) / "vcs-wheels" / vcs.ref
    found = sorted(out.glob("*.whl")) if out.is_dir() else []
    if not found:
        say("building", f"wheel of {wheel.name} from {redact_url(wheel.url)}")
        found = [_build_at_commit(vcs.remote, vcs.ref, wheel, out)]
    digest, _ = sha256_file(found[0])
    return PipWheel(wheel.name, wheel.version, found[0].as_uri(), digest, source=wheel.url)


def _build_at_commit(remote: str, commit: str, wheel: PipWheel, out: Path) -> Path:
    """`uv build --wheel` of a clean export of `commit`; the wheel moved into `out`."""
    import io
    import subprocess
    import sys

    from uv import find_uv_bin

    from audit.core.git import run_git
    from audit.lockfile.vcs import fetch_commit

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".vcs-build-", dir=out.parent) as tmp:
        repo, src, dist = Path(tmp) / "repo.git", Path(tmp) / "src", Path(tmp) / "dist"
        why = fetch_commit(remote, commit, repo)
        if why is not None:
            raise InputError(f"pip package {wheel.name}: cannot fetch {commit}: {why}")
        archive = run_git(["archive", "--format=tar", commit], cwd=repo)
        src.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(src, filter="data")
        env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
        cmd = [find_uv_bin(), "build", "--wheel", "--out-dir", str(dist), "--no-config"]
        cmd += ["--python", sys.executable, "--color", "never", str(src)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        built = sorted(dist.glob("*.whl")) if done.returncode == 0 else []
        if len(built) != 1:
            last = (done.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise InputError(
                f"building pip package {wheel.name} at {commit} failed: {redact_url(last)}"
            )
        if f"-{wheel.version}-" not in built[0].name:
            raise InputError(
                f"pip package {wheel.name} at {commit} builds {built[0].name},"
                f" not version {wheel.version} as locked"
            )
        staged = Path(tmp) / "out"
        staged.mkdir()
        shutil.move(str(built[0]), staged / built[0].name)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(staged, out)
    return out / built[0].name


# --------------------------------------------------------------------------- staging


def stage_key(
    artifacts: list[Artifact],
    platform: str,
    prefix: str,
    epoch: int,
    records: list[RepoDataRecord] | None = None,
) -> str:
    """Everything written into the layer: artifacts, locked records, platform, prefix, epoch.

    The records (name, version, build, depends, url, … as the lock states them) count
    too: what conda-meta says must never come from a stage made for another lock text.
    """
    body = json.dumps(
        {
            "format": STAGE_FORMAT,
            "tool": __version__,
            "platform": platform,
            "prefix": prefix,
            "epoch": epoch,
            "artifacts": [[a.sha256, a.file_name, redact_url(a.url)] for a in artifacts],
            "records": [hashlib.sha256(r.to_json().encode()).hexdigest() for r in (records or [])],
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def materialize(
    lockfile: Path,
    platform: str,
    prefix: str,
    cache_dir: Path,
    *,
    epoch: int = 0,
    progress: Callable[[str, str], None] | None = None,
    reuse_stage: bool = True,
) -> StagedEnv:
    """Verify, stage and tar the locked environment of `platform` for `prefix`.

    With `reuse_stage`, a tar staged before from the same lock records and artifacts is
    returned without reading any artifact (`verified=False`): dockerd checks its digest
    as the layer's diff_id when it is loaded, and `build` calls again with
    `reuse_stage=False` when it does not match.
    """
    say = progress or (lambda _phase, _msg: None)
    prefix = normalize_prefix(prefix)
    sweep_stale_cache(cache_dir)  # what a killed build left: gigabytes for a real env
    stages = Path(cache_dir) / "stages"
    by_lock = stages / "by-lock" / lock_text_key(lockfile, platform, prefix, epoch)
    if reuse_stage and (found := _staged_for_lock(by_lock, stages, platform, prefix)):
        say("installing", "environment unchanged: staged before from the same lock")
        return found
    locked = _read_locked(lockfile, platform, say, cache_dir)
    key = stage_key(locked.artifacts, platform, prefix, epoch, locked.records)
    tar_path, meta_path = stages / f"{key}.tar", stages / f"{key}.json"
    conda, pip = locked.summaries()
    _remember_for_lock(by_lock, key, conda, pip)
    cached = _cached_tar(tar_path, meta_path) if reuse_stage else None
    if cached is not None:
        say("installing", "environment unchanged: staged before from the same artifacts")
        return StagedEnv(
            tar_path, cached[0], platform, prefix, conda, pip, cached=True, tree_digest=cached[1]
        )
    fetched, digest, tree = _stage(locked, platform, prefix, cache_dir, epoch, tar_path, say)
    meta = {"sha256": digest, "key": key, "size": tar_path.stat().st_size, "tree": tree}
    atomic_write_text(meta_path, json.dumps(meta, sort_keys=True))
    return StagedEnv(
        tar_path, digest, platform, prefix, conda, pip, fetched=fetched, tree_digest=tree
    )


@dataclass
class _Locked:
    """One platform of the lock: its conda records, pip wheels and their artifacts."""

    records: list[Any]
    wheels: list[PipWheel]
    artifacts: list[Artifact]

    def summaries(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        conda = [
            {
                "name": r.name.normalized,
                "version": str(r.version),
                "build": str(r.build),
                "sha256": r.sha256.hex(),
                "url": redact_url(r.url),
            }
            for r in self.records
        ]
        pip = [
            {
                "name": w.name,
                "version": w.version,
                "sha256": w.sha256,
                "url": redact_url(w.source or w.url),
                **({"built_from_source": redact_url(w.source)} if w.source else {}),
            }
            for w in self.wheels
        ]
        return conda, pip


def _read_locked(
    lockfile: Path, platform: str, say: Callable[[str, str], None], cache_dir: Path
) -> _Locked:
    available = lock_platforms(lockfile)
    if platform not in available:
        raise InputError(
            f"the lock has no platform {platform}",
            where=str(lockfile),
            hint=f"it has {', '.join(available) or 'none'}; run `repro-audit lock -p {platform}`",
        )
    from audit.lockfile.condalock import read_lock_records

    say("resolving", f"{platform} from {lockfile}")
    records = sorted(read_lock_records(lockfile, platform), key=lambda r: r.name.normalized)
    wheels = sorted(read_pip_wheels(lockfile, platform), key=lambda w: w.name)
    wheels = [vcs_wheel(w, cache_dir, say) if is_vcs(w.url) else w for w in wheels]
    artifacts = [lock_artifact(r) for r in records] + [wheel_artifact(w, platform) for w in wheels]
    return _Locked(records, wheels, artifacts)


def _stage(
    locked: _Locked,
    platform: str,
    prefix: str,
    cache_dir: Path,
    epoch: int,
    tar_path: Path,
    say: Callable[[str, str], None],
) -> tuple[int, str, str]:
    """Fetch and verify, check against each artifact, install, tar: (fetched, sha256, tree)."""
    from audit.build.artifactmeta import check_artifacts

    say("fetching", f"{len(locked.artifacts)} artifacts (size and sha256 checked)")
    counter = {"fetched": 0}

    def done(_artifact: Artifact, cached: bool) -> None:
        if not cached:
            counter["fetched"] += 1

    verified = fetch_all(locked.artifacts, cache_dir, on_done=done)
    records, wheels = locked.records, locked.wheels
    indexes = check_artifacts(records, verified)
    say("installing", f"{len(records)} conda packages and {len(wheels)} wheels into {prefix}")
    stages = tar_path.parent
    try:
        stages.mkdir(parents=True, exist_ok=True)
        with scratch_dir("stage-", stages) as tmp:
            stage = tmp / "env"
            _install_conda(records, verified, stage, platform, prefix, cache_dir)
            normalize_conda_meta(stage, {r.file_name: r for r in records}, indexes)
            if wheels:
                install_wheels(wheels, verified, stage, prefix, records, cache_dir, say)
            meter = Meter(say, "staging", "environment layer (sha256 and tree digest)")
            digest, tree = _write_stage_tar(stage, prefix, epoch, tar_path, meter)
            meter.done()
            _remember_layer_index(stage, prefix, digest, cache_dir)
    except OSError as exc:  # a full disk or quota: exit 3 naming the folder; nothing kept
        raise _staging_error(exc, stages) from None
    return counter["fetched"], digest, tree


def _write_stage_tar(
    stage: Path, prefix: str, epoch: int, tar_path: Path, meter: Meter
) -> tuple[str, str]:
    """The layer tar beside `tar_path`, renamed into place only when complete."""
    fd, tmp_tar = tempfile.mkstemp(prefix=".env-", suffix=".tar", dir=tar_path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            digests = write_env_tar(stage, prefix, handle, epoch, meter)
        os.replace(tmp_tar, tar_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_tar)
        raise
    return digests


def _staging_error(exc: OSError, stages: Path) -> ReproAuditError:
    error = write_error(exc, stages)
    if isinstance(error, InfrastructureError):
        error.hint = "free some space there, or give --cache-dir a folder on a larger disk"
    return error


def _remember_layer_index(stage: Path, prefix: str, digest: str, cache_dir: Path) -> None:
    """The layer's metadata index, read from the staged folder (only its metadata files)
    while it exists and kept per diff_id: the image's inventory never rescans the tar."""
    from audit.inventory.enginestore import scan_layer_dir
    from audit.inventory.layercache import LayerCache

    index = scan_layer_dir(stage, f"staged environment {prefix}", prefix)
    LayerCache(cache_dir).put(f"sha256:{digest}", index)


def normalize_prefix(prefix: str) -> str:
    """An absolute POSIX path without trailing slash; `/` and relative paths are exit 2."""
    clean = posixpath.normpath(prefix)
    if not clean.startswith("/") or clean == "/" or ".." in PurePosixPath(clean).parts:
        raise InputError(f"--prefix must be an absolute path below /, not {prefix!r}")
    return clean


def lock_text_key(lockfile: Path, platform: str, prefix: str, epoch: int) -> str:
    """A key over the lock's bytes and what else decides the stage (see `stage_key`).

    The same bytes give the same records and artifacts, so the stage found before for
    them is found again without parsing the lock (rattler is not even imported).
    """
    try:
        lock_sha256 = hashlib.sha256(lockfile.read_bytes()).hexdigest()
    except OSError:
        lock_sha256 = ""  # _read_locked says what is wrong with it
    body = json.dumps(
        [STAGE_FORMAT, __version__, lock_sha256, platform, prefix, epoch], sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _remember_for_lock(
    path: Path, key: str, conda: list[dict[str, str]], pip: list[dict[str, str]]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"key": key, "conda": conda, "pip": pip}, sort_keys=True))


def _staged_for_lock(by_lock: Path, stages: Path, platform: str, prefix: str) -> Any:
    """The StagedEnv recorded for exactly this lock text, when its tar is still there."""
    try:
        memo = json.loads(by_lock.read_text(encoding="utf-8"))
        key, conda, pip = str(memo["key"]), list(memo["conda"]), list(memo["pip"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tar_path = stages / f"{key}.tar"
    cached = _cached_tar(tar_path, stages / f"{key}.json")
    if cached is None:
        return None
    return StagedEnv(
        tar_path, cached[0], platform, prefix, conda, pip, cached=True, tree_digest=cached[1]
    )


def _cached_tar(tar_path: Path, meta_path: Path) -> tuple[str, str] | None:
    """(sha256, tree digest) recorded for a cached env tar of the recorded size, else None.

    Not re-hashed here: dockerd checks the layer's diff_id when it is loaded, and an
    unchanged rebuild finds the image it made before without reading the tar at all.
    """
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        recorded, size, tree = str(meta["sha256"]), int(meta["size"]), str(meta["tree"])
        return (recorded, tree) if tar_path.stat().st_size == size else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stage_digest(tar_path: Path) -> str:
    """sha256 of a staged env tar (what `StagedEnv.tar_sha256` promises)."""
    return sha256_file(tar_path)[0]


def drop_stage(staged: StagedEnv) -> None:
    """Forget a cached stage that no longer matches its digest."""
    staged.tar_path.unlink(missing_ok=True)
    staged.tar_path.with_suffix(".json").unlink(missing_ok=True)


def _install_conda(
    records: list[RepoDataRecord],
    verified: dict[str, Path],
    stage: Path,
    platform: str,
    prefix: str,
    cache_dir: Path,
) -> None:
    """rattler install from the verified cache files only; no link scripts."""
    from rattler import RepoDataRecord, Subdir, install

    local = []
    for record in records:
        path = verified[record.sha256.hex()]
        channel = channel_of(record.url) or "https://localhost/unknown"
        local.append(RepoDataRecord(record, record.file_name, path.as_uri(), channel))
    try:
        from audit.core.interrupt import run_async

        run_async(
            lambda: install(
                local,
                target_prefix=stage,
                cache_dir=Path(cache_dir) / "rattler-pkgs",
                platform=Subdir(platform),
                alternative_target_prefix=prefix,
                execute_link_scripts=False,
                show_progress=False,
            )
        )
    except Exception as exc:  # rattler raises its own exception types
        if out_of_space(str(exc), stage.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
        raise InputError(f"installing the locked packages failed: {exc}") from None
    (stage / "CACHEDIR.TAG").unlink(missing_ok=True)


def normalize_conda_meta(
    stage: Path, by_file: dict[str, Any], indexes: dict[str, dict[str, Any]] | None = None
) -> None:
    """Drop rattler's host paths, restore the locked (redacted) URL and channel, and take
    the package metadata from the artifact's own index.json (`indexes`, by file name)."""
    from audit.build.artifactmeta import apply_index

    for path in sorted((stage / "conda-meta").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        index = (indexes or {}).get(str(data.get("fn") or ""))
        if index is not None:
            data = apply_index(data, index)
        for key in HOST_PATH_KEYS:
            data.pop(key, None)
        if isinstance(data.get("link"), dict):
            data["link"].pop("source", None)
        record = by_file.get(str(data.get("fn") or ""))
        if record is not None:
            data["url"] = redact_url(record.url)
            data["channel"] = channel_of(record.url)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- tar


def _walk(root: Path) -> Iterator[Path]:
    """Every path under `root`, sorted by its POSIX relative path (symlinks not followed)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        entries.extend(base / d for d in dirnames)
        entries.extend(base / f for f in filenames)
    return iter(sorted(entries, key=lambda p: p.relative_to(root).as_posix()))


def write_env_tar(
    stage: Path, prefix: str, handle: Any, epoch: int = 0, meter: Meter | None = None
) -> tuple[str, str]:
    """Write `stage` as the layer `<prefix>/…` (its parents too) with one mtime, uid/gid 0,
    fixed modes, sorted: (its sha256 = the layer's diff_id, the environment's tree digest).

    One pass over the bytes: each file is hashed for the tree digest as it is copied in.
    """
    from audit.build.treedigest import TreeHash, dir_line, file_line, link_line

    hasher = _HashingWriter(handle)
    tree = TreeHash()
    with tarfile.open(fileobj=hasher, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.copybufsize = 1 << 20  # 16 KiB by default: a Python call per 16 KiB
        parts = list(PurePosixPath(prefix).parts[1:])
        for i in range(1, len(parts) + 1):
            archive.addfile(_dir_info("/".join(parts[:i]), epoch))
        base = "/".join(parts)
        for path in _walk(stage):
            rel = path.relative_to(stage).as_posix()
            info = _member(path, f"{base}/{rel}", epoch)
            if info.isreg():
                with path.open("rb") as data:
                    reader = _HashingReader(data)
                    archive.addfile(info, reader)
                tree.add(rel, file_line(info.mode, reader.h.hexdigest()))
                if meter is not None:
                    meter.add(info.size, 1)
            else:
                archive.addfile(info)
                tree.add(rel, link_line(info.linkname) if info.issym() else dir_line(info.mode))
            archive.members.clear()  # a writer never reads them back: memory stays flat
    return hasher.digest(), tree.digest()


def _dir_info(name: str, epoch: int) -> tarfile.TarInfo:
    info = _info(name, epoch)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def _info(name: str, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
    return info


def _member(path: Path, name: str, epoch: int) -> tarfile.TarInfo:
    """A normalised member: dirs 0755, files 0755/0644 by their x bit, symlinks as is."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        info = _info(name, epoch)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
        return info
    if stat.S_ISDIR(st.st_mode):
        return _dir_info(name, epoch)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"unexpected file type in the staged environment: {name}")
    info = _info(name, epoch)
    info.size = st.st_size
    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


class _HashingReader:
    """A read-only file object that hashes what is read through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.h = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.h.update(data)
        return data


class _HashingWriter:
    """A write-only file object that hashes what passes through to `inner`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.h = hashlib.sha256()
        self.offset = 0

    def write(self, data: Any) -> int:
        self.h.update(data)
        self.inner.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def digest(self) -> str:
        return self.h.hexdigest()
