"""environment.yml files → EnvSpec: what to solve, per platform.

conda-lock's parser does the parsing (selectors, `platforms:`, `channel::pkg`, pip,
categories, several files merged). Before it runs, each file is checked here so that bad
input becomes one line with file:line instead of a traceback from deep inside a parser:
YAML syntax, alias bombs, the document's shape, unknown platforms and invalid match specs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from audit.core.errors import InputError
from audit.core.names import MAPPING_PATH
from audit.core.platforms import DEFAULT_PLATFORMS, check_platform

if TYPE_CHECKING:
    from conda_lock.models.lock_spec import LockSpecification

#: A YAML document whose aliases expand to more nodes than this is refused (alias bomb).
MAX_EXPANDED_NODES = 100_000

_PIP_OPTION_PREFIXES = ("-i ", "--index-url", "--extra-index-url", "-f ", "--find-links")


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
        )

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
    """Compose YAML into nodes (keeping line numbers), refusing syntax errors and alias bombs."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"YAML syntax error: {problem}", where=loc) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", where=where) from None
    if node is not None:
        _count_expanded(node, where)
    return node


def _count_expanded(root: yaml.Node, where: str) -> None:
    """Walk the node graph as a consumer would see it, aliases expanded, with a budget."""
    seen = 0
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_EXPANDED_NODES:
            raise InputError(
                f"YAML expands to more than {MAX_EXPANDED_NODES} nodes (an alias bomb?)",
                where=where,
            )
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)


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
    """Check the shape of one environment file; return facts the caller needs.

    Returns `lines` (dependency name → SpecLine), `platforms` (as written) and
    `pip_options` (True when the pip list holds option lines conda-lock cannot parse).
    """
    from rattler import MatchSpec

    if node is None or not isinstance(node, yaml.MappingNode):
        raise InputError("an environment file must be a YAML mapping", where=path)
    deps = _mapping_get(node, "dependencies")
    if deps is None:
        raise InputError("no 'dependencies' list", where=path)
    lines: dict[str, SpecLine] = {}
    pip_options = False
    for item in _scalar_items(deps, path, "dependencies"):
        spec = str(item.value).strip()
        if not spec:
            raise InputError("empty dependency", where=_loc(path, item))
        try:
            parsed = MatchSpec(spec)
        except Exception as exc:
            raise InputError(
                f"invalid match spec '{spec}': {_first_line(exc)}", where=_loc(path, item)
            ) from None
        name = parsed.name.normalized if parsed.name is not None else spec
        lines[str(name).lower()] = SpecLine(path, item.start_mark.line + 1)
    for item in deps.value:
        if isinstance(item, yaml.MappingNode):
            pip = _mapping_get(item, "pip")
            if pip is None:
                keys = ", ".join(str(k.value) for k, _ in item.value)
                raise InputError(
                    f"unknown dependency section '{keys}' (only 'pip' is supported)",
                    where=_loc(path, item),
                )
            if isinstance(pip, yaml.ScalarNode) and pip.value in ("", "~", "null"):
                continue
            for req in _scalar_items(pip, path, "pip"):
                text = str(req.value).strip()
                if text.startswith(_PIP_OPTION_PREFIXES):
                    pip_options = True
                    continue
                name = _pip_name(text)
                if name:
                    lines.setdefault(name, SpecLine(path, req.start_mark.line + 1))
    platforms: list[str] = []
    plat_node = _mapping_get(node, "platforms")
    if plat_node is not None:
        for item in _scalar_items(plat_node, path, "platforms"):
            platforms.append(check_platform(str(item.value), where=_loc(path, item)))
    channels = _mapping_get(node, "channels")
    if channels is not None:
        for _ in _scalar_items(channels, path, "channels"):
            pass
    return {"lines": lines, "platforms": platforms, "pip_options": pip_options}


def _pip_name(requirement: str) -> str:
    """The PEP 503 name of a pip requirement line, '' when it has none (a bare URL)."""
    import re

    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- conda-lock


def _without_pip_options(text: str) -> tuple[str, list[str], list[str]]:
    """Comment out pip option lines (conda-lock rejects them), keeping line numbers.

    Returns the new text and the index / extra-index URLs the lines named.
    """
    from audit.envfile.pip import split_pip_options

    out: list[str] = []
    options: list[str] = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("- ") and stripped[2:].strip().startswith(_PIP_OPTION_PREFIXES):
            options.append(stripped[2:].strip())
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# {stripped}\n")
        else:
            out.append(line)
    _, index_urls, extra_urls = split_pip_options(options)
    return "".join(out), index_urls, extra_urls


