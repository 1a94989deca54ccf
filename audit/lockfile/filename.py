"""What a locked package's URL file name says it is, and whether the entry agrees.

A conda artifact is named `<name>-<version>-<build>.conda|.tar.bz2`, a wheel
`<name>-<version>-<tags>.whl` (PEP 427), an sdist `<name>-<version>.tar.gz`. The URL and
its hash are what installers fetch and verify; name, version and build are what people
and `check` read. An entry whose fields were edited by hand (six 1.16.0 → 1.17.0 with the
old URL and hash) installs something other than it says: this is how it is caught.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

CONDA_SUFFIXES = (".conda", ".tar.bz2")


def url_file_name(url: str) -> str:
    """The last path segment of a URL, without query or fragment, percent-decoded."""
    if "?" not in url and "#" not in url and "%" not in url:
        return url.rsplit("/", 1)[-1]
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rsplit("/", 1)[-1])


def conda_file_parts(file_name: str) -> tuple[str, str, str] | None:
    """(name, version, build) of a conda artifact file name, None when it is not one."""
    for suffix in CONDA_SUFFIXES:
        if file_name.endswith(suffix):
            parts = file_name[: -len(suffix)].rsplit("-", 2)
            return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None
    return None


def python_file_parts(file_name: str) -> tuple[str, str] | None:
    """(canonical name, version) of a wheel or sdist file name, None when it is neither."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if file_name.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(file_name)
        elif file_name.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(file_name)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), str(version)


def entry_disagreement(manager: str, name: str, version: str, build: str, url: str) -> str | None:
    """Why the entry's name/version/build contradict its URL's file name (None: they agree).

    A URL whose file name follows no known pattern (a VCS or direct URL) is not judged.
    """
    file_name = url_file_name(url)
    if manager == "pip":
        return _python_disagreement(name, version, file_name)
    parts = conda_file_parts(file_name)
    if parts is None:
        return None
    wrong = [
        f"{field} {mine!r} (the file says {theirs!r})"
        for field, mine, theirs in (
            ("name", name.lower(), parts[0].lower()),
            ("version", version, parts[1]),
            ("build", build, parts[2]),
        )
        if mine and mine != theirs
    ]
    return f"{', '.join(wrong)} for {file_name}" if wrong else None


def _python_disagreement(name: str, version: str, file_name: str) -> str | None:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    parts = python_file_parts(file_name)
    if parts is None:
        return None
    wrong = []
    if canonicalize_name(name) != parts[0]:
        wrong.append(f"name {name!r} (the file says {parts[0]!r})")
    try:
        same = Version(version) == Version(parts[1])
    except InvalidVersion:
        same = version == parts[1]
    if not same:
        wrong.append(f"version {version!r} (the file says {parts[1]!r})")
    return f"{', '.join(wrong)} for {file_name}" if wrong else None


def hand_edits(entries: Iterable[Any], platform: str | None = None) -> Iterator[tuple[Any, str]]:
    """(entry, why) for each scanned lock entry (of `platform`, when given) whose
    name/version/build contradict its URL's file name: `check` RA035 and static `verify`."""
    for entry in entries:
        if not entry.url or not entry.name or (platform and entry.platform != platform):
            continue
        why = entry_disagreement(
            entry.manager or "conda", entry.name, entry.version, entry.build, entry.url
        )
        if why:
            yield entry, why
