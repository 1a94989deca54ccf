"""Target platforms and the virtual packages a solve assumes for each of them.

Virtual packages are never detected for a target platform: they come from conda-lock's
default set (CUDA off unless asked) or from a `--virtual-packages` file in its format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from audit.core.errors import InputError

if TYPE_CHECKING:
    from conda_lock.virtual_package import FakeRepoData

#: Platforms conda-lock's selector logic knows; anything else is a typo or unsupported.
KNOWN_PLATFORMS: tuple[str, ...] = (
    "linux-64",
    "linux-aarch64",
    "linux-ppc64le",
    "osx-64",
    "osx-arm64",
    "win-64",
)
DEFAULT_PLATFORMS: tuple[str, ...] = ("linux-64", "osx-64", "osx-arm64", "win-64")


def check_platform(platform: str, *, where: str | None = None) -> str:
    """Return `platform` if known, else a clear InputError naming the known ones."""
    if platform not in KNOWN_PLATFORMS:
        raise InputError(
            f"unknown platform '{platform}' (known: {', '.join(KNOWN_PLATFORMS)})", where=where
        )
    return platform


@dataclass(frozen=True, order=True)
class VirtualPackage:
    """A virtual package assumed present on a target platform (e.g. `__glibc 2.28`)."""

    name: str
    version: str
    build: str = "0"


@dataclass(frozen=True)
class VirtualPackageSet:
    """Virtual packages per platform, plus conda-lock's repodata form for the content hash."""

    by_platform: dict[str, tuple[VirtualPackage, ...]]
    fake_repo: FakeRepoData | None = None

    def for_platform(self, platform: str) -> tuple[VirtualPackage, ...]:
        return self.by_platform.get(platform, ())

    def to_json(self) -> dict[str, list[list[str]]]:
        return {p: [[v.name, v.version, v.build] for v in vs] for p, vs in self.by_platform.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[list[str]]]) -> VirtualPackageSet:
        return cls({p: tuple(VirtualPackage(*v) for v in vs) for p, vs in data.items()})


def load_virtual_packages(spec_file: Path | None, with_cuda: str | None) -> VirtualPackageSet:
    """conda-lock's default set (CUDA only with `with_cuda`) or the packages of `spec_file`."""
    from conda_lock.virtual_package import (
        default_virtual_package_repodata,
        virtual_package_repo_from_specification,
    )

    cuda = with_cuda if with_cuda else ""
    if spec_file is None:
        repo = default_virtual_package_repodata(cuda_version=cuda)
    else:
        if not spec_file.is_file():
            raise InputError("virtual packages file not found", where=str(spec_file))
        try:
            repo = virtual_package_repo_from_specification(
                spec_file, override_cuda_version=with_cuda or "default"
            )
        except Exception as exc:  # pydantic/yaml errors: one line is enough for a user
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"invalid virtual packages file: {first}", where=str(spec_file)
            ) from None
    by_platform: dict[str, set[VirtualPackage]] = {}
    for package, subdirs in repo.packages_by_subdir.items():
        if package.name == "__osx" and package.version == "10.15":
            continue  # conda-lock's duplicate, kept only for its content hash
        build = package.build_string or "0"
        for subdir in subdirs:
            by_platform.setdefault(subdir, set()).add(
                VirtualPackage(package.name, package.version, build)
            )
    return VirtualPackageSet(
        by_platform={p: tuple(sorted(v)) for p, v in sorted(by_platform.items())},
        fake_repo=repo,
    )
