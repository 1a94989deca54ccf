"""Build an image whose conda environment is exactly the lock (`repro-audit build`).

Flow: inputs (lock, the Dockerfile parsed once, unpinned images refused) → builder
(BuildKit through the Docker CLI when one can be reached, `audit.build.builders`) → stage
the locked environment (`audit.build.materialize`, every artifact verified first, the
lock checked against each artifact's own metadata) → the user image → the environment
layer → inventory, push → record.

Where the environment goes: a Dockerfile that names `repro-audit-env`
(`COPY --from=repro-audit-env <prefix> <prefix>`, `FROM repro-audit-env`) gets a
one-layer image of the staged environment, so its later steps can use it. Otherwise the
environment is the image's last layer, appended as data (`audit.build.envlayer`): the
staged tar is the layer, so its diff_id depends only on the lock, the platform and the
prefix. Either way the record holds the environment's tree digest (`treedigest`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import __version__
from audit.build.builders import Builder, choose, resolve_buildx
from audit.build.context import context_excludes, substitute_bases, user_context_tar
from audit.build.engine import (
    DEFAULT_PATH,
    daemon_platform,
    pull_env_path,
    pull_private_bases,
)
from audit.build.inputs import (
    BuildInputs,
    base_images,
    check_env_uses,
    default_prefix,
    environment_inputs,
    final_base,
    parse_inputs,
    read_inputs,
    refuse_unpinned,
    source_date_epoch,
)
from audit.build.materialize import (
    CONDA_TO_OCI,
    StagedEnv,
    conda_platform,
    drop_stage,
    materialize,
)
from audit.build.options import BaseImage, BuildOptions, BuildResult, Progress
from audit.build.push import push_image
from audit.core.dockerapi import EngineError, EngineNotFound, connect
from audit.core.errors import InputError
from audit.core.fs import sha256_file
from audit.registry.reference import split_tag

__all__ = [
    "DEFAULT_PATH",
    "BaseImage",
    "BuildOptions",
    "BuildResult",
    "base_images",
    "final_base",
    "refuse_unpinned",
    "run_build",
    "split_tag",
    "user_context_tar",
]

#: Name of the user's Dockerfile inside the build context when it lives outside it.
OUTSIDE_DOCKERFILE = ".repro-audit.Dockerfile"
LABEL_PREFIX = "io.repro-audit"


@dataclass
class Built:
    """What the Docker side of a build produced (for the record)."""

    platform: str
    subdir: str
    staged: StagedEnv
    labels: dict[str, str]
    image_id: str
    layers: list[str]
    env_diff_id: str | None
    placement: str
    tree_digest: str
    builder: Builder
    inventory: Any = None
    repo_digest: str | None = None
    messages: list[str] = field(default_factory=list)


def _say_nothing(_phase: str, _message: str) -> None:
    """Default progress sink."""


def run_build(options: BuildOptions) -> BuildResult:
    """The whole `build` command; raises a ReproAuditError with the right exit code."""
    say = options.progress or _say_nothing
    epoch = source_date_epoch()
    inputs = read_inputs(options)
    from audit.core.fs import default_cache_dir

    builder, warning = choose(options.builder, cache_dir=options.cache_dir or default_cache_dir())
    if warning:
        say("builder", warning)
    client = connect()
    try:
        builder = resolve_buildx(on_engine(builder, client.endpoint.host))
        say("builder", builder.describe())
        built = _build(options, inputs, builder, client, epoch, say)
        _inventory_and_push(options, built, client, say)
    finally:
        client.close()
    record = _record(options, inputs, built, epoch)
    from audit.record import write_record

    write_record(options.record, record)
    say("record", f"wrote {options.record}")
    return BuildResult(
        record=record.to_json(),
        record_path=options.record,
        image_id=built.image_id,
        env_diff_id=built.env_diff_id,
        tag=options.tag,
        repo_digest=built.repo_digest,
        messages=built.messages,
    )


def on_engine(builder: Builder, host: str) -> Builder:
    """`builder` with the engine's address when it is not the default local socket."""
    from dataclasses import replace

    from audit.core.dockerapi import DEFAULT_HOST
    from audit.core.redact import redact_url

    return builder if host == DEFAULT_HOST else replace(builder, endpoint=redact_url(host))


