"""Build an image whose conda environment is exactly the lock (`repro-audit build`).

Flow: refuse unpinned base images → connect to Docker (DOCKER_HOST, Docker contexts) →
stage the locked environment (`audit.build.materialize`, every artifact verified first) →
build the user's Dockerfile as written (classic builder, normalised context tar) → build
`FROM <that image>` + `COPY rootfs/ /` + `ENV` + `LABEL` with the staged environment as the
only context → check the environment is the last layer → inventory → push → record.

Why two builds: the classic builder cannot hide part of a context from the user's own
`COPY . /app`, so the environment never shares a context with the user's files. The
result is the same image the one-Dockerfile form would give: the user's final stage plus
one `COPY` layer, whose diff_id depends only on the lock, the platform and the prefix.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import __version__
from audit.build.materialize import (
    CONDA_TO_OCI,
    ROOTFS,
    StagedEnv,
    conda_platform,
    drop_stage,
    materialize,
)
from audit.core.errors import FindingsError, InfrastructureError, InputError
from audit.core.fs import sha256_file
from audit.core.redact import redact_url

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Name of the user's Dockerfile inside the build context when it lives outside it.
OUTSIDE_DOCKERFILE = ".repro-audit.Dockerfile"
LABEL_PREFIX = "io.repro-audit"

Progress = Callable[[str, str], None]


@dataclass
class BuildOptions:
    lockfile: Path = Path("conda-lock.yml")
    dockerfile: Path | None = None
    context: Path | None = None
    base: str | None = None
    tag: str | None = None
    platform: str | None = None
    prefix: str | None = None
    record: Path = Path("build-record.json")
    push: bool = False
    allow_unpinned: bool = False
    cache_dir: Path | None = None
    environment: Path | None = None
    progress: Progress | None = None
    #: Rewrite the image config's timestamps (SOURCE_DATE_EPOCH) so a rebuild of the same
    #: inputs gives the same image id (`reproducible_image`).
    reproducible_image: bool = True
    #: Pinned reference (canonical) → local image id to build FROM instead: `verify`
    #: loads a base from its mirror, and a loaded image has no repo digest to be found by.
    local_bases: dict[str, str] = field(default_factory=dict)
    #: More files kept out of the user's context (`verify`: the record it rebuilds from).
    context_exclude: list[Path] = field(default_factory=list)
    #: Build without Docker's build cache (`verify --rebuild`: every step runs again).
    no_cache: bool = False


@dataclass
class BaseImage:
    ref: str
    digest: str | None
    where: str
    kind: str
    stage: int

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "digest": self.digest,
            "where": self.where,
            "kind": self.kind,
            "stage": self.stage,
        }


@dataclass
class BuildResult:
    record: dict[str, Any]
    record_path: Path
    image_id: str
    env_diff_id: str
    tag: str | None
    repo_digest: str | None
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "record": str(self.record_path),
            "image_id": self.image_id,
            "env_layer_diff_id": self.env_diff_id,
            "tag": self.tag,
            "repo_digest": self.repo_digest,
            "inputs": self.record["inputs"],
        }


# --------------------------------------------------------------------------- inputs


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) or 0: the one mtime of every member."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return 0
    try:
        epoch = int(value)
    except ValueError:
        raise InputError(f"SOURCE_DATE_EPOCH must be an integer, not {value!r}") from None
    if epoch < 0:
        raise InputError("SOURCE_DATE_EPOCH must not be negative")
    return epoch


def base_images(text: str, path: str) -> list[BaseImage]:
    from audit.dockerfile.parser import parse_dockerfile

    parsed = parse_dockerfile(text, path)
    return [
        BaseImage(site.ref.canonical(), site.ref.digest, site.where, site.kind, site.stage)
        for site in parsed.sites
    ]


def refuse_unpinned(images: list[BaseImage], allow: bool) -> list[BaseImage]:
    """Unpinned images are a finding (exit 1): the build would not be reproducible."""
    unpinned = [image for image in images if image.digest is None]
    if unpinned and not allow:
        listed = ", ".join(f"{i.where} {i.ref}" for i in unpinned)
        raise FindingsError(
            f"unpinned image{'s' if len(unpinned) > 1 else ''}: {listed}",
            hint="run `repro-audit pin` to pin them to digests, or pass --allow-unpinned "
            "(recorded in the build record)",
        )
    return unpinned


def final_base(text: str, images: list[BaseImage]) -> BaseImage | None:
    """The image the final stage starts from, following `FROM <earlier stage>`."""
    from audit.dockerfile.parser import parse_dockerfile

    parsed = parse_dockerfile(text, "Dockerfile")
    if not parsed.stages:
        return None
    index = len(parsed.stages) - 1
    lines = text.splitlines()
    names = {stage.name: stage.index for stage in parsed.stages if stage.name}
    for _ in range(len(parsed.stages)):
        for image in images:
            if image.kind == "from" and image.stage == index:
                return image
        words = lines[parsed.stages[index].line - 1].split()
        refs = [w for w in words[1:] if not w.startswith("--")]
        target = refs[0].lower() if refs else ""
        if target in names and names[target] < index:
            index = names[target]
            continue
        return None
    return None


def default_prefix(lockfile: Path, environment: Path | None) -> str:
    """`/opt/conda/envs/<name>`: the environment file's `name:`, else `env`."""
    import yaml

    candidates = [environment] if environment else []
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(lockfile)
    if meta is not None:
        candidates += [lockfile.parent / s for s in meta.sources]
    for candidate in candidates:
        try:
            data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name.strip() and "/" not in name:
            return f"/opt/conda/envs/{name.strip()}"
    return "/opt/conda/envs/env"


