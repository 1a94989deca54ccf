"""The environment.yml reader of `lock` and `check`: specs per platform, each with its line.

Both commands read the dependencies through this module, so they agree on what a file
asks for. It is light (no conda-lock: importing it costs ~0.4 s, more than `check` may
spend in total); `lock` uses conda-lock only for its content hash. Semantics: conda-lock's
platform selectors (a `# [linux]` comment keeps or drops its whole line,
`conda_lock/src_parser/selectors.py`) and mamba's `- sel(linux): pkg`; conda specs as
conda reads them (`audit.envfile.condaspec`), duplicates kept so their constraints merge;
the user's own `pip` spec, else the implicit `pip` a `pip:` section adds; the `pip:` list
read as a requirements file (`audit.envfile.pip`), markers evaluated per platform;
`variables:` kept; `prefix:` ignored. Every spec keeps the file and line it was written on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audit.core.errors import InputError
from audit.core.safeload import compose_yaml
from audit.envfile.condaspec import parse_conda_spec
from audit.envfile.pip import PipSection, read_pip_section

#: conda-lock's selector names per platform (copied from filter_platform_selectors).
PLATFORM_SELECTORS: dict[str, frozenset[str]] = {
    "linux-64": frozenset({"linux64", "unix", "linux"}),
    "linux-aarch64": frozenset({"aarch64", "unix", "linux"}),
    "linux-ppc64le": frozenset({"ppc64le", "unix", "linux"}),
    "osx-64": frozenset({"osx64", "osx", "unix"}),
    "osx-arm64": frozenset({"arm64", "osx", "unix"}),
    "win-64": frozenset({"win", "win64"}),
}
# conda-lock's (conda-build's) selector pattern, unchanged
_SELECTOR = re.compile(r"(.+?)\s*(#.*)\[([^\[\]]+)\](?(2)[^\(\)]*)$")
#: mamba's selector dialect: `- sel(linux): pkg`
_SEL = re.compile(r"^sel\(([^()]+)\)$")
#: pip marker variables for each conda platform (what conda-lock's evaluate_marker assumes)
_MARKER_ENV: dict[str, dict[str, str]] = {
    "linux-64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
    },
    "linux-aarch64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "aarch64",
    },
    "linux-ppc64le": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "ppc64le",
    },
    "osx-64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "os_name": "posix",
        "platform_machine": "x86_64",
    },
    "osx-arm64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "os_name": "posix",
        "platform_machine": "arm64",
    },
    "win-64": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "os_name": "nt",
        "platform_machine": "AMD64",
    },
}


@dataclass(frozen=True)
class Located:
    """A value as written, with the file and 1-based line it came from."""

    value: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class EnvFile:
    """What `lock` and `check` read from one or more environment files."""

    files: tuple[str, ...]
    channels: list[Located] = field(default_factory=list)
    platforms: list[Located] = field(default_factory=list)
    conda: dict[str, list[Located]] = field(default_factory=dict)  # platform → specs
    pip: dict[str, list[Located]] = field(default_factory=dict)  # platform → requirements
    pip_sections: dict[str, PipSection] = field(default_factory=dict)  # platform → section
    variables: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def platform_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.value for p in self.platforms))


def filter_selectors(text: str, platform: str) -> str:
    """conda-lock's selector filter, but a dropped line becomes blank (line numbers stay)."""
    wanted = PLATFORM_SELECTORS.get(platform, frozenset())
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            out.append("")
            continue
        match = _SELECTOR.match(line)
        out.append(line if match is None or match.group(3) in wanted else "")
    return "\n".join(out) + "\n"


def _compose(text: str, where: str) -> yaml.Node | None:
    return compose_yaml(text, where)