def load_spec(
    files: Sequence[Path],
    *,
    platforms: Sequence[str] = (),
    channels: Sequence[str] = (),
) -> EnvSpec:
    """Parse and check `files` (merged in order) into an EnvSpec for `platforms`.

    Platforms default to the files' `platforms:` keys, else DEFAULT_PLATFORMS.
    """
    import logging

    from conda_lock.models.lock_spec import VersionedDependency
    from conda_lock.src_parser import make_lock_spec

    # conda-lock logs every line a selector filters out: normal here, not worth a warning
    logging.getLogger("conda_lock").setLevel(logging.ERROR)

    for p in platforms:
        check_platform(p)
    lines: dict[str, SpecLine] = {}
    file_platforms: list[str] = []
    index_urls: list[str] = []
    extra_urls: list[str] = []
    with tempfile.TemporaryDirectory(prefix="repro-audit-spec-") as tmp:
        parse_paths: list[Path] = []
        for i, path in enumerate(files):
            text = read_source(path)
            facts = check_document(compose_checked(text, str(path)), str(path))
            for name, line in facts["lines"].items():
                lines.setdefault(name, line)
            file_platforms.extend(p for p in facts["platforms"] if p not in file_platforms)
            if facts["pip_options"]:
                text, idx, extra = _without_pip_options(text)
                index_urls.extend(idx)
                extra_urls.extend(extra)
                copy = Path(tmp) / str(i) / path.name
                copy.parent.mkdir()
                copy.write_text(text, encoding="utf-8")
                parse_paths.append(copy)
            else:
                parse_paths.append(path)
        chosen = tuple(platforms) or tuple(file_platforms) or DEFAULT_PLATFORMS
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

    conda_specs: dict[str, tuple[str, ...]] = {}
    pip_specs: dict[str, tuple[str, ...]] = {}
    categories: dict[str, str] = {}
    for platform, deps in lock_spec.dependencies.items():
        conda: list[str] = []
        pip: list[str] = []
        for dep in deps:
            categories.setdefault(dep.name, dep.category)
            if dep.manager == "conda":
                assert isinstance(dep, VersionedDependency)
                conda.append(_conda_match_spec(dep))
            else:
                pip.append(_pip_requirement(dep))
        conda_specs[platform] = tuple(conda)
        pip_specs[platform] = tuple(pip)
    return EnvSpec(
        sources=tuple(files),
        platforms=chosen,
        channels=tuple(c.url for c in lock_spec.channels),
        conda_specs=conda_specs,
        pip_specs=pip_specs,
        categories=categories,
        pip_index_urls=tuple(index_urls),
        pip_extra_index_urls=tuple(extra_urls),
        lines=lines,
        lock_spec=lock_spec,
    )


def _conda_match_spec(dep: Any) -> str:
    """A conda-lock VersionedDependency back into a MatchSpec string for rattler."""
    head = f"{dep.conda_channel}::{dep.name}" if dep.conda_channel else dep.name
    version = dep.version or ""
    if dep.build:
        return f"{head} {version or '*'} {dep.build}"
    return f"{head} {version}".strip()


def _pip_requirement(dep: Any) -> str:
    """A conda-lock pip dependency back into a PEP 508 requirement line for the resolver."""
    extras = f"[{','.join(sorted(dep.extras))}]" if getattr(dep, "extras", None) else ""
    if hasattr(dep, "url"):
        return f"{dep.name}{extras} @ {dep.url}"
    if hasattr(dep, "source"):
        rev = f"@{dep.rev}" if getattr(dep, "rev", None) else ""
        return f"{dep.name}{extras} @ {dep.vcs}+{dep.source}{rev}"
    if hasattr(dep, "path"):
        return f"{dep.name}{extras} @ file://{Path(dep.path).resolve()}"
    version = dep.version if dep.version not in ("", "*") else ""
    markers = f" ; {dep.markers}" if getattr(dep, "markers", None) else ""
    return f"{dep.name}{extras}{version}{markers}"
