"""Lock the `pip:` section of environment.yml per platform: exact wheels with hashes.

Why uv: one `uv pip compile --python-platform` call resolves for any target from Linux and
writes PEP 751 `pylock.toml` with the wheel URLs and sha256 of every package
(`audit.lock.pipuv`). What uv does not give us, and the modules beside this one add:

* conda consistency (`audit.lock.pipconda`): every package of the conda solve is a
  constraint backed by a dependency-free stub wheel, dropped afterwards;
* one wheel per package, chosen by the target's tag priority (`audit.lock.pylock`, with
  tags computed for the TARGET, not the host, by `audit.lock.piptags`);
* each package's dependencies (`audit.lock.pipdeps`): from the wheel's METADATA
  (`audit.lock.pipmeta`: PEP 658 sidecar, else range reads, else the file), with
  Requires-Dist markers evaluated for the target;
* errors a user can act on: one line naming the requirement and platform, exit 2 for bad
  input, exit 3 when an index cannot be reached.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from audit.core import credentials
from audit.core.errors import InfrastructureError, InputError
from audit.core.names import MAPPING_PATH, load_mapping
from audit.core.redact import redact_url
from audit.lock.pipconda import conda_provided, conda_to_pypi_names
from audit.lock.pipdeps import dependencies, requires_dist
from audit.lock.pipmeta import WheelInfo, fetch_wheel_info
from audit.lock.piptags import Target, conda_platform_to_uv, make_target
from audit.lock.pipuv import UvOptions, raise_uv_failure, requirement_name, run_uv
from audit.lock.pylock import Chosen, choose_wheel
from audit.lockfile.models import PipLocked
from audit.lockfile.vcs import parse_vcs_url, pinned_url, static_dependencies

_UV_INDEX_NAME = re.compile(r"^[A-Za-z0-9_-]+=")


def _env_index_urls() -> list[str]:
    """The index URLs uv reads from this environment (they may carry credentials)."""
    urls: list[str] = []
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX"):
        urls += [_UV_INDEX_NAME.sub("", u) for u in (os.environ.get(name) or "").split()]
    return urls


def _expand_env(url: str, source: str) -> str:
    """pip's `${VAR}` expansion in index URLs (tokens live in the CI environment)."""
    expanded, missing = credentials.expand(url)
    if missing:
        raise InputError(f"pip index URL uses ${{{missing[0]}}}, which is not set", where=source)
    return expanded