def _build(
    options: BuildOptions,
    inputs: BuildInputs,
    builder: Builder,
    client: Any,
    epoch: int,
    say: Progress,
) -> Built:
    """Platform → parse → stage → user image → environment → checks."""
    from audit.build.envlayer import StageDamaged
    from audit.core.fs import default_cache_dir

    oci_platform = options.platform or daemon_platform(client)
    subdir = conda_platform(oci_platform)
    oci_platform = CONDA_TO_OCI[subdir]
    parse_inputs(inputs, oci_platform, options.allow_unpinned)
    messages = [f"{w} (BuildKit: the later stage wins)" for w in inputs.parsed.warnings]
    for message in messages:
        say("warning", message)
    prefix = options.prefix or default_prefix(inputs.lockfile, options.environment)
    cache_dir = Path(options.cache_dir or default_cache_dir())

    def stage(reuse: bool) -> StagedEnv:
        return materialize(
            inputs.lockfile, subdir, prefix, cache_dir, epoch=epoch, progress=say,
            reuse_stage=reuse,
        )  # fmt: skip

    staged = stage(True)
    check_env_uses(inputs, staged.prefix)
    try:
        image_id, inventory, parent = _images(options, inputs, builder, client, staged, epoch, say)
    except StageDamaged:
        # a cached stage that changed on disk: dockerd refused its diff_id. Forget it,
        # stage again from verified artifacts; nothing built from the bad stage is tagged
        say("installing", "cached stage no longer matches its digest: staging again")
        drop_stage(staged)
        staged = stage(False)
        image_id, inventory, parent = _images(options, inputs, builder, client, staged, epoch, say)
    built = Built(
        oci_platform, subdir, staged, _labels(inputs, staged, subdir), image_id, [], None,
        "dockerfile" if inputs.env_uses else "last-layer", "", builder, inventory,
        messages=messages,
    )  # fmt: skip
    _check_layers(client, built, parent)
    if built.placement == "dockerfile":
        from audit.build.treedigest import image_tree_digest

        built.tree_digest = image_tree_digest(client, image_id, staged.prefix)
        if built.tree_digest != staged.tree_digest:
            built.messages.append(
                "the Dockerfile changed the environment after copying it in: "
                f"staged {staged.tree_digest}, in the image {built.tree_digest}"
            )
    else:
        built.tree_digest = staged.tree_digest
    say("building", f"environment tree {built.tree_digest}")
    return built


def _labels(inputs: BuildInputs, staged: StagedEnv, subdir: str) -> dict[str, str]:
    meta = inputs.meta
    labels = {
        f"{LABEL_PREFIX}.lock.sha256": sha256_file(inputs.lockfile)[0],
        f"{LABEL_PREFIX}.lock.content-hash": meta.content_hash.get(subdir, ""),
        f"{LABEL_PREFIX}.env.prefix": staged.prefix,
        f"{LABEL_PREFIX}.env.sha256": staged.tar_sha256,
        f"{LABEL_PREFIX}.env.tree": staged.tree_digest,
        f"{LABEL_PREFIX}.platform": subdir,
        f"{LABEL_PREFIX}.version": __version__,
        f"{LABEL_PREFIX}.base.digests": ",".join(
            sorted({i.digest for i in inputs.images if i.digest})
        ),
    }
    if inputs.base is not None:
        labels["org.opencontainers.image.base.name"] = inputs.base.ref
        if inputs.base.digest:
            labels["org.opencontainers.image.base.digest"] = inputs.base.digest
    return labels


