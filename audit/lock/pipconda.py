"""conda consistency of the pip solve: conda names as PyPI names, and stub wheels for them.

Every package of the conda solve becomes a constraint `name==version` backed by a
dependency-free stub wheel (`name-version+conda`), so pip packages resolve against what
conda installs even when the index lacks that exact version, and conda's own dependency
tree never leaks into the pip solve; the stubs are dropped afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

#: Never stubbed: not a PyPI distribution even though conda installs it.
_NOT_PYPI = frozenset({"python"})
_STUB_LABEL = "conda"


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


def conda_provided(
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


def write_stub_wheel(directory: Path, name: str, version: str) -> None:
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
