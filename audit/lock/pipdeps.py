"""Each locked package's dependencies for the target, from its wheel's Requires-Dist.

uv's pylock has no `dependencies` table: markers are evaluated for the target platform
and Python, and extras are propagated from the requirements to a fixed point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from email.parser import HeaderParser

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from audit.core.redact import redact_url


def requires_dist(metadata: str) -> list[Requirement]:
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


def dependencies(
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