def _images(
    options: BuildOptions,
    inputs: BuildInputs,
    builder: Builder,
    client: Any,
    staged: StagedEnv,
    epoch: int,
    say: Progress,
) -> tuple[str, Any, str]:
    """(final image id, its inventory or None, the image it was made from)."""
    from audit.build.envlayer import env_image
    from audit.build.imageid import inherited_history, inherited_layers

    env_tag = (
        env_image(client, staged, CONDA_TO_OCI[staged.platform], epoch)
        if (inputs.env_uses)
        else None
    )
    if inputs.dockerfile_path is not None:
        parent = _user_image(options, inputs, builder, client, env_tag, say)
    else:
        parent = options.base or ""
        if inputs.images and inputs.images[0].ref in options.local_bases:
            parent = options.local_bases[inputs.images[0].ref]
        pull_env_path(client, parent, CONDA_TO_OCI[staged.platform], say)
        parent = client.inspect_image(parent)["Id"]
    inherited = (
        inherited_history(client, inputs.base, options.local_bases)
        if options.reproducible_image
        else None
    )
    own_from = (
        inherited_layers(client, inputs.base, options.local_bases)
        if options.reproducible_image and inputs.dockerfile_path is not None
        else None
    )
    labels = _labels(inputs, staged, staged.platform)
    return (
        *_final_image(
            client,
            parent,
            None if env_tag else staged,
            labels,
            epoch,
            inherited,
            {str(k): str(v) for k, v in sorted(inputs.meta.variables.items())},
            options,
            say,
            own_from,
        ),  # fmt: skip
        parent,
    )


def _user_image(
    options: BuildOptions,
    inputs: BuildInputs,
    builder: Builder,
    client: Any,
    env_tag: str | None,
    say: Progress,
) -> str:
    """The user's Dockerfile as written, built from a normalised context tar."""
    from audit.build.buildkit import build_user_image
    from audit.build.usermemo import HashingWriter, remember, remembered, user_image_key
    from audit.core.fs import default_cache_dir

    assert inputs.dockerfile_path is not None
    dockerfile_path = inputs.dockerfile_path
    context = options.context or dockerfile_path.parent
    if not context.is_dir():
        raise InputError("build context is not a directory", where=str(context))
    try:
        inner = dockerfile_path.resolve().relative_to(context.resolve()).as_posix()
    except ValueError:
        inner = OUTSIDE_DOCKERFILE
    skip = context_excludes(context, [options.record, *options.context_exclude])
    local = _local_names(client, options.local_bases) if builder.buildkit else options.local_bases
    text = substitute_bases(inputs.text, local, inner, inputs.parsed, env_tag)
    epoch = source_date_epoch()
    platform = CONDA_TO_OCI[conda_platform(options.platform or daemon_platform(client))]
    cache_dir = Path(options.cache_dir or default_cache_dir())
    try:
        with tempfile.TemporaryFile() as tar:
            sink = HashingWriter(tar)
            user_context_tar(context, text, inner, epoch, sink, skip)
            bases = [i.digest for i in inputs.images] + sorted(options.local_bases.values())
            key = user_image_key(sink.hexdigest(), inner, builder.to_json(), platform, bases)
            reusable = not options.no_cache and not inputs.unpinned
            if reusable and (image_id := _still_there(client, remembered(cache_dir, key))):
                say("building", f"user image unchanged (same inputs as before): {image_id}")
                return image_id
            # only a build needs the bases (and, for private ones, credential helpers run)
            pull_private_bases(client, inputs.images, options.local_bases, platform, say)
            tar.seek(0)
            try:
                image_id = build_user_image(
                    builder, client, tar, inner, say, platform, options.no_cache
                )
            except InputError as exc:
                raise _explained(exc, inputs) from None
            remember(cache_dir, key, image_id)
            return image_id
    finally:
        for name in set(local.values()) - set(options.local_bases.values()):
            client.remove_image(name, noprune=True)  # the temporary tag only