def _get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _empty(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"))


def _scalars(node: yaml.Node | None, where: str, what: str) -> Iterator[yaml.ScalarNode]:
    if _empty(node):
        return
    assert node is not None
    if not isinstance(node, yaml.SequenceNode):
        raise InputError(f"'{what}' must be a list", where=f"{where}:{_line(node)}")
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            yield item


def read_envfiles(paths: Sequence[Path], names: Sequence[str], platforms: Sequence[str]) -> EnvFile:
    """Parse `paths` (shown as `names` in findings) for each of `platforms`, merged in order.

    Within a file, every spec for a package is kept (their constraints merge); a later
    file's specs for a package replace an earlier file's, as conda-lock merges files.
    """
    env = EnvFile(files=tuple(names))
    merged_conda: dict[str, dict[str, list[Located]]] = {p: {} for p in platforms}
    merged_pip: dict[str, dict[str, list[Located]]] = {p: {} for p in platforms}
    for path, name in zip(paths, names, strict=True):
        text = _read(path, name)
        root = _compose(text, name)
        if not isinstance(root, yaml.MappingNode):
            raise InputError("an environment file must be a YAML mapping", where=name)
        if _get(root, "dependencies") is None:
            raise InputError("no 'dependencies' list", where=name)
        for item in _scalars(_get(root, "channels"), name, "channels"):
            env.channels.append(Located(str(item.value).strip(), name, _line(item)))
        for item in _scalars(_get(root, "platforms"), name, "platforms"):
            env.platforms.append(Located(str(item.value).strip(), name, _line(item)))
        env.variables.update(_variables(_get(root, "variables"), name))
        by_text: dict[str, _Deps] = {}
        for platform in platforms:
            filtered = filter_selectors(text, platform)
            key = f"{platform if _has_sel(text) else ''}\0{filtered}"
            if key not in by_text:
                by_text[key] = _dependencies(_compose(filtered, name), name, platform, path.parent)
            deps = by_text[key]
            _merge(merged_conda[platform], deps.conda, lambda v: parse_conda_spec(v.value).name)
            reqs = [r for r in deps.pip if _marker_ok(r.value, platform)]
            _merge(merged_pip[platform], reqs, lambda v: pip_name(v.value))
            env.pip_sections[platform] = _merge_sections(env.pip_sections.get(platform), deps)
            for warning in deps.warnings:
                if warning not in env.warnings:
                    env.warnings.append(warning)
    env.conda = {p: [s for specs in m.values() for s in specs] for p, m in merged_conda.items()}
    env.pip = {p: [r for reqs in m.values() for r in reqs] for p, m in merged_pip.items()}
    return env


def _read(path: Path, name: str) -> str:
    """The file's text: refused at once over the size limit, one wording for non-text."""
    from audit.core.text import MAX_ENV_BYTES, check_size, decode_text

    check_size(path, name, MAX_ENV_BYTES)
    try:
        return decode_text(path.read_bytes(), name)
    except FileNotFoundError:
        raise InputError("environment file not found", where=name) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=name) from None


def _has_sel(text: str) -> bool:
    return "sel(" in text


def _merge(into: dict[str, list[Located]], items: list[Located], key: Any) -> None:
    """Group by package; a file's group replaces an earlier file's group for that package."""
    fresh: dict[str, list[Located]] = {}
    for item in items:
        group = fresh.setdefault(key(item), [])
        if all(g.value != item.value for g in group):
            group.append(item)
    into.update(fresh)


def _merge_sections(old: PipSection | None, deps: _Deps) -> PipSection:
    if old is None:
        return deps.section
    new = deps.section
    old.requirements += new.requirements
    old.constraints += new.constraints
    old.local += new.local
    old.index_urls += [u for u in new.index_urls if u not in old.index_urls]
    old.extra_index_urls += [u for u in new.extra_index_urls if u not in old.extra_index_urls]
    old.find_links += [u for u in new.find_links if u not in old.find_links]
    old.pre = old.pre or new.pre
    old.require_hashes = old.require_hashes or new.require_hashes
    return old


def _variables(node: yaml.Node | None, where: str) -> dict[str, str]:
    """`variables:` (what `conda activate` exports), values as strings."""
    if _empty(node):
        return {}
    assert node is not None
    if not isinstance(node, yaml.MappingNode):
        raise InputError("'variables' must be a mapping", where=f"{where}:{_line(node)}")
    out: dict[str, str] = {}
    for key, value in node.value:
        name = str(key.value).strip() if isinstance(key, yaml.ScalarNode) else ""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"invalid variable name '{name}'", where=f"{where}:{_line(key)}")
        if not isinstance(value, yaml.ScalarNode):
            raise InputError(f"variable '{name}' must be a string", where=f"{where}:{_line(value)}")
        out[name] = "" if value.value in ("~", "null") else str(value.value)
    return out


