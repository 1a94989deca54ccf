"""Reading input files as text: one wording for undecodable bytes, an optional size limit.

Every command that reads a file a user hands it (environment.yml, conda-lock.yml, explicit
locks, Dockerfiles, policies) says the same thing about binary junk, and refuses a file far
larger than any real one at once, before a parser spends seconds and memory on it.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit.core.errors import InputError

#: The one wording for a file that is not UTF-8 text.
NOT_TEXT = "not UTF-8 text (a binary or corrupted file?)"
#: Environment files above this are refused: real ones are a few KB.
MAX_ENV_BYTES = 5 * 1024 * 1024
#: `check` refuses a conda-lock.yml above this: 100,000 entries of 4 platforms are 43 MB,
#: and a 100 MB file of a million junk entries cost 78 s and 1.4 GB before this limit.
MAX_LOCK_BYTES = 64_000_000


#: Byte order marks of the encodings other than UTF-8 that text editors and shells write.
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
)
#: The fix for the usual cause: Windows PowerShell 5's `>` writes UTF-16LE with a BOM.
RESAVE_HINT = (
    "re-save it as UTF-8: in PowerShell `conda env export | Set-Content -Encoding utf8 {name}`, "
    "elsewhere `iconv -f {enc} -t UTF-8`"
)


def detect_encoding(data: bytes) -> str | None:
    """UTF-16/32 (LE/BE) by BOM, or BOM-less UTF-16 by its zero bytes; None otherwise.

    Text of ASCII characters in UTF-16 has a zero byte in every other position (odd ones
    for LE, even ones for BE); UTF-8 text never contains a zero byte.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.6 and zeros_even < 0.1:
        return "UTF-16LE"
    if zeros_even > 0.6 and zeros_odd < 0.1:
        return "UTF-16BE"
    return None


def check_encoding(data: bytes, where: str) -> None:
    """InputError naming UTF-16/32 text and its fix; nothing for anything else."""
    encoding = detect_encoding(data[:4096])
    if encoding is not None:
        raise InputError(
            f"{encoding} text, not UTF-8 (conda and CI tools on Linux cannot read it)",
            where=where,
            hint=RESAVE_HINT.format(enc=encoding, name=Path(where).name or "FILE"),
        )


def decode_text(data: bytes, where: str) -> str:
    """`data` as UTF-8 (a BOM dropped), or InputError naming what it is and how to fix it.

    A UTF-16 or UTF-32 file (what `conda env export > FILE` writes in Windows PowerShell 5)
    is named as such with the fix; conda and CI set-up actions on Linux fail on it too,
    so it is refused rather than read.
    """
    check_encoding(data, where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{NOT_TEXT}: invalid byte at offset {exc.start}", where=where) from None


def cannot_read(path: Path, exc: OSError) -> str:
    """Why `path` could not be read, as a finding says it: a dangling symlink by its target
    (`ls` shows a name; the error alone says "no such file" of a file that is listed)."""
    if path.is_symlink() and not path.exists():
        return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return f"cannot read: {exc.strerror or exc}"


def check_size(path: Path, where: str, limit: int, what: str = "an environment file") -> None:
    """InputError when `path` is larger than `limit` bytes (checked before reading it)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # the read that follows says what is wrong
    if size > limit:
        raise InputError(
            f"{size / 1e6:.1f} MB is over the {limit / 1e6:.1f} MB limit for this file "
            f"(is it really {what}?)",
            where=where,
        )