def environment_inputs(lockfile: Path, environment: Path | None) -> list[dict[str, Any]]:
    """Hashes of the environment files the lock was made from (as listed in its metadata)."""
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(lockfile)
    paths = [environment] if environment else []
    if meta is not None and not paths:
        paths = [lockfile.parent / s for s in meta.sources]
    out = []
    for path in paths:
        entry: dict[str, Any] = {"path": str(path), "sha256": None}
        if path.is_file():
            entry["sha256"] = sha256_file(path)[0]
        out.append(entry)
    return out


# --------------------------------------------------------------------------- docker client


def docker_endpoint() -> tuple[str, Any]:
    """(host URL, TLS config) from DOCKER_HOST, else DOCKER_CONTEXT / the current context."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host, None
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        try:
            name = json.loads((config_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            name = None
    if name and name != "default":
        from docker.context import ContextAPI

        try:
            context = ContextAPI.get_context(name)
        except Exception as exc:  # docker.errors.ContextException and friends
            raise InputError(f"cannot read Docker context {name!r}: {exc}") from None
        if context is None:
            raise InputError(f"no Docker context named {name!r}", hint="see `docker context ls`")
        return context.Host, context.TLSConfig
    return "unix:///var/run/docker.sock", None


def docker_unreachable(host: str, exc: BaseException | None = None) -> InfrastructureError:
    detail = f" ({str(exc).splitlines()[0][:200]})" if exc and str(exc) else ""
    return InfrastructureError(
        f"Docker is not reachable at {host}{detail}",
        hint="start dockerd (e.g. `sudo dockerd &` or `systemctl start docker`), "
        "or point DOCKER_HOST / `docker context use` at a running engine",
    )


def connect_docker() -> Any:
    """A Docker SDK client that answered a ping; exit 3 with how to start Docker if not."""
    import docker
    import docker.errors
    import requests

    host, tls = docker_endpoint()
    try:
        if os.environ.get("DOCKER_HOST"):
            client = docker.from_env(timeout=600)
        else:
            client = docker.DockerClient(base_url=host, tls=tls or False, timeout=600)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise docker_unreachable(host, exc) from None
    return client


def daemon_platform(client: Any) -> str:
    info = client.version()
    arch = str(info.get("Arch") or "amd64")
    return f"{info.get('Os') or 'linux'}/{'arm64' if arch == 'aarch64' else arch}"


# --------------------------------------------------------------------------- contexts


def _norm_info(info: tarfile.TarInfo, epoch: int) -> tarfile.TarInfo:
    info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
    return info


def user_context_tar(
    context: Path,
    dockerfile_text: str,
    dockerfile_name: str,
    epoch: int,
    out: Any,
    exclude: frozenset[str] = frozenset(),
) -> None:
    """The user's context (after .dockerignore) as a sorted tar with one mtime and owner 0.

    `exclude` drops a few more paths: the build record, which is this build's output and
    would otherwise change the user's `COPY . …` layer on every rebuild.
    """
    from docker.utils.build import exclude_paths

    ignore = context / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        patterns = [
            line.strip()
            for line in ignore.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
    included = sorted(
        exclude_paths(str(context), patterns, dockerfile=dockerfile_name) - set(exclude)
    )
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for rel in included:
            path = context / rel
            st = path.lstat()
            info = _norm_info(tarfile.TarInfo(Path(rel).as_posix()), epoch)
            info.mode = st.st_mode & 0o7777
            if stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                archive.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                if rel == dockerfile_name:
                    continue
                info.size = st.st_size
                with path.open("rb") as data:
                    archive.addfile(info, data)
        data = dockerfile_text.encode("utf-8")
        info = _norm_info(tarfile.TarInfo(dockerfile_name), epoch)
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))


class EnvContext(io.RawIOBase):
    """The build context of the environment step, streamed without a copy.

    The staged env tar's members (its bytes up to the end-of-archive marker), then the
    Dockerfile member and a new end-of-archive: one valid tar, read straight from the
    cached stage, so a large environment is not copied to a temp file first.
    """

    def __init__(self, staged: StagedEnv, dockerfile_text: str, epoch: int) -> None:
        with tarfile.open(staged.tar_path, mode="r:") as archive:
            archive.getmembers()
            self._remaining = archive.offset
        self._env = staged.tar_path.open("rb")
        self._hash = hashlib.sha256()
        data = dockerfile_text.encode("utf-8")
        info = _norm_info(tarfile.TarInfo("Dockerfile"), epoch)
        info.size, info.mode = len(data), 0o644
        self._tail = io.BytesIO(
            info.tobuf(tarfile.PAX_FORMAT)
            + data
            + b"\0" * ((-len(data)) % tarfile.BLOCKSIZE)
            + b"\0" * (2 * tarfile.BLOCKSIZE)
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._remaining:
            count = self._env.readinto(view[: min(len(view), self._remaining)])
            if not count:
                raise InputError(f"staged environment tar is truncated: {self._env.name}")
            self._hash.update(view[:count])
            self._remaining -= count
            if not self._remaining:  # the end-of-archive padding counts for the digest
                while rest := self._env.read(1 << 20):
                    self._hash.update(rest)
            return count
        return self._tail.readinto(view)

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The context in large pieces: fewer round trips through Python than `read()`."""
        buffer = bytearray(size)
        while count := self.readinto(buffer):
            yield bytes(buffer[:count])

    def digest(self) -> str:
        """sha256 of the staged tar as it was read (compare with `StagedEnv.tar_sha256`)."""
        return self._hash.hexdigest()

    def close(self) -> None:
        self._env.close()
        super().close()


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def env_dockerfile(base: str, prefix: str, path: str, labels: dict[str, str]) -> str:
    """`FROM base` + the environment layer + ENV + LABEL (ENV/LABEL add no layers)."""
    lines = [
        f"FROM {base}",
        f"COPY {ROOTFS}/ /",
        f"ENV PATH={_quote(f'{prefix}/bin:{path}')} CONDA_PREFIX={_quote(prefix)}",
    ]
    if labels:
        lines.append(
            "LABEL " + " \\\n      ".join(f"{k}={_quote(v)}" for k, v in sorted(labels.items()))
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- docker build


def _stream_build(client: Any, context: Any, say: Progress, **kwargs: Any) -> str:
    """Run one classic build from a context tar; the image id, or InputError on failure."""
    import docker.errors
    import requests

    image_id = None
    last = ""
    try:
        for chunk in client.api.build(
            fileobj=context, custom_context=True, rm=True, forcerm=True, decode=True, **kwargs
        ):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise InputError(
                    f"docker build failed: {str(detail).strip()}",
                    where=last or None,
                )
            text = str(chunk.get("stream") or "").strip()
            if text.startswith("Step "):
                last = text.splitlines()[0]
                say("building", last if len(last) <= 100 else last[:97] + "...")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = aux["ID"]
            elif text.startswith("Successfully built "):
                image_id = image_id or text.split()[-1]
    except docker.errors.APIError as exc:
        raise InputError(f"docker build refused: {exc.explanation or exc}") from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise docker_unreachable(str(client.api.base_url), exc) from None
    if not image_id:
        raise InputError("docker build ended without an image id")
    if not image_id.startswith("sha256:"):
        image_id = client.api.inspect_image(image_id)["Id"]
    return image_id


def split_tag(reference: str) -> tuple[str, str]:
    """`registry:5000/name:tag` → (`registry:5000/name`, `tag`); no tag → `latest`."""
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, "latest"
    return repository, tag


def _remove_untagged(client: Any, image_id: str) -> None:
    """Remove an image nobody has tagged (a build from a stage that failed its check)."""
    import docker.errors

    try:
        if not client.api.inspect_image(image_id).get("RepoTags"):
            client.api.remove_image(image_id, noprune=False)
    except docker.errors.APIError:
        pass


def push_image(client: Any, tag: str, say: Progress) -> str:
    """Push `tag`; the repo digest `name@sha256:…` the registry answered with."""
    import docker.errors

    repository, version = split_tag(tag)
    digest = None
    try:
        for chunk in client.api.push(repository, tag=version, stream=True, decode=True):
            if "error" in chunk:
                raise InfrastructureError(f"push of {tag} failed: {chunk['error']}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            status = chunk.get("status")
            if status and not chunk.get("progressDetail"):
                say("pushing", f"{chunk.get('id', '')} {status}".strip())
    except docker.errors.APIError as exc:
        raise InfrastructureError(f"push of {tag} failed: {exc.explanation or exc}") from None
    if not digest:
        raise InfrastructureError(f"push of {tag} returned no digest")
    return f"{repository}@{digest}"


def _context_excludes(context: Path, paths: list[Path]) -> frozenset[str]:
    """Context-relative POSIX names of `paths` that lie inside `context`."""
    out = set()
    for path in paths:
        try:
            out.add(Path(path).resolve().relative_to(context.resolve()).as_posix())
        except ValueError:
            continue
    return frozenset(out)


def substitute_bases(text: str, local: dict[str, str], path: str = "Dockerfile") -> str:
    """`text` with each pinned reference in `local` replaced by its local image id.

    Only the text sent to Docker changes; labels and the record keep the reference.
    """
    if not local:
        return text
    from audit.dockerfile.parser import Edit, apply_edits, parse_dockerfile

    edits = []
    for site in parse_dockerfile(text, path).sites:
        image_id = local.get(site.ref.canonical())
        if image_id is None:
            continue
        start = site.insert_at - len(site.written)
        if site.written != site.expanded or text[start : site.insert_at] != site.written:
            raise InputError(
                f"cannot build {site.expanded} from a local image: the reference is not "
                "written in one piece",
                where=site.where,
            )
        edits.append(Edit(start, site.insert_at, image_id))
    return apply_edits(text, edits, path)


# --------------------------------------------------------------------------- main flow


def _say_nothing(_phase: str, _message: str) -> None:
    """Default progress sink."""


def run_build(options: BuildOptions) -> BuildResult:
    """The whole `build` command; raises a ReproAuditError with the right exit code."""
    from audit.core.fs import default_cache_dir
    from audit.lockfile.condalock import read_metadata

    say = options.progress or _say_nothing
    epoch = source_date_epoch()
    lockfile = options.lockfile
    meta = read_metadata(lockfile)
    if meta is None:
        raise InputError("no such lockfile", where=str(lockfile), hint="run `repro-audit lock`")

    # Dockerfile or --base
    if options.base and options.dockerfile:
        raise InputError("give either -f Dockerfile or --base IMAGE@sha256:…, not both")
    dockerfile_path: Path | None = None
    if options.base:
        dockerfile_text = f"FROM {options.base}\n"
        images = base_images(dockerfile_text, "--base")
    else:
        dockerfile_path = options.dockerfile or Path("Dockerfile")
        try:
            dockerfile_text = dockerfile_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                "no such Dockerfile",
                where=str(dockerfile_path),
                hint="pass -f FILE, or --base IMAGE@sha256:… for a minimal image",
            ) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", where=str(dockerfile_path)) from None
        images = base_images(dockerfile_text, str(dockerfile_path))
    if not images and options.base is None and "scratch" not in dockerfile_text.lower():
        raise InputError("the Dockerfile has no FROM", where=str(dockerfile_path))
    unpinned = refuse_unpinned(images, options.allow_unpinned)
    base = final_base(dockerfile_text, images)

    # Docker, then the platform the lock must have
    client = connect_docker()
    try:
        oci_platform = options.platform or daemon_platform(client)
        subdir = conda_platform(oci_platform)
        oci_platform = CONDA_TO_OCI[subdir]
        prefix = options.prefix or default_prefix(lockfile, options.environment)
        cache_dir = Path(options.cache_dir or default_cache_dir())

        staged = materialize(lockfile, subdir, prefix, cache_dir, epoch=epoch, progress=say)
        prefix = staged.prefix
        lock_sha = sha256_file(lockfile)[0]
        content_hash = meta.content_hash.get(subdir, "")

        # 1. the user's Dockerfile as written
        if dockerfile_path is not None:
            context = options.context or dockerfile_path.parent
            if not context.is_dir():
                raise InputError("build context is not a directory", where=str(context))
            try:
                inner = dockerfile_path.resolve().relative_to(context.resolve()).as_posix()
            except ValueError:
                inner = OUTSIDE_DOCKERFILE
            skip = _context_excludes(context, [options.record, *options.context_exclude])
            build_text = substitute_bases(dockerfile_text, options.local_bases, inner)
            _pull_private_bases(client, images, options.local_bases, oci_platform, say)
            with tempfile.TemporaryFile() as tar:
                user_context_tar(context, build_text, inner, epoch, tar, skip)
                tar.seek(0)
                user_id = _stream_build(
                    client,
                    tar,
                    say,
                    dockerfile=inner,
                    platform=oci_platform,
                    nocache=options.no_cache,
                )
            from_ref = user_id
        else:
            user_id = None
            from_ref = options.base or ""
            if images and images[0].ref in options.local_bases:
                from_ref = options.local_bases[images[0].ref]

        # 2. the environment layer
        if user_id is not None:
            base_path = _image_env_path(client, user_id)
        else:  # --base: its own PATH is only known once it is local
            base_path = _pull_env_path(client, from_ref, oci_platform, say)
        labels = {
            f"{LABEL_PREFIX}.lock.sha256": lock_sha,
            f"{LABEL_PREFIX}.lock.content-hash": content_hash,
            f"{LABEL_PREFIX}.env.prefix": prefix,
            f"{LABEL_PREFIX}.env.sha256": staged.tar_sha256,
            f"{LABEL_PREFIX}.platform": subdir,
            f"{LABEL_PREFIX}.version": __version__,
            f"{LABEL_PREFIX}.base.digests": ",".join(
                sorted({i.digest for i in images if i.digest})
            ),
        }
        if base is not None:
            labels["org.opencontainers.image.base.name"] = base.ref
            if base.digest:
                labels["org.opencontainers.image.base.digest"] = base.digest
        build_kwargs: dict[str, Any] = {} if user_id else {"platform": oci_platform}
        build_kwargs["nocache"] = options.no_cache
        env_text = env_dockerfile(from_ref, prefix, base_path, labels)
        with EnvContext(staged, env_text, epoch) as stream:
            image_id = _stream_build(client, stream.chunks(), say, **build_kwargs)
            streamed = stream.digest()
        if streamed != staged.tar_sha256:
            # a cached stage that changed on disk: forget it, stage again from verified
            # artifacts, build again; the image built from the bad stage is never tagged
            say("installing", "cached stage no longer matches its digest: staging again")
            _remove_untagged(client, image_id)
            drop_stage(staged)
            staged = materialize(
                lockfile, subdir, prefix, cache_dir, epoch=epoch, progress=say, reuse_stage=False
            )
            labels[f"{LABEL_PREFIX}.env.sha256"] = staged.tar_sha256
            env_text = env_dockerfile(from_ref, prefix, base_path, labels)
            with EnvContext(staged, env_text, epoch) as stream:
                image_id = _stream_build(client, stream.chunks(), say, **build_kwargs)
        if options.tag:
            repository, tag = split_tag(options.tag)
            client.api.tag(image_id, repository, tag, force=True)

        layers = list(client.api.inspect_image(image_id)["RootFS"]["Layers"])
        parent_layers = (
            list(client.api.inspect_image(user_id or from_ref)["RootFS"]["Layers"])
            if (user_id or from_ref)
            else []
        )
        if len(layers) != len(parent_layers) + 1 or layers[:-1] != parent_layers:
            raise InputError(
                "the environment is not the image's last layer "
                f"({len(parent_layers)} base layers, {len(layers)} in the image)"
            )
        env_diff_id = layers[-1]
        say("building", f"environment layer {env_diff_id}")
        if options.reproducible_image:
            from audit.build.imageid import inherited_history, reproducible_image

            inherited = inherited_history(client, base, options.local_bases)
            image_id = reproducible_image(
                client, image_id, options.tag, epoch, inherited, cache_dir / "images"
            )
            say("building", f"reproducible image {image_id} (timestamps = {epoch})")

        # 3. inventory, push, record
        reference = options.tag or image_id
        from audit.inventory import read_inventory

        previous = _previous_inventory(options.record, image_id)
        if previous is not None:
            # an image id is the digest of the config, which lists every layer's diff_id:
            # the same id is the same content, so the recorded inventory still holds
            say("inventory", f"image unchanged since {options.record}: inventory reused")
            inventory = previous
        else:
            say("inventory", f"reading docker-daemon:{reference}")
            inventory = read_inventory(f"docker-daemon:{reference}", oci_platform)
        repo_digest = None
        if options.push:
            if not options.tag:
                raise InputError("--push needs -t REGISTRY/NAME:TAG")
            say("pushing", options.tag)
            repo_digest = push_image(client, options.tag, say)
    finally:
        client.close()

    from audit.record import BuildRecord, write_record

    record = BuildRecord(
        tool_version=__version__,
        environment=environment_inputs(lockfile, options.environment),
        lockfile={
            "path": str(lockfile),
            "sha256": lock_sha,
            "content_hash": content_hash,
            "platforms": list(meta.platforms),
        },
        dockerfile={
            "path": str(dockerfile_path) if dockerfile_path else None,
            "generated": dockerfile_path is None,
            "sha256": hashlib.sha256(dockerfile_text.encode("utf-8")).hexdigest(),
            "base": options.base,
        },
        base_images=[i.to_json() for i in images],
        allow_unpinned=options.allow_unpinned,
        unpinned=[i.to_json() for i in unpinned],
        platform=oci_platform,
        conda_platform=subdir,
        prefix=prefix,
        source_date_epoch=epoch,
        packages={"conda": staged.conda, "pip": staged.pip},
        image_id=image_id,
        tag=options.tag,
        env_layer_diff_id=env_diff_id,
        env_tar_sha256=staged.tar_sha256,
        layers=layers,
        labels=labels,
        repo_digest=repo_digest,
        inventory=inventory.with_source(f"docker-daemon:{reference}").to_json(),
    )
    write_record(options.record, record)
    say("record", f"wrote {options.record}")
    return BuildResult(
        record=record.to_json(),
        record_path=options.record,
        image_id=image_id,
        env_diff_id=env_diff_id,
        tag=options.tag,
        repo_digest=repo_digest,
    )


def _previous_inventory(record_path: Path, image_id: str) -> Any:
    """The inventory of an existing record of the very same image, else None."""
    from audit.inventory import Inventory

    try:
        document = json.loads(record_path.read_text(encoding="utf-8"))
        if document["outputs"]["image_id"] != image_id:
            return None
        return Inventory.from_json(document["inventory"])
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return None


def _image_env_path(client: Any, image: str) -> str:
    """The PATH of an image's config, or Docker's default when it sets none."""
    config = client.api.inspect_image(image).get("Config") or {}
    for item in config.get("Env") or ():
        if item.startswith("PATH="):
            return item[len("PATH=") :]
    return DEFAULT_PATH


def _pull_env_path(client: Any, ref: str, platform: str, say: Progress) -> str:
    """Make `ref` local (pull when missing) and return its PATH."""
    import docker.errors

    try:
        return _image_env_path(client, ref)
    except docker.errors.ImageNotFound:
        pass
    say("pulling", ref)
    name, _, digest = ref.partition("@")
    if digest and ":" in name.rsplit("/", 1)[-1]:  # by digest: the tag is only for humans
        name = name.rsplit(":", 1)[0]
    try:
        client.api.pull(name, tag=digest or None, platform=platform, auth_config=_pull_auth(name))
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or "")
        if exc.status_code in (401, 403) or "unauthorized" in explanation.lower():
            from audit.core.credentials import hint_for
            from audit.core.errors import AccessDeniedError

            raise AccessDeniedError(
                f"access denied pulling {redact_url(ref)}",
                hint=hint_for(name.split("/", 1)[0], registry=True),
            ) from None
        raise InfrastructureError(f"cannot pull {redact_url(ref)}: {explanation}") from None
    return _image_env_path(client, ref)