@dataclass
class _Deps:
    conda: list[Located]
    pip: list[Located]
    section: PipSection
    warnings: list[str]


def _dependencies(root: yaml.Node | None, where: str, platform: str, base_dir: Path) -> _Deps:
    """Conda specs and the pip section of one (selector-filtered) document."""
    deps = _Deps([], [], PipSection(), [])
    if not isinstance(root, yaml.MappingNode):
        return deps
    node = _get(root, "dependencies")
    if node is None or _empty(node):
        return deps
    if not isinstance(node, yaml.SequenceNode):
        raise InputError("'dependencies' must be a list", where=f"{where}:{_line(node)}")
    pip_line = 0
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            _conda_item(deps, str(item.value), where, _line(item))
        elif isinstance(item, yaml.MappingNode):
            pip_line = _mapping_item(deps, item, where, platform, base_dir) or pip_line
        else:
            raise InputError(
                "'dependencies' entries must be strings", where=f"{where}:{_line(item)}"
            )
    # conda-lock adds `pip` to the conda dependencies when the pip: section asks for any
    # package (a local source alone does not count; it is not locked)
    if deps.section.requirements and not any(
        parse_conda_spec(c.value).name == "pip" for c in deps.conda
    ):
        deps.conda.append(Located("pip", where, pip_line))
    deps.pip = [Located(r.text, r.file, r.line) for r in deps.section.requirements]
    return deps


def _conda_item(deps: _Deps, text: str, where: str, line: int) -> None:
    text = text.strip()
    if not text:
        raise InputError("empty dependency", where=f"{where}:{line}")
    spec = parse_conda_spec(text, f"{where}:{line}")
    if spec.warning:
        deps.warnings.append(f"{where}:{line}: {spec.warning}")
    deps.conda.append(Located(text, where, line))


def _mapping_item(
    deps: _Deps, item: yaml.MappingNode, where: str, platform: str, base_dir: Path
) -> int:
    """A `pip:` section or a `sel(...)` item; returns the pip: line (0 for a selector)."""
    keys = [str(k.value) for k, _ in item.value if isinstance(k, yaml.ScalarNode)]
    if len(keys) == 1 and (match := _SEL.match(keys[0].strip())):
        value = item.value[0][1]
        if not isinstance(value, yaml.ScalarNode):
            raise InputError(f"'{keys[0]}' must name one package", where=f"{where}:{_line(item)}")
        if match.group(1).strip() in PLATFORM_SELECTORS.get(platform, frozenset()):
            _conda_item(deps, str(value.value), where, _line(value))
        return 0
    section = _get(item, "pip")
    if section is None:
        raise InputError(
            f"unknown dependency section '{', '.join(keys)}' (only 'pip' is supported)",
            where=f"{where}:{_line(item)}",
        )
    items = [(str(r.value), where, _line(r)) for r in _scalars(section, where, "pip")]
    read_pip_section(items, base_dir, section=deps.section)
    return _line(item)


_NAME_END = re.compile(r"[\s<>=!~\[;@]")


def pip_name(requirement: str) -> str:
    """PEP 503 normalised name of a requirement line (a bare VCS URL: its repository name)."""
    text = requirement.strip()
    if "://" in text.split(" @ ", 1)[0].split("@", 1)[0] or text.startswith(("git+", "hg+")):
        url = text.split(";", 1)[0].strip()
        if "#egg=" in url:
            head = url.split("#egg=", 1)[1]
        else:
            last = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            head = last.split("@", 1)[0].removesuffix(".git")
    else:
        head = _NAME_END.split(text, 1)[0]
    return re.sub(r"[-_.]+", "-", head).lower()


def _marker_ok(requirement: str, platform: str) -> bool:
    """False when the requirement's marker excludes `platform` (conda-lock drops it)."""
    if ";" not in requirement:
        return True
    try:
        from packaging.markers import Marker

        marker = Marker(requirement.split(";", 1)[1])
        return marker.evaluate(_MARKER_ENV.get(platform, {}))
    except Exception:
        return True
