"""A light environment.yml reader for `check`: specs per platform, each with its line.

`audit.envfile.spec` is the truth for `lock` (conda-lock's parser underneath), but importing
conda-lock costs ~0.4 s, more than `check` may spend in total. This reader keeps the same
semantics for what `check` needs: conda-lock's platform selectors (a `# [linux]` comment
keeps or drops its whole line, `conda_lock/src_parser/selectors.py`), the implicit `pip`
dependency a `pip:` section adds, pip option lines skipped, and pip markers evaluated for
the target platform. Every spec keeps the file and line it was written on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from audit.core.errors import InputError
from audit.core.yamlio import safe_loader

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
_PIP_OPTION_PREFIXES = ("-i ", "--index-url", "--extra-index-url", "-f ", "--find-links", "-e ")
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


@dataclass
class EnvFile:
    """What `check` needs from one or more environment files."""

    files: tuple[str, ...]
    channels: list[Located] = field(default_factory=list)
    platforms: list[Located] = field(default_factory=list)
    conda: dict[str, list[Located]] = field(default_factory=dict)  # platform → specs
    pip: dict[str, list[Located]] = field(default_factory=dict)  # platform → requirements

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
    loader = safe_loader()
    try:
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{where}:{mark.line + 1}" if mark else where
        raise InputError(f"YAML syntax error: {exc.problem or exc.context}", where=loc) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", where=where) from None


def _get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _scalars(node: yaml.Node | None, where: str, what: str) -> Iterator[yaml.ScalarNode]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
        return
    if not isinstance(node, yaml.SequenceNode):
        raise InputError(f"'{what}' must be a list", where=f"{where}:{_line(node)}")
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            yield item


def read_envfiles(paths: Sequence[Path], names: Sequence[str], platforms: Sequence[str]) -> EnvFile:
    """Parse `paths` (shown as `names` in findings) for each of `platforms`, merged in order.

    A later file's spec for the same package replaces an earlier one, as conda-lock does.
    """
    env = EnvFile(files=tuple(names))
    merged_conda: dict[str, dict[str, Located]] = {p: {} for p in platforms}
    merged_pip: dict[str, dict[str, Located]] = {p: {} for p in platforms}
    for path, name in zip(paths, names, strict=True):
        from audit.core.text import MAX_ENV_BYTES, check_size, decode_text

        check_size(path, name, MAX_ENV_BYTES)
        try:
            text = decode_text(path.read_bytes(), name)
        except FileNotFoundError:
            raise InputError("environment file not found", where=name) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", where=name) from None
        root = _compose(text, name)
        if not isinstance(root, yaml.MappingNode):
            raise InputError("an environment file must be a YAML mapping", where=name)
        if _get(root, "dependencies") is None:
            raise InputError("no 'dependencies' list", where=name)
        for item in _scalars(_get(root, "channels"), name, "channels"):
            env.channels.append(Located(str(item.value).strip(), name, _line(item)))
        for item in _scalars(_get(root, "platforms"), name, "platforms"):
            env.platforms.append(Located(str(item.value).strip(), name, _line(item)))
        by_text: dict[str, tuple[list[Located], list[Located]]] = {}
        for platform in platforms:
            filtered = filter_selectors(text, platform)
            if filtered not in by_text:
                by_text[filtered] = _dependencies(_compose(filtered, name), name)
            conda, pip = by_text[filtered]
            for spec in conda:
                merged_conda[platform][_conda_name(spec.value)] = spec
            for req in pip:
                if _marker_ok(req.value, platform):
                    merged_pip[platform][pip_name(req.value)] = req
    env.conda = {p: list(specs.values()) for p, specs in merged_conda.items()}
    env.pip = {p: list(reqs.values()) for p, reqs in merged_pip.items()}
    return env


def _dependencies(root: yaml.Node | None, where: str) -> tuple[list[Located], list[Located]]:
    """Conda specs and pip requirements of one (selector-filtered) document."""
    conda: list[Located] = []
    pip: list[Located] = []
    if not isinstance(root, yaml.MappingNode):
        return conda, pip
    deps = _get(root, "dependencies")
    if deps is None:
        return conda, pip
    if not isinstance(deps, yaml.SequenceNode):
        raise InputError("'dependencies' must be a list", where=f"{where}:{_line(deps)}")
    for item in deps.value:
        if isinstance(item, yaml.ScalarNode):
            text = str(item.value).strip()
            if text:
                conda.append(Located(text, where, _line(item)))
        elif isinstance(item, yaml.MappingNode):
            section = _get(item, "pip")
            if section is None or (
                isinstance(section, yaml.ScalarNode) and section.value in ("", "~", "null")
            ):
                continue
            for req in _scalars(section, where, "pip"):
                text = str(req.value).strip()
                if text and not text.startswith(_PIP_OPTION_PREFIXES):
                    pip.append(Located(text, where, _line(req)))
            # conda-lock adds `pip` to the conda dependencies of an env with a pip: section
            if not any(_conda_name(c.value) == "pip" for c in conda):
                conda.append(Located("pip", where, _line(item)))
    return conda, pip


_NAME_END = re.compile(r"[\s<>=!~\[;@]")


def _conda_name(spec: str) -> str:
    """Package name of a conda match spec (`chan::name >=1` → `name`), lower case."""
    head = spec.split("::", 1)[-1].strip()
    return _NAME_END.split(head, 1)[0].lower()


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
