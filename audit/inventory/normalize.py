"""Small helpers every source shares: conda file names, channel URLs, dependency strings.

Kept in one place so a lockfile, a prefix and an image describe the same package with
the same strings (a channel is always a redacted base URL, never `conda-forge/linux-64`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

from audit.core.redact import redact_url

#: conda's default channel_alias: a bare channel name `conda-forge` lives there.
CHANNEL_ALIAS = "https://conda.anaconda.org"

KNOWN_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64",
        "linux-ppc64le",
        "linux-riscv64",
        "linux-s390x",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "emscripten-wasm32",
        "wasi-wasm32",
        "zos-z",
    }
)

_CONDA_EXTENSIONS = (".conda", ".tar.bz2")


def split_conda_filename(filename: str) -> tuple[str, str, str] | None:
    """`numpy-1.26.4-py311h64a7726_0.conda` → ("numpy", "1.26.4", "py311h64a7726_0").

    conda names may contain dashes, versions and builds may not, so split from the right.
    """
    for ext in _CONDA_EXTENSIONS:
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def url_filename(url: str) -> str:
    """The last path segment of a URL (without query or fragment), percent-decoded."""
    path = urlsplit(url).path
    return unquote(posixpath.basename(path))


def subdir_from_url(url: str) -> str:
    """The subdir a conda artifact URL lives in (`.../conda-forge/linux-64/x.conda`), or ""."""
    path = urlsplit(url).path.rstrip("/")
    parent = posixpath.basename(posixpath.dirname(path))
    return parent if parent in KNOWN_SUBDIRS else ""


def channel_from_url(url: str) -> str:
    """The channel base URL of a conda artifact URL, redacted: drop `/<subdir>/<file>`."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" (IPv6) in a hand-edited URL
        return ""
    path = parts.path
    if split_conda_filename(posixpath.basename(path)) is not None:
        path = posixpath.dirname(path)
    if posixpath.basename(path.rstrip("/")) in KNOWN_SUBDIRS:
        path = posixpath.dirname(path.rstrip("/"))
    base = f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme else path
    return redact_url(base.rstrip("/"))


def normalize_channel(channel: str, subdir: str = "") -> str:
    """A channel as a redacted base URL: `conda-forge` → `https://conda.anaconda.org/conda-forge`.

    conda-meta records say `conda-forge`, `https://.../conda-forge/linux-64` or the full
    URL depending on the installer; lockfiles give a URL. One form lets them compare.
    """
    channel = (channel or "").strip().rstrip("/")
    if not channel:
        return ""
    if "://" not in channel:
        channel = "file://" + channel if channel.startswith("/") else f"{CHANNEL_ALIAS}/{channel}"
    last = posixpath.basename(urlsplit(channel).path)
    if last in KNOWN_SUBDIRS or (subdir and last == subdir):
        channel = channel[: -len(last) - 1]
    return redact_url(channel)


def depends_from_mapping(deps: Mapping[str, object] | None) -> tuple[str, ...]:
    """conda-lock's `{name: spec}` → conda's `"name spec"` strings (no spec for `*`)."""
    out = []
    for name, spec in (deps or {}).items():
        text = str(spec).strip() if spec is not None else ""
        out.append(f"{name} {text}" if text and text != "*" else str(name))
    return tuple(sorted(out))


def depends_from_list(deps: Iterable[str] | None) -> tuple[str, ...]:
    """conda's `["python >=3.8", "six"]`, whitespace-normalised and sorted."""
    out = []
    for dep in deps or ():
        text = str(dep).strip()
        if "  " in text or "\t" in text:
            text = re.sub(r"\s+", " ", text)
        name, _, spec = text.partition(" ")
        out.append(f"{name} {spec}" if spec and spec != "*" else name)
    return tuple(sorted(out))


def wheel_name_version(filename: str) -> tuple[str, str] | None:
    """`numpy-2.2.1-cp313-...whl` or `Pillow-9.0.1.tar.gz` → (name, version), or None."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) >= 5:
            return parts[0], parts[1]
        return None
    for ext in (".tar.gz", ".zip", ".tar.bz2"):
        if filename.endswith(ext):
            name, sep, version = filename[: -len(ext)].rpartition("-")
            return (name, version) if sep and name and version else None
    return None