def _explained(error: InputError, inputs: BuildInputs) -> InputError:
    """A builder's parse error about a heredoc, said as what it is: a frontend too old.

    Heredocs (`RUN <<EOF`) are Dockerfile syntax 1.4; the frontend built into Docker 20.10
    reads the body's lines as instructions ("unknown instruction: ECHO").
    """
    from audit.dockerfile.parser import instructions

    if "unknown instruction" not in error.message and "parse error" not in error.message:
        return error
    try:
        heredoc = next(i for i in instructions(inputs.text) if i.heredocs)
    except (StopIteration, InputError):
        return error
    where = inputs.dockerfile_path.name if inputs.dockerfile_path else "Dockerfile"
    return InputError(
        f"{where}:{heredoc.line}: the builder's Dockerfile frontend does not know heredocs "
        f"({heredoc.keyword} <<{heredoc.heredocs[0][0]}, Dockerfile syntax 1.4)",
        hint="start the file with `# syntax=docker/dockerfile:1.4` where that frontend image "
        "can be pulled, build with a newer engine or buildx builder, or write the step "
        f"without a heredoc; the builder said: {error.message}",
    )


def _still_there(client: Any, image_id: str | None) -> str | None:
    """`image_id` when the engine still holds it (it may have been pruned), else None."""
    if image_id is None:
        return None
    try:
        client.inspect_image(image_id)
    except EngineNotFound:
        return None
    return image_id


def _local_names(client: Any, local: dict[str, str]) -> dict[str, str]:
    """BuildKit resolves a local image by name, not by id: a temporary tag per image id."""
    out = {}
    for ref, image_id in local.items():
        name = f"repro-audit-local:{image_id.split(':', 1)[-1][:32]}"
        repository, tag = split_tag(name)
        client.tag(image_id, repository, tag)
        out[ref] = name
    return out


#: `<cache>/images/`: final images remembered per parent image and environment.
FINAL_IMAGES = "images"


def _final_image(
    client: Any,
    parent: str,
    staged: StagedEnv | None,
    labels: dict[str, str],
    epoch: int,
    inherited: int | None,
    variables: dict[str, str],
    options: BuildOptions,
    say: Progress,
    own_from: int | None = None,
) -> tuple[str, Any]:
    """`parent` + the environment layer (or + labels only), remembered per input; the
    image id and, when it was made now, its inventory (derived, not read back).

    An unchanged rebuild gives the same `parent` (a build-cache hit) and so finds the
    image made before without reading either image or the environment again.
    """
    from audit.build.envlayer import append_environment
    from audit.build.usermemo import remember, remembered
    from audit.core.fs import default_cache_dir

    body = json.dumps(
        [parent, staged.tar_sha256 if staged else None, labels, epoch, inherited, variables]
        + ([own_from] if own_from is not None else []),
        sort_keys=True,
    )
    cache_dir = Path(options.cache_dir or default_cache_dir())
    key = f"{parent.split(':', 1)[-1]}-{hashlib.sha256(body.encode()).hexdigest()[:24]}"
    image_id = remembered(cache_dir, key, FINAL_IMAGES)
    if image_id is not None:
        try:
            client.inspect_image(image_id)
            if options.tag:
                repository, version = split_tag(options.tag)
                client.tag(image_id, repository, version)
            say("building", f"image unchanged: {image_id}")
            return image_id, None
        except EngineError:
            pass
    say("building", "appending the environment layer" if staged else "labelling the image")
    image_id, inventory = append_environment(
        client,
        parent,
        staged,
        labels,
        epoch,
        inherited,
        options.tag,
        variables,
        cache_dir,
        say,
        own_from,
    )
    remember(cache_dir, key, image_id, FINAL_IMAGES)
    return image_id, inventory


