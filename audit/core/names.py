"""Where the shipped PyPI → conda name mapping lives (conda-lock's format, never fetched)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from packaging.utils import canonicalize_name

from audit.core.errors import InputError

#: The mapping conda-lock would download at run time; shipped so nothing is fetched.
MAPPING_PATH = Path(__file__).parent / "data" / "pypi_to_conda.json"


@functools.lru_cache(maxsize=8)
def _load_mapping_cached(path: str, _stamp: tuple[int, int]) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read PyPI-to-conda mapping: {exc}", where=path) from None
    if not isinstance(data, dict):
        raise InputError("PyPI-to-conda mapping must be a JSON object", where=path)
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            conda = value.get("conda_name") or value.get("conda_forge")
        else:
            conda = value
        if not isinstance(key, str) or not isinstance(conda, str) or not conda:
            raise InputError(f"invalid mapping entry for '{key}'", where=path)
        out[canonicalize_name(key)] = conda
    return out


def load_mapping(path: Path | None = None) -> dict[str, str]:
    """PyPI (normalised) name -> conda name, from the shipped mapping or a user file.

    Accepts conda-lock's format (`{pypi: {"conda_name": ..., "pypi_name": ...}}`, which
    is what we ship, so the same file serves as conda-lock's local `mapping_url`) or a
    flat `{pypi: conda}` object. Cached per file and modification time; returns a copy.
    """
    path = Path(path) if path is not None else MAPPING_PATH
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(
            f"cannot read PyPI-to-conda mapping: {exc.strerror}", where=str(path)
        ) from None
    return dict(_load_mapping_cached(str(path.resolve()), (stat.st_mtime_ns, stat.st_size)))