def _pull_private_bases(
    client: Any, images: list[BaseImage], local: dict[str, str], platform: str, say: Progress
) -> None:
    """Pull missing bases with the run's registry credentials before the classic build,
    which would pull them with none (dockerd knows only `docker login`)."""
    for image in images:
        if image.digest and image.ref not in local and _pull_auth(image.ref) is not None:
            ref = image.ref if "@" in image.ref else f"{image.ref}@{image.digest}"
            _pull_env_path(client, ref, platform, say)


def _pull_auth(name: str) -> dict[str, str] | None:
    """Credentials for dockerd's pull: Docker's config or the run's auth file / netrc."""
    from audit.registry.reference import parse_reference

    try:
        host = parse_reference(name).api_host
    except ValueError:
        return None
    from audit.registry.credentials import DockerCredentials

    found = DockerCredentials().lookup(host)
    if found is None or found.identity_token:
        return None
    return {"username": found.username, "password": found.secret}


def iter_progress_lines(result: BuildResult) -> Iterator[str]:
    """The human summary printed after a build."""
    yield f"image    {result.image_id}"
    if result.tag:
        yield f"tag      {result.tag}"
    yield f"env      {result.env_diff_id}"
    if result.repo_digest:
        yield f"pushed   {result.repo_digest}"
    yield f"record   {result.record_path}"
