"""The inputs of a build, read and checked once: lock, Dockerfile (parsed once), images.

Nothing here talks to Docker; a problem is exit 2 (bad input) or 1 (an unpinned image).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.build.options import BaseImage, BuildOptions
from audit.core.errors import FindingsError, InputError
from audit.core.fs import sha256_file


@dataclass
class BuildInputs:
    """The lock's metadata and the Dockerfile, read once per build."""

    lockfile: Path
    meta: Any
    text: str
    dockerfile_path: Path | None
    parsed: Any = None
    images: list[BaseImage] = field(default_factory=list)
    unpinned: list[BaseImage] = field(default_factory=list)
    base: BaseImage | None = None

    @property
    def env_uses(self) -> list[Any]:
        return list(self.parsed.env_uses) if self.parsed is not None else []


def read_inputs(options: BuildOptions) -> BuildInputs:
    """The lock's metadata and the Dockerfile's text (or the `--base` one-liner)."""
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(options.lockfile)
    if meta is None:
        raise InputError(
            "no such lockfile", where=str(options.lockfile), hint="run `repro-audit lock`"
        )
    if options.base and options.dockerfile:
        raise InputError("give either -f Dockerfile or --base IMAGE@sha256:…, not both")
    if options.base:
        return BuildInputs(options.lockfile, meta, f"FROM {options.base}\n", None)
    path = options.dockerfile or Path("Dockerfile")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            "no such Dockerfile",
            where=str(path),
            hint="pass -f FILE, or --base IMAGE@sha256:… for a minimal image",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None
    return BuildInputs(options.lockfile, meta, text, path)


def parse_inputs(inputs: BuildInputs, platform: str, allow_unpinned: bool) -> None:
    """Parse the Dockerfile once, for the target platform; refuse unpinned images."""
    from audit.dockerfile.parser import parse_dockerfile

    where = str(inputs.dockerfile_path) if inputs.dockerfile_path else "--base"
    inputs.parsed = parse_dockerfile(inputs.text, where, platform)
    inputs.images = base_images(inputs.text, where, inputs.parsed)
    no_from = not inputs.images and not inputs.env_uses and "scratch" not in inputs.text.lower()
    if no_from and inputs.dockerfile_path:
        raise InputError("the Dockerfile has no FROM", where=where)
    inputs.unpinned = refuse_unpinned(inputs.images, allow_unpinned)
    inputs.base = final_base(inputs.text, inputs.images, inputs.parsed)


def check_env_uses(inputs: BuildInputs, prefix: str) -> None:
    """`repro-audit-env` must be copied to and from the build's prefix, in a built stage."""
    if inputs.parsed is None:
        return
    built = inputs.parsed.built_stages()
    for use in inputs.parsed.env_uses:
        if use.stage not in built:
            raise InputError(
                f"repro-audit-env is used in stage {use.stage}, which the build does not run",
                where=use.where,
                hint="use it in the final stage or a stage the final stage copies from",
            )
        if use.kind != "copy":
            continue
        paths = [posixpath.normpath(p) for p in (*use.sources, use.dest) if p]
        if len(paths) != 2 or any(p != prefix for p in paths):
            raise InputError(
                f"COPY --from=repro-audit-env must copy {prefix} to {prefix} (the build's "
                f"--prefix), not {' '.join(use.sources)} to {use.dest}",
                where=use.where,
            )


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


def base_images(text: str, path: str, parsed: Any = None) -> list[BaseImage]:
    from audit.dockerfile.parser import parse_dockerfile

    parsed = parsed if parsed is not None else parse_dockerfile(text, path)
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


def final_base(text: str, images: list[BaseImage], parsed: Any = None) -> BaseImage | None:
    """The image the final stage starts from, following `FROM <earlier stage>`."""
    from audit.dockerfile.parser import parse_dockerfile

    parsed = parsed if parsed is not None else parse_dockerfile(text, "Dockerfile")
    if not parsed.stages:
        return None
    index = len(parsed.stages) - 1
    lines = text.splitlines()
    for _ in range(len(parsed.stages)):
        for image in images:
            if image.kind == "from" and image.stage == index:
                return image
        words = lines[parsed.stages[index].line - 1].split()
        refs = [w for w in words[1:] if not w.startswith("--")]
        target = refs[0].lower() if refs else ""
        named = parsed.stage_named(target, before=index)
        if named is not None:
            index = named.index
            continue
        return None
    return None


def default_prefix(lockfile: Path, environment: Path | None) -> str:
    """`/opt/conda/envs/<name>`: the environment file's `name:`, else `env`."""
    from audit.core.safeload import load_yaml

    candidates = [environment] if environment else []
    from audit.lockfile.condalock import read_metadata

    meta = read_metadata(lockfile)
    if meta is not None:
        candidates += [lockfile.parent / s for s in meta.sources]
    for candidate in candidates:
        try:
            data = load_yaml(candidate.read_bytes(), str(candidate))
        except (OSError, InputError):
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
