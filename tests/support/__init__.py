"""Plain helpers shared by the tests (import as `support`: pytest puts tests/ on sys.path).

`make_channel` is fixtures/make_channel.py, which lives outside any package, loaded once
here so tests and conftest share one module object.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rattler import GenericVirtualPackage, RepoDataRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "fixtures"


def _load_make_channel() -> ModuleType:
    """Import fixtures/make_channel.py by path (registered as `make_channel`)."""
    if "make_channel" in sys.modules:
        return sys.modules["make_channel"]
    spec = importlib.util.spec_from_file_location("make_channel", FIXTURES_DIR / "make_channel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_channel"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


make_channel = _load_make_channel()


def virtual_packages(
    platform: str, extra: Sequence[tuple[str, str, str]] = ()
) -> list[GenericVirtualPackage]:
    """The fixture's default virtual packages for `platform` plus `extra` (name, version, build).

    rattler never detects virtual packages for a target platform, so tests must say them.
    """
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    triples = [*make_channel.DEFAULT_VIRTUAL_PACKAGES[platform], *extra]
    return [
        GenericVirtualPackage(PackageName(name), Version(version), BuildString(build))
        for name, version, build in triples
    ]


def solve(
    channel: str | Path,
    specs: Sequence[str],
    platform: str,
    cache_dir: Path,
    *,
    extra_virtual: Sequence[tuple[str, str, str]] = (),
    **kwargs: Any,
) -> list[RepoDataRecord]:
    """Solve `specs` for `platform` against one channel, synchronously (tests are sync)."""
    from rattler import Channel, Gateway
    from rattler import solve as rattler_solve

    return asyncio.run(
        rattler_solve(
            [Channel(str(channel))],
            list(specs),
            gateway=Gateway(cache_dir=cache_dir),
            platforms=[platform, "noarch"],
            virtual_packages=virtual_packages(platform, extra_virtual),
            **kwargs,
        )
    )


def versions(records: Sequence[RepoDataRecord]) -> dict[str, str]:
    """`{name: version}` of solved records: what most assertions need."""
    return {r.name.normalized: str(r.version) for r in records}