def lock_pip(
    requirements: Sequence[str],
    *,
    platform: str,
    python_version: str,
    conda_installed: Mapping[str, str],
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    glibc: str | None = None,
    cache_dir: Path | None = None,
    source: str = "environment.yml",
    macos: str | None = None,
    mapping: Mapping[str, str] | None = None,
    find_links: Sequence[str] = (),
    pre: bool = False,
    constraints: Sequence[str] = (),
    exclude_newer: str | None = None,
) -> list[PipLocked]:
    """Resolve `requirements` for one platform into wheels, sorted by name.

    `conda_installed` (conda name -> version, from the conda solve) constrains the pip
    solve; those packages are not pip-locked again. One uv call; thread-safe (every call
    works in its own temporary directory). `macos` is the oldest macOS the osx wheels must
    run on (default 13.0, uv's default); `mapping` overrides the shipped name mapping.
    With `cache_dir`, uv caches under `cache_dir/uv` and wheel METADATA is kept under
    `cache_dir/wheel-metadata/<sha256>.METADATA`. `find_links`, `pre` and `constraints`
    are the pip section's `--find-links`, `--pre` and `-c` files' lines.
    """
    target = make_target(platform, python_version, glibc=glibc, macos=macos)
    requirements = [str(r).strip() for r in requirements if str(r).strip()]
    for req in requirements:
        if "\n" in req or "\r" in req or req.startswith("-"):
            raise InputError(
                f"pip requirement '{req.splitlines()[0]}' on {platform}: not a requirement",
                where=source,
                hint="pip option lines are read by audit.envfile.pip",
            )
    if not requirements:
        return []
    index = _expand_env(index_url, source) if index_url else None
    extras = [_expand_env(u, source) for u in extra_index_urls]
    provided = conda_provided(conda_installed, mapping if mapping is not None else load_mapping())

    with tempfile.TemporaryDirectory(prefix="repro-audit-pip-") as tmp:
        proc, out = run_uv(
            requirements,
            target,
            Path(tmp),
            provided=provided,
            index_url=index,
            extra_index_urls=extras,
            cache_dir=cache_dir,
            options=UvOptions(tuple(find_links), pre, tuple(constraints)),
            exclude_newer=exclude_newer,
        )
        if proc.returncode != 0 or not out.is_file():
            raise_uv_failure(proc, requirements, target, provided, source)
        try:
            lock = tomllib.loads(out.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InfrastructureError(f"uv wrote an unreadable pylock.toml: {exc}") from None
        packages = [
            package
            for package in lock.get("packages", [])
            if canonicalize_name(str(package.get("name", ""))) not in provided
        ]
        vcs = [_vcs_package(p, requirements) for p in packages if isinstance(p.get("vcs"), dict)]
        chosen = [
            choose_wheel(package, target, out.parent, source)
            for package in packages
            if not isinstance(package.get("vcs"), dict)
        ]

    # like uv, an index's credentials apply to every URL of its host and port (the wheels)
    credentials.register_urls([index, *extras, *_env_index_urls()], whole_host=True)
    context = f"reading pip metadata on {platform}"
    infos = _map_threads(lambda c: fetch_wheel_info(c, cache_dir, context, source), chosen)

    metadata = {c.name: requires_dist(i.metadata) for c, i in zip(chosen, infos, strict=True)}
    metadata |= {v.name: _vcs_requires(v) for v in vcs}
    deps = dependencies(requirements, metadata, target.marker_env)
    result = [
        PipLocked(
            name=c.name,
            version=c.version,
            url=redact_url(c.url),
            sha256=c.sha256 or i.sha256,
            size=c.size,
            dependencies=deps[c.name],
        )
        for c, i in zip(chosen, infos, strict=True)
    ]
    result += [replace(v, dependencies=deps[v.name]) for v in vcs]
    return sorted(result, key=lambda p: p.name)


def _vcs_package(package: Mapping[str, Any], requirements: Sequence[str]) -> PipLocked:
    """A VCS package of uv's pylock as conda-lock records it: the URL at the commit, no hash.

    uv resolved the requested ref to `commit-id`; the remote is taken as written in the
    requirement when it names this package (a `${VAR}` placeholder stays a placeholder).
    """
    name = canonicalize_name(str(package["name"]))
    info = package["vcs"]
    remote = str(info.get("url", ""))
    for req in requirements:
        url = req.split(" @ ", 1)[1].split(";", 1)[0].strip() if " @ " in req else req
        parsed = parse_vcs_url(url)
        if parsed and requirement_name(req) == name:
            remote = parsed.remote
    return PipLocked(
        name=name,
        version=str(package.get("version", "")),
        url=pinned_url(remote, str(info["commit-id"])),
        sha256="",
        size=None,
    )


def _vcs_requires(locked: PipLocked) -> list[Requirement]:
    """The VCS package's own requirements at its commit (static pyproject metadata)."""
    parsed = parse_vcs_url(locked.url)
    texts = static_dependencies(parsed.remote, parsed.ref) if parsed else None
    out = []
    for text in texts or []:
        try:
            out.append(Requirement(text))
        except InvalidRequirement:
            continue
    return out


def _map_threads(fn: Callable[[Chosen], WheelInfo], items: Sequence[Chosen]) -> list[WheelInfo]:
    """Run metadata reads concurrently; the first error wins, in input order."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    workers = min(16, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pip-meta") as pool:
        futures = [pool.submit(fn, item) for item in items]
        return [future.result() for future in futures]


__all__ = [
    "MAPPING_PATH",
    "PipLocked",
    "Target",
    "conda_platform_to_uv",
    "conda_to_pypi_names",
    "load_mapping",
    "lock_pip",
    "make_target",
]
