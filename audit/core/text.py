"""Reading input files as text: one wording for undecodable bytes, an optional size limit.

Every command that reads a file a user hands it (environment.yml, conda-lock.yml, explicit
locks, Dockerfiles, policies) says the same thing about binary junk, and refuses a file far
larger than any real one at once, before a parser spends seconds and memory on it.
"""

from __future__ import annotations

from pathlib import Path

from audit.core.errors import InputError

#: The one wording for a file that is not UTF-8 text.
NOT_TEXT = "not UTF-8 text (a binary or corrupted file?)"
#: Environment files above this are refused: real ones are a few KB.
MAX_ENV_BYTES = 5 * 1024 * 1024


def decode_text(data: bytes, where: str) -> str:
    """`data` as UTF-8 (a BOM dropped), or InputError: `where: not UTF-8 text (…)`."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{NOT_TEXT}: invalid byte at offset {exc.start}", where=where) from None


def check_size(path: Path, where: str, limit: int) -> None:
    """InputError when `path` is larger than `limit` bytes (checked before reading it)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # the read that follows says what is wrong
    if size > limit:
        raise InputError(
            f"{size / 1e6:.1f} MB is over the {limit / 1e6:.1f} MB limit for this file "
            "(is it really an environment file?)",
            where=where,
        )