def _check_layers(client: Any, built: Built, parent: str) -> None:
    """The environment is the last layer, on top of the parent's (when it is appended)."""
    built.layers = list(client.inspect_image(built.image_id)["RootFS"]["Layers"])
    if built.placement != "last-layer":
        return
    # the parent's own layers may be re-packed (other diff_ids, the same count)
    parent_layers = list(client.inspect_image(parent)["RootFS"]["Layers"])
    if len(built.layers) != len(parent_layers) + 1 or built.layers[-1] != built.staged.diff_id:
        raise InputError(
            "the environment is not the image's last layer "
            f"({len(parent_layers)} base layers, {len(built.layers)} in the image)"
        )
    built.env_diff_id = built.layers[-1]


def _inventory_and_push(options: BuildOptions, built: Built, client: Any, say: Progress) -> None:
    from audit.inventory import read_inventory

    reference = options.tag or built.image_id
    previous = _previous_inventory(options.record, built.image_id)
    if built.inventory is not None:
        # made now from the user image read once and the staged layer: not read back
        say("inventory", "from the user image's layers and the environment layer")
    elif previous is not None:
        # an image id is the digest of the config, which lists every layer's diff_id:
        # the same id is the same content, so the recorded inventory still holds
        say("inventory", f"image unchanged since {options.record}: inventory reused")
        built.inventory = previous
    else:
        say("inventory", f"reading docker-daemon:{reference}")
        built.inventory = read_inventory(f"docker-daemon:{reference}", built.platform)
    if options.push:
        if not options.tag:
            raise InputError("--push needs -t REGISTRY/NAME:TAG")
        say("pushing", options.tag)
        built.repo_digest = push_image(client, options.tag, say)


def _record(options: BuildOptions, inputs: BuildInputs, built: Built, epoch: int) -> Any:
    from audit.record import BuildRecord

    meta, staged = inputs.meta, built.staged
    reference = options.tag or built.image_id
    return BuildRecord(
        tool_version=__version__,
        environment=environment_inputs(inputs.lockfile, options.environment),
        lockfile={
            "path": str(inputs.lockfile),
            "sha256": built.labels[f"{LABEL_PREFIX}.lock.sha256"],
            "content_hash": meta.content_hash.get(built.subdir, ""),
            "platforms": list(meta.platforms),
        },
        dockerfile={
            "path": str(inputs.dockerfile_path) if inputs.dockerfile_path else None,
            "generated": inputs.dockerfile_path is None,
            "sha256": hashlib.sha256(inputs.text.encode("utf-8")).hexdigest(),
            "base": options.base,
        },
        base_images=[i.to_json() for i in inputs.images],
        allow_unpinned=options.allow_unpinned,
        unpinned=[i.to_json() for i in inputs.unpinned],
        platform=built.platform,
        conda_platform=built.subdir,
        prefix=staged.prefix,
        source_date_epoch=epoch,
        packages={"conda": staged.conda, "pip": staged.pip},
        image_id=built.image_id,
        tag=options.tag,
        env_layer_diff_id=built.env_diff_id,
        env_tar_sha256=staged.tar_sha256,
        layers=built.layers,
        labels=built.labels,
        repo_digest=built.repo_digest,
        inventory=built.inventory.with_source(f"docker-daemon:{reference}").to_json(),
        builder=built.builder.to_json(),
        placement=built.placement,
        env_tree_digest=built.tree_digest,
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


def iter_progress_lines(result: BuildResult) -> Iterator[str]:
    """The human summary printed after a build."""
    yield f"image    {result.image_id}"
    if result.tag:
        yield f"tag      {result.tag}"
    outputs = result.record["outputs"]
    if result.env_diff_id:
        yield f"env      {result.env_diff_id} (last layer)"
    else:
        yield f"env      placed by the Dockerfile ({outputs.get('placement')})"
    yield f"tree     {outputs.get('env_tree_digest')}"
    for message in result.messages:
        yield f"note     {message}"
    if result.repo_digest:
        yield f"pushed   {result.repo_digest}"
    yield f"record   {result.record_path}"
