"""Lock the `pip:` section of environment.yml per platform: exact wheels with hashes.

Why uv: one `uv pip compile --python-platform` call resolves for any target from Linux and
writes PEP 751 `pylock.toml` with the wheel URLs and sha256 of every package. What uv does
not give us, and this module adds:

* conda consistency: every package of the conda solve becomes a constraint `name==version`
  backed by a dependency-free stub wheel (`name-version+conda`), so pip packages resolve
  against what conda installs even when the index lacks that exact version, and conda's
  own dependency tree never leaks into the pip solve; the stubs are dropped afterwards;
* one wheel per package, chosen by the target's tag priority (computed for the TARGET,
  not the host; `linux_*` wheels are not portable and never chosen);
* each package's dependencies: uv's pylock has no `dependencies` table, so they come from
  the wheel's METADATA (PEP 658 sidecar, else HTTP range reads of the zip, else the file),
  with Requires-Dist markers evaluated for the target;
* errors a user can act on: one line naming the requirement and platform, exit 2 for bad
  input, exit 3 when an index cannot be reached.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.parser import HeaderParser
from http.client import HTTPException
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from audit.core.errors import FindingsError, InfrastructureError, InputError
from audit.core.names import MAPPING_PATH, load_mapping  # noqa: F401
from audit.core.redact import redact_url
from audit.lockfile.models import PipLocked  # noqa: F401
from audit.lockfile.vcs import parse_vcs_url, pinned_url, static_dependencies

#: conda platform -> (uv target prefix, wheel arch); linux targets get a manylinux suffix.
_PLATFORMS: dict[str, tuple[str, str]] = {
    "linux-64": ("x86_64", "x86_64"),
    "linux-aarch64": ("aarch64", "aarch64"),
    "osx-64": ("x86_64-apple-darwin", "x86_64"),
    "osx-arm64": ("aarch64-apple-darwin", "arm64"),
    "win-64": ("x86_64-pc-windows-msvc", "AMD64"),
}
#: The `<arch>-manylinux_2_<minor>` targets uv 0.13 accepts.
_UV_MANYLINUX_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_DEFAULT_GLIBC = "2.28"
#: uv 0.13's own default for both mac targets; we pass it explicitly (so a stray
#: MACOSX_DEPLOYMENT_TARGET in the user's shell cannot change a lock) and compute the same
#: tags. conda-lock's `__osx` 11.0 would reject e.g. every recent scikit-learn arm64 wheel
#: (tagged macosx_12_0); pass `macos=` to be stricter.
_DEFAULT_MACOS = "13.0"
#: Never stubbed: not a PyPI distribution even though conda installs it.
_NOT_PYPI = frozenset({"python"})
_STUB_LABEL = "conda"
_HTTP_TIMEOUT = 60.0
#: Metadata reads in flight across all threads (platforms lock concurrently).
_HTTP_SLOTS = threading.BoundedSemaphore(16)
_NET_ERRORS = (urllib.error.URLError, OSError, HTTPException)
_RANGE_CHUNK = 64 * 1024
_UV_TIMEOUT = 1800.0

# uv's stderr when the network, not the input, is at fault (uv 0.13 wording).
_INFRA_PATTERNS = re.compile(
    r"error sending request|connection refused|dns error|failed to lookup address"
    r"|tcp connect error|timed out|connection reset|network is unreachable"
    r"|request failed after \d+ retr|server error \(5\d\d"
    r"|could not resolve host|failed to connect to",  # git's wording (VCS requirements)
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    """Everything that makes a resolution platform-specific, computed for the target."""

    platform: str
    python_version: str  # as given to uv: X.Y or X.Y.Z
    uv_platform: str
    tags: tuple[Tag, ...]  # most preferred first
    marker_env: dict[str, str]
    uv_env: dict[str, str]  # extra environment for uv (MACOSX_DEPLOYMENT_TARGET)

    @functools.cached_property
    def tag_rank(self) -> dict[Tag, int]:
        return {tag: i for i, tag in enumerate(self.tags)}


# --------------------------------------------------------------------------- platforms


def _glibc_minor(glibc: str | None) -> int:
    """The uv manylinux minor for `__glibc`: the newest uv target not above it."""
    text = glibc or _DEFAULT_GLIBC
    match = re.fullmatch(r"2\.(\d+)(?:\.\d+)*", text.strip())
    if not match:
        raise InputError(f"invalid glibc version '{text}' (expected 2.N)")
    minor = int(match.group(1))
    usable = [m for m in _UV_MANYLINUX_MINORS if m <= minor]
    if not usable:
        raise InputError(f"glibc {text} is older than 2.17, the oldest manylinux uv can target")
    return usable[-1]


def conda_platform_to_uv(platform: str, glibc: str | None = None) -> str:
    """The `uv --python-platform` target for a conda platform.

    linux-64 -> x86_64-manylinux_2_28 (the manylinux version from `__glibc`, default 2.28,
    lowered to the nearest target uv knows), linux-aarch64 -> aarch64-manylinux_2_28,
    osx-64 -> x86_64-apple-darwin, osx-arm64 -> aarch64-apple-darwin,
    win-64 -> x86_64-pc-windows-msvc; anything else is an InputError.
    """
    if platform not in _PLATFORMS:
        raise InputError(
            f"pip packages cannot be locked for platform '{platform}'"
            f" (supported: {', '.join(_PLATFORMS)})"
        )
    prefix, _ = _PLATFORMS[platform]
    if platform.startswith("linux-"):
        return f"{prefix}-manylinux_2_{_glibc_minor(glibc)}"
    return prefix


def _python_tuple(python_version: str) -> tuple[int, int, int | None]:
    match = re.fullmatch(r"3\.(\d+)(?:\.(\d+))?", python_version.strip())
    if not match:
        raise InputError(f"invalid Python version '{python_version}' (expected 3.N or 3.N.M)")
    micro = int(match.group(2)) if match.group(2) is not None else None
    return 3, int(match.group(1)), micro


def _manylinux_platforms(minor: int, arch: str) -> list[str]:
    """manylinux tags from glibc 2.`minor` down, legacy aliases after their PEP 600 twin."""
    floor = 5 if arch == "x86_64" else 17
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    out: list[str] = []
    for m in range(minor, floor - 1, -1):
        out.append(f"manylinux_2_{m}_{arch}")
        if m in legacy and (m == 17 or arch == "x86_64"):
            out.append(f"{legacy[m]}_{arch}")
    return out


def _macos_version(macos: str | None, arch: str) -> tuple[int, int]:
    text = macos or _DEFAULT_MACOS
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)*", text.strip())
    if not match:
        raise InputError(f"invalid macOS version '{text}' (expected N.M)")
    version = (int(match.group(1)), int(match.group(2) or 0))
    return max(version, (11, 0)) if arch == "arm64" else version


def make_target(
    platform: str, python_version: str, *, glibc: str | None = None, macos: str | None = None
) -> Target:
    """Tags, marker environment and uv settings for a conda platform and Python version."""
    uv_platform = conda_platform_to_uv(platform, glibc)
    major, minor, micro = _python_tuple(python_version)
    _, arch = _PLATFORMS[platform]
    uv_env: dict[str, str] = {}
    if platform.startswith("linux-"):
        platforms = _manylinux_platforms(_glibc_minor(glibc), arch)
        system, sys_platform, os_name = "Linux", "linux", "posix"
    elif platform.startswith("osx-"):
        mac = _macos_version(macos, arch)
        platforms = list(mac_platforms(mac, arch))
        uv_env["MACOSX_DEPLOYMENT_TARGET"] = f"{mac[0]}.{mac[1]}"
        system, sys_platform, os_name = "Darwin", "darwin", "posix"
    else:
        platforms = ["win_amd64"]
        system, sys_platform, os_name = "Windows", "win32", "nt"
    py = (major, minor)
    tags = list(cpython_tags(py, abis=[f"cp{major}{minor}"], platforms=platforms))
    tags += list(compatible_tags(py, interpreter=f"cp{major}{minor}", platforms=platforms))
    full = f"{major}.{minor}.{micro if micro is not None else 0}"
    marker_env = {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": os_name,
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{major}.{minor}",
        "sys_platform": sys_platform,
    }
    return Target(
        platform=platform,
        python_version=python_version.strip(),
        uv_platform=uv_platform,
        tags=tuple(dict.fromkeys(tags)),
        marker_env=marker_env,
        uv_env=uv_env,
    )


# --------------------------------------------------------------------------- name mapping


def _pypi_names_for_conda(conda_name: str, mapping: Mapping[str, str]) -> list[str]:
    """All PyPI names a conda package provides: mapped names first, then the identity.

    The identity is left out when the mapping sends that PyPI name to another conda
    package: conda's `graphviz` is the C library, PyPI's `graphviz` is `python-graphviz`.
    """
    conda = conda_name.lower()
    names = sorted(canonicalize_name(p) for p, c in mapping.items() if c.lower() == conda)
    identity = canonicalize_name(conda)
    target = mapping.get(identity)
    if (target is None or target.lower() == conda) and identity not in names:
        names.append(identity)
    return names


def conda_to_pypi_names(conda_names: Iterable[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """conda name -> PyPI normalised name: the inverse mapping, identity when absent.

    A conda name whose identity PyPI name belongs to another conda package (conda
    `graphviz` vs PyPI `graphviz` = conda `python-graphviz`) is left out: it provides
    no PyPI distribution under any name we know.
    """
    out: dict[str, str] = {}
    for conda in conda_names:
        names = _pypi_names_for_conda(conda, mapping)
        if names:
            out[conda] = names[0]
    return out


def _conda_provided(
    conda_installed: Mapping[str, str], mapping: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """PyPI name -> (conda version, conda name) for every conda package pip could need."""
    provided: dict[str, tuple[str, str]] = {}
    for conda, version in sorted(conda_installed.items()):
        try:
            parsed = Version(str(version))
        except InvalidVersion:
            continue  # not a Python distribution version (e.g. openssl 1.1.1w)
        for name in _pypi_names_for_conda(conda, mapping):
            if name in _NOT_PYPI or not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", name):
                continue
            provided.setdefault(name, (str(parsed), conda))
    return provided


def _write_stub_wheel(directory: Path, name: str, version: str) -> None:
    """A dependency-free wheel standing for a conda-installed package in the pip solve."""
    ver = Version(version)
    stub = f"{ver}.{_STUB_LABEL}" if ver.local else f"{ver}+{_STUB_LABEL}"
    dist = name.replace("-", "_").replace(".", "_")
    info = f"{dist}-{stub}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {stub}\n\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: repro-audit\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n\n",
    }
    record = "".join(
        f"{p},sha256={_b64_sha256(d.encode())},{len(d.encode())}\n" for p, d in files.items()
    )
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{dist}-{stub}-py3-none-any.whl", "w") as archive:
        for arcname, text in files.items():
            archive.writestr(zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0)), text)


def _b64_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --------------------------------------------------------------------------- pip options


_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(url: str, source: str) -> str:
    """pip's `${VAR}` expansion in index URLs (tokens live in the CI environment)."""

    def sub(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise InputError(
                f"pip index URL uses ${{{match.group(1)}}}, which is not set", where=source
            )
        return value

    return _ENV_VAR.sub(sub, url)


# --------------------------------------------------------------------------- uv


_UV_LOCK = threading.Lock()
_UV_PATH: list[str] = []


def _uv_binary() -> str:
    """uv's executable, found once under a lock.

    `uv.find_uv_bin` reads `sysconfig`, whose lazy initialisation is not thread-safe
    (concurrent first calls see `EXE` as None), and the caller locks platforms in threads.
    """
    with _UV_LOCK:
        if not _UV_PATH:
            try:
                from uv import find_uv_bin

                _UV_PATH.append(find_uv_bin())
            except (ImportError, FileNotFoundError, TypeError) as exc:
                raise InfrastructureError(
                    f"uv is not available ({exc})",
                    hint="install repro-audit with its uv dependency",
                ) from None
        return _UV_PATH[0]


def _run_uv(
    requirements: Sequence[str],
    target: Target,
    workdir: Path,
    *,
    provided: Mapping[str, tuple[str, str]],
    index_url: str | None,
    extra_index_urls: Sequence[str],
    cache_dir: Path | None,
    options: _UvOptions | None = None,
    exclude_newer: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Write req.in / constraints / stubs into `workdir`, run one `uv pip compile`."""
    options = options or _UvOptions()
    req_in = workdir / "req.in"
    req_in.write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
    out = workdir / "out" / "pylock.toml"
    out.parent.mkdir()
    cmd = [
        _uv_binary(),
        "pip",
        "compile",
        str(req_in),
        "--python",
        sys.executable,  # no interpreter discovery: the target comes from the flags below
        "--python-version",
        target.python_version,
        "--python-platform",
        target.uv_platform,
        "--format",
        "pylock.toml",
        "-o",
        str(out),
        "--no-header",
        "--quiet",
        "--only-binary",
        ":all:",
        "--no-config",
        "--no-python-downloads",
        "--color",
        "never",
    ]
    if provided:
        stubs = workdir / "conda-stubs"
        stubs.mkdir()
        constraints = workdir / "constraints.txt"
        lines = []
        for name, (version, _) in sorted(provided.items()):
            _write_stub_wheel(stubs, name, version)
            # `==public` admits the stub's local label (`==1.0+cpu` would not admit `1.0+cpu.conda`)
            lines.append(f"{name}=={Version(version).public}\n")
        constraints.write_text("".join(lines), encoding="utf-8")
        cmd += ["-c", str(constraints), "--find-links", str(stubs)]
    cmd += options.arguments(workdir)
    for name in _vcs_names(requirements):
        cmd += ["--no-binary", name]  # uv may build exactly these, for their metadata
    if cache_dir is not None:
        cmd += ["--cache-dir", str(Path(cache_dir) / "uv")]
    if exclude_newer is not None:
        cmd += ["--exclude-newer", exclude_newer]  # `lock --as-of`: PyPI as it stood then
    env = dict(os.environ)
    env.update(target.uv_env)
    env.pop("FORCE_COLOR", None)
    # Index URLs go through the environment: credentials stay out of the process list.
    if index_url:
        env["UV_INDEX_URL"] = _with_credentials(index_url)
        env.pop("UV_DEFAULT_INDEX", None)
    if extra_index_urls:
        env["UV_EXTRA_INDEX_URL"] = " ".join(_with_credentials(u) for u in extra_index_urls)
        env.pop("UV_INDEX", None)
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_UV_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(
            f"uv did not finish resolving the pip packages for {target.platform}"
            f" within {int(_UV_TIMEOUT)} s"
        ) from None
    except OSError as exc:
        raise InfrastructureError(f"cannot run uv: {exc.strerror}") from None
    return proc, out


def _vcs_names(requirements: Sequence[str]) -> list[str]:
    """Names of the VCS requirements (a bare URL: its repository's name), sorted.

    A VCS checkout has no wheel: uv builds its metadata when the project declares it
    dynamically, which `--only-binary :all:` forbids unless the package is exempted.
    """
    names: set[str] = set()
    for req in requirements:
        url = req.split(" @ ", 1)[1].strip() if " @ " in req else req
        parsed = parse_vcs_url(url.split(";", 1)[0].strip())
        if parsed is None:
            continue
        repo = parsed.remote.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        names.add(_requirement_name(req) if " @ " in req else canonicalize_name(repo))
    return sorted(n for n in names if n)


@dataclass(frozen=True)
class _UvOptions:
    """The pip section's own options: `--find-links`, `--pre`, `-c` lines."""

    find_links: tuple[str, ...] = ()
    pre: bool = False
    constraints: tuple[str, ...] = ()

    def arguments(self, workdir: Path) -> list[str]:
        out: list[str] = []
        for link in self.find_links:
            out += ["--find-links", link]
        if self.pre:
            out += ["--prerelease", "allow"]
        if self.constraints:
            path = workdir / "user-constraints.txt"
            path.write_text("".join(f"{c}\n" for c in self.constraints), encoding="utf-8")
            out += ["-c", str(path)]
        return out


@dataclass(frozen=True)
class _UvError:
    """uv's stderr, split into its `error:` line, `cause:` blocks and hints."""

    error: str
    causes: tuple[str, ...]
    hints: tuple[str, ...]

    @classmethod
    def parse(cls, stderr: str) -> _UvError:
        error = ""
        causes: list[list[str]] = []
        hints: list[list[str]] = []
        current: list[str] | None = None
        for raw in stderr.splitlines():
            line = raw.strip()
            if not line:
                current = None
                continue
            low = line.lower()
            if low.startswith("error:") and not error:
                error, current = line[6:].strip(), None
            elif low.startswith(("cause:", "caused by:")):
                causes.append([line.split(":", 1)[1].strip()])
                current = causes[-1]
            elif low.startswith("hint:"):
                hints.append([line[5:].strip()])
                current = hints[-1]
            elif current is not None and set(line) <= {"^", " "}:
                if len(current) > 1:
                    current.pop()  # uv echoes the offending input above its carets
            elif current is not None:
                current.append(line)
        if not error:
            lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
            error = lines[0] if lines else "uv failed without a message"
        return cls(error, tuple(" ".join(c) for c in causes), tuple(" ".join(h) for h in hints))

    @property
    def key_line(self) -> str:
        """The line that says what is wrong: the first cause, else the error itself."""
        return self.causes[0] if self.causes else self.error


def _one_line(text: str) -> str:
    return redact_url(re.sub(r"\s+", " ", text).strip())


def _blamed_requirement(requirements: Sequence[str], req_text: str, stderr: str) -> str:
    """Which requirement uv complains about: by position, by name, else all of them."""
    match = re.search(r"at position (\d+)", stderr)
    if match:
        line_no = req_text[: int(match.group(1))].count("\n")
        if line_no < len(requirements):
            return requirements[line_no]
    match = re.search(r"req\.in:(\d+)", stderr)
    if match and 0 < int(match.group(1)) <= len(requirements):
        return requirements[int(match.group(1)) - 1]
    tokens = {canonicalize_name(t) for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", stderr)}
    required = {
        canonicalize_name(m)
        for m in re.findall(r"you require (?:one of: )?([A-Za-z0-9._-]+)", stderr)
    }
    named = [r for r in requirements if _requirement_name(r) in required] or [
        r for r in requirements if _requirement_name(r) in tokens
    ]
    return ", ".join(named or requirements)


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonicalize_name(match.group(1)) if match else ""


def _raise_uv_failure(
    proc: subprocess.CompletedProcess[str],
    requirements: Sequence[str],
    target: Target,
    provided: Mapping[str, tuple[str, str]],
    source: str,
) -> None:
    stderr = proc.stderr or ""
    parsed = _UvError.parse(stderr)
    if _INFRA_PATTERNS.search(stderr):
        fetched = re.search(r"(?:Failed to fetch|for url)[:\s(]+`?(\S+?)[`)]?(?:\s|$)", stderr)
        reason = parsed.causes[-1] if parsed.causes else parsed.error
        raise InfrastructureError(
            f"pip index unreachable while locking for {target.platform}: {_one_line(reason)}",
            where=source,
            hint=_one_line(f"fetching {fetched.group(1)}") if fetched else None,
        )
    blamed = _blamed_requirement(requirements, "".join(f"{r}\n" for r in requirements), stderr)
    missing_ref = re.search(r"failed to fetch (?:branch or tag|commit) `([^`]+)`", stderr)
    if "couldn't find remote ref" in stderr or (missing_ref and "unable to access" not in stderr):
        ref = missing_ref.group(1) if missing_ref else "?"
        raise InputError(
            f"pip requirement '{redact_url(blamed)}' on {target.platform}:"
            f" git ref '{ref}' does not exist in its repository",
            where=source,
            hint="name an existing branch, tag or commit",
        )
    hints = list(parsed.hints)
    text = stderr.lower()
    if (
        "no usable wheels" in text
        or "building source distributions" in text
        or "no wheels with a matching platform tag" in text
    ):
        # uv blames `--no-build`, a flag the user never gave: say why in our terms
        hints = [h for h in hints if "--no-build" not in h and "from source" not in h]
        hints.insert(0, "repro-audit locks wheels only; no wheel fits this platform")
    conda_named = sorted(
        f"{name} {version} (conda package {conda})"
        for name, (version, conda) in provided.items()
        if re.search(rf"(?<![\w.-]){re.escape(name)}(?:[=<>!~ ,]|$)", text)
    )
    if conda_named:
        hints.insert(0, "provided by the conda solve: " + ", ".join(conda_named))
    raise InputError(
        f"pip requirement '{blamed}' on {target.platform}: {_one_line(parsed.key_line)}",
        where=source,
        hint=_one_line("; ".join(hints)) if hints else None,
    )


# --------------------------------------------------------------------------- pylock


@dataclass(frozen=True)
class _Chosen:
    name: str
    version: str
    url: str  # may carry credentials if uv kept them; redacted on output
    sha256: str | None
    size: int | None


def _artifact_url(artifact: Mapping[str, Any], lock_dir: Path) -> str:
    if "url" in artifact:
        return str(artifact["url"])
    path = Path(str(artifact["path"]))
    return (path if path.is_absolute() else (lock_dir / path)).resolve().as_uri()


def _choose_wheel(
    package: Mapping[str, Any], target: Target, lock_dir: Path, source: str
) -> _Chosen:
    """The most preferred wheel of a pylock package for the target's tags."""
    name = canonicalize_name(str(package["name"]))
    version = str(package.get("version", ""))
    candidates: list[Mapping[str, Any]] = list(package.get("wheels") or [])
    archive = package.get("archive")
    if (
        not candidates
        and isinstance(archive, Mapping)
        and _artifact_url(archive, lock_dir).split("#")[0].endswith(".whl")
    ):
        candidates = [archive]
    where = f"pip package '{name}' {version}".rstrip()
    if not candidates:
        kinds = {"sdist": "only a source distribution", "archive": "only a source archive"}
        kinds |= {"vcs": "only a VCS checkout", "directory": "only a local directory"}
        kind = next((text for key, text in kinds.items() if package.get(key)), "no files")
        raise InputError(
            f"{where} has {kind} for {target.platform}",
            where=source,
            hint="repro-audit locks wheels only",
        )
    ranked: list[tuple[int, str, Mapping[str, Any]]] = []
    seen_tags: set[str] = set()
    for wheel in candidates:
        url = _artifact_url(wheel, lock_dir)
        filename = urllib.parse.unquote(url.split("#")[0].split("?")[0].rsplit("/", 1)[-1])
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        seen_tags.update(str(t) for t in tags)
        ranks = [target.tag_rank[t] for t in tags if t in target.tag_rank]
        if ranks:
            ranked.append((min(ranks), filename, wheel))
    if not ranked:
        raise InputError(
            f"{where} has no portable wheel for {target.platform}"
            f" (python {target.python_version}); wheels: {', '.join(sorted(seen_tags)) or 'none'}",
            where=source,
            hint="repro-audit locks wheels only and never picks linux_* wheels",
        )
    _, _, wheel = min(ranked, key=lambda item: (item[0], item[1]))
    hashes = wheel.get("hashes") or {}
    size = wheel.get("size")
    return _Chosen(
        name=name,
        version=version,
        url=_artifact_url(wheel, lock_dir),
        sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
        size=int(size) if isinstance(size, int) else None,
    )


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class _WheelInfo:
    metadata: str
    sha256: str  # from the lock, or computed when the whole file was read


class _Credentials:
    """Basic-auth credentials per host, from the index URLs, uv's env vars and netrc.

    uv authenticates its own requests, but reading METADATA is ours; like uv, the
    credentials of an index apply to every URL on the same scheme, host and port.
    """

    def __init__(self, urls: Iterable[str]) -> None:
        self._by_realm: dict[str, tuple[str, str]] = {}
        for url in urls:
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None and parts.hostname:
                user = urllib.parse.unquote(parts.username)
                password = urllib.parse.unquote(parts.password or "")
                self._by_realm.setdefault(self._realm(parts), (user, password))

    @staticmethod
    def _realm(parts: urllib.parse.SplitResult) -> str:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"

    def header(self, url: str) -> str | None:
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None:
            user, password = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
        elif self._realm(parts) in self._by_realm:
            user, password = self._by_realm[self._realm(parts)]
        else:
            from audit.core.credentials import current

            secret = current().for_url(url)  # auth file, uv's variables, netrc, keyring
            return secret.header() if secret else None
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return f"Basic {token}"


def _with_credentials(url: str) -> str:
    """The index URL for uv's environment (never its argv), with the store's credentials."""
    from audit.core.credentials import current

    parts = urllib.parse.urlsplit(url)
    if parts.username is not None:
        return url
    secret = current().for_url(url)
    if secret is None or secret.kind != "basic":
        return url
    user = urllib.parse.quote(secret.username, safe="")
    password = urllib.parse.quote(secret.password, safe="")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def _strip_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class _Http:
    """urllib with auth that is never forwarded on redirects, retries and our error types."""

    def __init__(self, credentials: _Credentials, context: str, source: str) -> None:
        self._credentials = credentials
        self._context = context
        self.source = source

    def open(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        request = urllib.request.Request(_strip_userinfo(url), headers=dict(headers or {}))
        auth = self._credentials.header(url)
        if auth:
            request.add_unredirected_header("Authorization", auth)
        delay = 0.5
        for attempt in range(3):
            try:
                return urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT)  # noqa: S310
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == 2:
                    raise
            except _NET_ERRORS:
                if attempt == 2:
                    raise
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def fail(self, url: str, exc: BaseException) -> Exception:
        """Our error for a failed request: 401/403 is input, the rest infrastructure."""
        shown = redact_url(url)
        if isinstance(exc, urllib.error.HTTPError):
            if exc.code in (401, 403):
                return InputError(
                    f"{self._context}: HTTP {exc.code} from {shown}",
                    where=self.source,
                    hint="check the credentials of the pip index",
                )
            return InfrastructureError(
                f"{self._context}: HTTP {exc.code} from {shown}", where=self.source
            )
        reason = getattr(exc, "reason", None) or exc
        return InfrastructureError(f"{self._context}: {reason} ({shown})", where=self.source)


class _RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file through HTTP range requests.

    zipfile reads the end-of-central-directory record, the central directory and one
    member: a few small ranges instead of the whole wheel (torch is ~800 MB).
    """

    def __init__(self, http: _Http, url: str, size: int, tail: bytes) -> None:
        super().__init__()
        self._http, self._url, self._size = http, url, size
        self._segments: list[tuple[int, bytes]] = [(size - len(tail), tail)]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._bytes(self._pos, want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _bytes(self, start: int, length: int) -> bytes:
        for seg_start, seg in self._segments:
            if seg_start <= start and start + length <= seg_start + len(seg):
                return seg[start - seg_start : start - seg_start + length]
        end = min(self._size, start + max(length, _RANGE_CHUNK)) - 1
        with self._http.open(self._url, {"Range": f"bytes={start}-{end}"}) as response:
            data = response.read()
            if response.status != 206:
                data = data[start : end + 1]
        self._segments.append((start, data))
        return data[:length]


def _metadata_from_zip(archive: zipfile.ZipFile, name: str) -> str:
    members = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    members.sort(key=lambda n: canonicalize_name(n.split("-")[0]) != name)
    if not members:
        raise zipfile.BadZipFile("no .dist-info/METADATA member")
    return archive.read(members[0]).decode("utf-8", errors="replace")


_METADATA_CACHE: dict[str, _WheelInfo] = {}
_METADATA_LOCK = threading.Lock()


def _read_full(handle: Any, name: str) -> tuple[str, str]:
    """Spool a whole wheel (local file or a server without ranges): METADATA and sha256."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as spool:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        with zipfile.ZipFile(spool) as archive:  # type: ignore[arg-type]
            return _metadata_from_zip(archive, name), digest.hexdigest()


def _fetch_wheel_info(chosen: _Chosen, http: _Http, cache_dir: Path | None) -> _WheelInfo:
    """METADATA of a wheel, and its sha256 verified whenever the whole file is read."""
    key = chosen.sha256
    if key:
        with _METADATA_LOCK:
            if key in _METADATA_CACHE:
                return _METADATA_CACHE[key]
        disk = Path(cache_dir) / "wheel-metadata" / f"{key}.METADATA" if cache_dir else None
        if disk is not None and disk.is_file():
            info = _WheelInfo(disk.read_text(encoding="utf-8"), key)
            return _remember(info, None)
    else:
        disk = None
    url = chosen.url.split("#")[0]
    try:
        with _HTTP_SLOTS:
            info = _download_info(chosen, url, http)
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"wheel of '{chosen.name}' {chosen.version} is not a valid zip: {exc}",
            where=http.source,
        ) from None
    if chosen.sha256 and info.sha256 != chosen.sha256:
        raise FindingsError(
            f"sha256 mismatch for {redact_url(url)}: the index says {chosen.sha256},"
            f" the file is {info.sha256}",
            where=http.source,
        )
    return _remember(info, disk)


def _download_info(chosen: _Chosen, url: str, http: _Http) -> _WheelInfo:
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            with path.open("rb") as handle:
                meta, digest = _read_full(handle, chosen.name)
        except OSError as exc:
            raise InputError(
                f"cannot read wheel {path}: {exc.strerror}", where=http.source
            ) from None
        return _WheelInfo(meta, digest)
    if chosen.sha256:
        try:
            with http.open(url + ".metadata") as response:
                text = response.read().decode("utf-8", errors="replace")
            headers = HeaderParser().parsestr(text, headersonly=True)
            if canonicalize_name(headers.get("Name") or "") == chosen.name:
                return _WheelInfo(text, chosen.sha256)
        except urllib.error.HTTPError as exc:
            if exc.code not in (400, 403, 404, 405, 410):
                raise http.fail(url + ".metadata", exc) from None
        except _NET_ERRORS as exc:
            raise http.fail(url + ".metadata", exc) from None
    try:
        response = http.open(url, {"Range": f"bytes=-{_RANGE_CHUNK}"} if chosen.sha256 else None)
    except _NET_ERRORS as exc:
        raise http.fail(url, exc) from None
    with response:
        total = re.search(r"/(\d+)\s*$", response.headers.get("Content-Range") or "")
        try:
            if response.status == 206 and total and chosen.sha256:
                reader = _RangeFile(http, url, int(total.group(1)), response.read())
                with zipfile.ZipFile(reader) as archive:
                    return _WheelInfo(_metadata_from_zip(archive, chosen.name), chosen.sha256)
            return _WheelInfo(*_read_full(response, chosen.name))
        except _NET_ERRORS as exc:
            raise http.fail(url, exc) from None


def _remember(info: _WheelInfo, disk: Path | None) -> _WheelInfo:
    with _METADATA_LOCK:
        _METADATA_CACHE[info.sha256] = info
    if disk is not None:
        try:
            disk.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".meta.", dir=disk.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(info.metadata)
            os.replace(tmp, disk)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return info


# --------------------------------------------------------------------------- dependencies


def _requires_dist(metadata: str) -> list[Requirement]:
    headers = HeaderParser().parsestr(metadata, headersonly=True)
    out = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            out.append(Requirement(line))
        except InvalidRequirement:
            continue  # legacy junk in old wheels; the resolver ignored it too
    return out


def _applies(req: Requirement, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in ("", *sorted(extras)))


def _dependencies(
    requirements: Sequence[str],
    metadata: Mapping[str, list[Requirement]],
    env: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """name -> {dependency: specifier} for the target, extras propagated to a fixed point."""
    extras: dict[str, set[str]] = {name: set() for name in metadata}
    for line in requirements:
        try:
            root = Requirement(line)
        except InvalidRequirement:
            continue  # a bare URL or path: uv understood it, it names no extras we can see
        if root.marker is None or root.marker.evaluate({**env, "extra": ""}):
            extras.setdefault(canonicalize_name(root.name), set()).update(root.extras)
    changed = True
    while changed:
        changed = False
        for name, reqs in metadata.items():
            for req in reqs:
                dep = canonicalize_name(req.name)
                if req.extras and _applies(req, env, extras[name]):
                    before = len(extras.setdefault(dep, set()))
                    extras[dep].update(canonicalize_name(e) for e in req.extras)
                    changed = changed or len(extras[dep]) != before
    out: dict[str, dict[str, str]] = {}
    for name, reqs in metadata.items():
        specs: dict[str, list[str]] = {}
        for req in reqs:
            if _applies(req, env, extras[name]):
                text = f"@ {redact_url(req.url)}" if req.url else str(req.specifier)
                specs.setdefault(canonicalize_name(req.name), []).append(text)
        out[name] = {dep: _merge_specs(texts) for dep, texts in sorted(specs.items())}
    return out


def _merge_specs(texts: list[str]) -> str:
    urls = sorted({t for t in texts if t.startswith("@")})
    if urls:
        return urls[0]
    merged = SpecifierSet()
    for text in texts:
        merged &= SpecifierSet(text)
    return str(merged)


# --------------------------------------------------------------------------- entry point


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
    provided = _conda_provided(conda_installed, mapping if mapping is not None else load_mapping())

    with tempfile.TemporaryDirectory(prefix="repro-audit-pip-") as tmp:
        proc, out = _run_uv(
            requirements,
            target,
            Path(tmp),
            provided=provided,
            index_url=index,
            extra_index_urls=extras,
            cache_dir=cache_dir,
            options=_UvOptions(tuple(find_links), pre, tuple(constraints)),
            exclude_newer=exclude_newer,
        )
        if proc.returncode != 0 or not out.is_file():
            _raise_uv_failure(proc, requirements, target, provided, source)
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
            _choose_wheel(package, target, out.parent, source)
            for package in packages
            if not isinstance(package.get("vcs"), dict)
        ]

    env_urls = [index or os.environ.get("UV_INDEX_URL") or os.environ.get("UV_DEFAULT_INDEX") or ""]
    env_urls += extras or (os.environ.get("UV_EXTRA_INDEX_URL") or "").split()
    env_urls += [
        re.sub(r"^[A-Za-z0-9_-]+=", "", u) for u in (os.environ.get("UV_INDEX") or "").split()
    ]
    http = _Http(
        _Credentials(u for u in env_urls if u), f"reading pip metadata on {platform}", source
    )
    infos = _map_threads(lambda c: _fetch_wheel_info(c, http, cache_dir), chosen)

    metadata = {c.name: _requires_dist(i.metadata) for c, i in zip(chosen, infos, strict=True)}
    metadata |= {v.name: _vcs_requires(v) for v in vcs}
    deps = _dependencies(requirements, metadata, target.marker_env)
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
        if parsed and _requirement_name(req) == name:
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


def _map_threads(fn: Callable[[_Chosen], _WheelInfo], items: Sequence[_Chosen]) -> list[_WheelInfo]:
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
