"""environment.yml files → EnvSpec: what to solve, per platform.

What to solve comes from `audit.envfile.lines`, the reader `check` uses too: every conda
spec exactly as conda reads it (rattler's lenient parser on the original text), the pip
section read as a requirements file. conda-lock's parser is run only for what must stay
conda-lock's: the content hash (so `conda-lock` and `lock --check` agree), channels with
overrides, and categories; lines it cannot read (pip options, local sources, mamba's
`sel()`) are rewritten for it on a private copy, keeping line numbers. Before anything
runs, each file is checked so that bad input becomes one line with file:line: YAML syntax,
alias bombs, the document's shape, unknown platforms, invalid specs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from audit.core.errors import InputError
from audit.core.names import MAPPING_PATH
from audit.core.platforms import DEFAULT_PLATFORMS, check_platform
from audit.core.safeload import compose_yaml

if TYPE_CHECKING:
    from conda_lock.models.lock_spec import LockSpecification

@dataclass(frozen=True)
class SpecLine:
    """Where a dependency was written, for error messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class EnvSpec:
    """Everything a solve needs, per platform, plus conda-lock's own spec for the hash."""

    sources: tuple[Path, ...]
    platforms: tuple[str, ...]
    channels: tuple[str, ...]
    conda_specs: dict[str, tuple[str, ...]]
    pip_specs: dict[str, tuple[str, ...]]
    categories: dict[str, str]
    pip_index_urls: tuple[str, ...] = ()
    pip_extra_index_urls: tuple[str, ...] = ()
    lines: dict[str, SpecLine] = field(default_factory=dict)
    lock_spec: LockSpecification | None = None
    #: package → every file:line that constrains it (duplicates merge their constraints)
    duplicates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pip_find_links: tuple[str, ...] = ()
    pip_pre: bool = False
    pip_constraints: tuple[str, ...] = ()
    #: pip package → (expected sha256s, file:line): `--hash=` and `URL#sha256=`
    pip_hashes: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    #: local pip sources (`-e .`): "file:line: text", not lockable from an index
    pip_local: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Everything but conda-lock's own model: enough to solve without re-parsing."""
        return {
            "sources": [p.as_posix() for p in self.sources],
            "platforms": list(self.platforms),
            "channels": list(self.channels),
            "conda_specs": {k: list(v) for k, v in self.conda_specs.items()},
            "pip_specs": {k: list(v) for k, v in self.pip_specs.items()},
            "categories": dict(self.categories),
            "pip_index_urls": list(self.pip_index_urls),
            "pip_extra_index_urls": list(self.pip_extra_index_urls),
            "lines": {k: [v.file, v.line] for k, v in self.lines.items()},
            "duplicates": {k: list(v) for k, v in self.duplicates.items()},
            "pip_find_links": list(self.pip_find_links),
            "pip_pre": self.pip_pre,
            "pip_constraints": list(self.pip_constraints),
            "pip_hashes": {k: [list(h), w] for k, (h, w) in self.pip_hashes.items()},
            "pip_local": list(self.pip_local),
            "variables": dict(self.variables),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvSpec:
        return cls(
            sources=tuple(Path(p) for p in data["sources"]),
            platforms=tuple(data["platforms"]),
            channels=tuple(data["channels"]),
            conda_specs={k: tuple(v) for k, v in data["conda_specs"].items()},
            pip_specs={k: tuple(v) for k, v in data["pip_specs"].items()},
            categories=dict(data["categories"]),
            pip_index_urls=tuple(data["pip_index_urls"]),
            pip_extra_index_urls=tuple(data["pip_extra_index_urls"]),
            lines={k: SpecLine(v[0], int(v[1])) for k, v in data["lines"].items()},
            duplicates={k: tuple(v) for k, v in data.get("duplicates", {}).items()},
            pip_find_links=tuple(data.get("pip_find_links", ())),
            pip_pre=bool(data.get("pip_pre", False)),
            pip_constraints=tuple(data.get("pip_constraints", ())),
            pip_hashes={k: (tuple(h), w) for k, (h, w) in data.get("pip_hashes", {}).items()},
            pip_local=tuple(data.get("pip_local", ())),
            variables=dict(data.get("variables", {})),
            warnings=tuple(data.get("warnings", ())),
        )

    def hash_extras(self) -> dict[str, Any]:
        """What the lock depends on that conda-lock's content hash does not see.

        Empty for every file conda-lock reads alike (its hash then stays conda-lock's):
        `variables:`, pip hashes / constraints / find-links / `--pre` / local sources, and
        every spec of a package written more than once (conda-lock keeps only the last).
        """
        extras: dict[str, Any] = {
            "variables": dict(sorted(self.variables.items())),
            "pip_hashes": {k: sorted(h) for k, (h, _) in sorted(self.pip_hashes.items())},
            "pip_constraints": list(self.pip_constraints),
            "pip_find_links": list(self.pip_find_links),
            "pip_pre": self.pip_pre,
            "pip_local": [item.split(": ", 1)[-1] for item in self.pip_local],
            "duplicates": {
                name: {
                    p: [s for s in self.conda_specs.get(p, ()) if _spec_name(s) == name]
                    for p in self.platforms
                }
                for name in sorted(self.duplicates)
            },
        }
        return {k: v for k, v in extras.items() if v}

    def where(self, name: str) -> str | None:
        """file:line of the dependency `name`, when known."""
        found = self.lines.get(name.lower())
        return str(found) if found else None


# --------------------------------------------------------------------------- YAML checks


def read_source(path: Path) -> str:
    """The text of an environment file, or a clear error (size checked before reading)."""
    from audit.core.text import MAX_ENV_BYTES, check_size, decode_text

    check_size(path, str(path), MAX_ENV_BYTES)
    try:
        return decode_text(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise InputError("environment file not found", where=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an environment file", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None


def compose_checked(text: str, where: str) -> yaml.Node | None:
    """Compose YAML into nodes (keeping line numbers) through the shared input guard."""
    return compose_yaml(text, where)


def _mapping_get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _loc(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _scalar_items(node: yaml.Node, path: str, what: str) -> Iterator[yaml.ScalarNode]:
    """The scalar items of a sequence node, with clear errors for anything else."""
    if not isinstance(node, yaml.SequenceNode):
        raise InputError(f"'{what}' must be a list", where=_loc(path, node))
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            yield item
        elif not isinstance(item, yaml.MappingNode):
            raise InputError(f"'{what}' entries must be strings", where=_loc(path, item))


def check_document(node: yaml.Node | None, path: str) -> dict[str, Any]:
    """Check the shape of one environment file; return its `platforms` (as written)."""
    if node is None or not isinstance(node, yaml.MappingNode):
        raise InputError("an environment file must be a YAML mapping", where=path)
    deps = _mapping_get(node, "dependencies")
    if deps is None:
        raise InputError("no 'dependencies' list", where=path)
    for _ in _scalar_items(deps, path, "dependencies"):
        pass
    platforms: list[str] = []
    plat_node = _mapping_get(node, "platforms")
    if plat_node is not None:
        for item in _scalar_items(plat_node, path, "platforms"):
            platforms.append(check_platform(str(item.value), where=_loc(path, item)))
    channels = _mapping_get(node, "channels")
    if channels is not None:
        for _ in _scalar_items(channels, path, "channels"):
            pass
    return {"platforms": platforms}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- conda-lock

_SEL_LINE = re.compile(r"^(\s*-\s*)sel\(([^()]+)\)\s*:\s*(.*?)\s*$")


def for_conda_lock(text: str, node: yaml.Node | None) -> str | None:
    """The file as conda-lock's parser can read it, or None when it reads it as is.

    Keeps line numbers. `- sel(linux): pkg` becomes `- pkg  # [linux]`; a pip line that
    is an option, a local source, or carries per-line options is reduced to the
    requirement it names (or commented out): conda-lock's pip parser refuses them.
    """
    lines = text.splitlines(keepends=True)
    changed = False
    for number, line in enumerate(lines):
        match = _SEL_LINE.match(line)
        if match:
            lines[number] = f"{match.group(1)}{match.group(3)}  # [{match.group(2).strip()}]\n"
            changed = True
    for item, replacement in _pip_rewrites(node):
        number = item.start_mark.line
        if item.end_mark.line != number or number >= len(lines):
            continue
        line = lines[number]
        indent = line[: len(line) - len(line.lstrip())]
        if replacement is None:
            lines[number] = f"{indent}# {line.strip()}\n"
        else:
            head, tail = line[: item.start_mark.column], line[item.end_mark.column :]
            lines[number] = head + json.dumps(replacement) + tail  # a `# [sel]` stays
        changed = True
    return "".join(lines) if changed else None


def _pip_rewrites(node: yaml.Node | None) -> Iterator[tuple[yaml.ScalarNode, str | None]]:
    """pip items conda-lock cannot read, each with the requirement to give it (or None)."""
    from audit.envfile.pip import plain_requirement

    if not isinstance(node, yaml.MappingNode):
        return
    deps = _mapping_get(node, "dependencies")
    if not isinstance(deps, yaml.SequenceNode):
        return
    for item in deps.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        pip = _mapping_get(item, "pip")
        if not isinstance(pip, yaml.SequenceNode):
            continue
        for req in pip.value:
            if isinstance(req, yaml.ScalarNode):
                text = str(req.value).strip()
                plain = plain_requirement(text)
                if plain != text:
                    yield req, plain


def load_spec(
    files: Sequence[Path],
    *,
    platforms: Sequence[str] = (),
    channels: Sequence[str] = (),
) -> EnvSpec:
    """Parse and check `files` (merged in order) into an EnvSpec for `platforms`.

    Platforms default to the files' `platforms:` keys, else DEFAULT_PLATFORMS.
    """
    from audit.envfile.lines import read_envfiles

    for p in platforms:
        check_platform(p)
    file_platforms: list[str] = []
    with tempfile.TemporaryDirectory(prefix="repro-audit-spec-") as tmp:
        parse_paths: list[Path] = []
        for i, path in enumerate(files):
            text = read_source(path)
            node = compose_checked(text, str(path))
            facts = check_document(node, str(path))
            file_platforms.extend(p for p in facts["platforms"] if p not in file_platforms)
            rewritten = for_conda_lock(text, node)
            if rewritten is None:
                parse_paths.append(path)
                continue
            copy = Path(tmp) / str(i) / path.name
            copy.parent.mkdir()
            copy.write_text(rewritten, encoding="utf-8")
            parse_paths.append(copy)
        chosen = tuple(platforms) or tuple(file_platforms) or DEFAULT_PLATFORMS
        env = read_envfiles(list(files), [str(f) for f in files], chosen)
        lock_spec = _conda_lock_spec(files, parse_paths, chosen, channels)
    return _env_spec(files, chosen, env, lock_spec)


def _conda_lock_spec(
    files: Sequence[Path], parse_paths: list[Path], chosen: tuple[str, ...], channels: Sequence[str]
) -> LockSpecification:
    """conda-lock's own model of the files: its content hash, channels and categories."""
    import logging

    from conda_lock.src_parser import make_lock_spec

    # conda-lock logs every line a selector filters out: normal here, not worth a warning
    logging.getLogger("conda_lock").setLevel(logging.ERROR)
    try:
        lock_spec = make_lock_spec(
            src_files=parse_paths,
            channel_overrides=list(channels) or None,
            platform_overrides=list(chosen),
            mapping_url=str(MAPPING_PATH),
        )
    except InputError:
        raise
    except Exception as exc:
        where = str(files[0]) if len(files) == 1 else ", ".join(map(str, files))
        raise InputError(f"cannot parse environment: {_first_line(exc)}", where=where) from None
    lock_spec.sources = [Path(os.path.relpath(p)) if p.is_absolute() else p for p in files]
    return lock_spec


def _env_spec(
    files: Sequence[Path], chosen: tuple[str, ...], env: Any, lock_spec: LockSpecification
) -> EnvSpec:
    """The EnvSpec: specs from our reader, hash inputs from conda-lock's."""
    from audit.envfile.condaspec import parse_conda_spec

    lines: dict[str, SpecLine] = {}
    duplicates: dict[str, list[str]] = {}
    conda_specs: dict[str, tuple[str, ...]] = {}
    for platform in chosen:
        solver: list[str] = []
        for item in env.conda[platform]:
            spec = parse_conda_spec(item.value, item.where)
            solver.append(spec.solver)
            lines.setdefault(spec.name, SpecLine(item.file, item.line))
            seen = duplicates.setdefault(spec.name, [])
            if item.where not in seen:
                seen.append(item.where)
        conda_specs[platform] = tuple(dict.fromkeys(solver))
    pip_specs = {p: tuple(dict.fromkeys(r.value for r in env.pip[p])) for p in chosen}
    for platform in chosen:
        for req in env.pip[platform]:
            lines.setdefault(_pip_key(req.value), SpecLine(req.file, req.line))
    sections = [env.pip_sections[p] for p in chosen if p in env.pip_sections]
    categories: dict[str, str] = {}
    for deps in lock_spec.dependencies.values():
        for dep in deps:
            categories.setdefault(dep.name, dep.category)
    return EnvSpec(
        sources=tuple(files),
        platforms=chosen,
        channels=tuple(c.url for c in lock_spec.channels),
        conda_specs=conda_specs,
        pip_specs=pip_specs,
        categories=categories,
        pip_index_urls=_union(s.index_urls for s in sections),
        pip_extra_index_urls=_union(s.extra_index_urls for s in sections),
        lines=lines,
        lock_spec=lock_spec,
        duplicates={k: tuple(v) for k, v in duplicates.items() if len(v) > 1},
        pip_find_links=_union(s.find_links for s in sections),
        pip_pre=any(s.pre for s in sections),
        pip_constraints=_union([c.text for c in s.constraints] for s in sections),
        pip_hashes=_pip_hashes(sections),
        pip_local=_union([f"{r.where}: {r.written}" for r in s.local] for s in sections),
        variables=dict(env.variables),
        warnings=tuple(env.warnings),
    )


def _spec_name(solver: str) -> str:
    from audit.envfile.condaspec import parse_conda_spec

    return parse_conda_spec(solver).name


def _pip_key(requirement: str) -> str:
    from audit.envfile.lines import pip_name

    return pip_name(requirement)


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for group in groups:
        out.update(dict.fromkeys(group))
    return tuple(out)


def _pip_hashes(sections: list[Any]) -> dict[str, tuple[tuple[str, ...], str]]:
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for section in sections:
        for req in section.requirements:
            if req.hashes and req.name:
                known, where = out.get(req.name, ((), req.where))
                out[req.name] = (tuple(dict.fromkeys((*known, *req.hashes))), where)
    return out
