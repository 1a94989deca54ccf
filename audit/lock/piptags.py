"""Target tags and markers of a conda platform: what a pip wheel must match to install there.

Computed for the TARGET, not the host (a lock made on Linux serves macOS and Windows);
`linux_*` wheels are not portable and never in a target's tags. The uv target string goes
with them, so uv's resolution and our wheel choice agree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from audit.core.errors import InputError

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
