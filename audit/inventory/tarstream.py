"""A minimal one-pass tar reader for image archives and layers, built for speed and safety.

Why not `tarfile`: in stream mode it keeps every TarInfo (memory grows with the member
count), re-slices its buffer on every 512-byte header and cannot peek at a member to
sniff its compression. An image layer is 100,000 members of which we want a few
hundred, so this reader parses headers (ustar, GNU long names, pax `path`/`size`),
checks each header's checksum (a corrupt archive is an error, not garbage) and skips
everything else. Nothing is ever written to disk: member names are data, not paths.
"""

from __future__ import annotations

import io
import posixpath
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from audit.inventory.interface import InventoryError

BLOCK = 512
#: Buffer between the source stream and the header parser.
BUFFER = 1 << 20
_SKIP_CHUNK = 1 << 20

REGULAR, DIRECTORY, SYMLINK, HARDLINK, OTHER = "file", "dir", "symlink", "hardlink", "other"
_TYPES = {
    b"0": REGULAR,
    b"\0": REGULAR,
    b"7": REGULAR,
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"5": DIRECTORY,
}

_META_TYPES = frozenset({b"L", b"K", b"x", b"g"})
_LINK_TYPES = frozenset({b"1", b"2"})
_ODD_START = frozenset({"", ".", "/"})

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"


@dataclass(frozen=True, slots=True)
class Member:
    """One archive member. `name` is cleaned (no leading `/` or `./`); see `clean_name`."""

    name: str
    kind: str
    size: int
    linkname: str = ""


def clean_name(raw: str) -> str | None:
    """A member name as a relative POSIX path, or None when it would escape the root.

    `./opt/x` and `/opt/x` are `opt/x` (an image's root is its own); `../../etc/passwd`
    and `a/../../b` are None. Since nothing is extracted this is about correctness (no
    bogus inventory entries), not about protecting the host.
    """
    name = raw
    if name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if "/." in name or "//" in name or name.startswith("."):
        if name in (".", ""):
            return ""
        name = posixpath.normpath(name)
        if name == ".." or name.startswith("../"):
            return None
        if name == ".":
            return ""
    return name.rstrip("/")


def _octal(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    if field and field[0] & 0x80:
        value = 0
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise InventoryError(f"corrupt tar header ({what} field {text[:12]!r})") from None


def _checksum_ok(header: bytes) -> bool:
    """The header checksum: the byte sum with the checksum field read as spaces.

    Fast path in C: adler32's low half is 1 + the byte sum mod 65521, which decides all
    but a 1-in-65521 corner; anything it rejects is re-checked exactly (and for the
    signed-sum variant some old writers used).
    """
    stored_field = header[148:156]
    try:
        stored = int(stored_field.replace(b"\0", b"") or b"-1", 8)
    except ValueError:
        return False
    field_sum = sum(stored_field)
    fast = (zlib.adler32(header) & 0xFFFF) - 1 - field_sum + 256
    if stored <= 512 * 255 and (stored - fast) % 65521 == 0:
        return True
    expected = sum(header) - field_sum + 256
    if stored == expected:
        return True
    high = sum(1 for b in header[:148] if b > 127) + sum(1 for b in header[156:] if b > 127)
    return stored == expected - 256 * high


def _pax_fields(data: bytes) -> dict[str, str]:
    """`"%d key=value\\n"` records of a pax extended header."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise InventoryError("corrupt pax header") from None
        if length <= 0:
            raise InventoryError("corrupt pax header")
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        fields[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return fields


class _MemberReader(io.RawIOBase):
    """The current member's bytes as a readable stream (for nested archives)."""

    def __init__(self, owner: TarStream) -> None:
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._owner._readinto_member(buffer)


class TarStream:
    """Iterate members of a tar stream; read the current member with `read()`/`open()`.

    The stream is consumed once, front to back. Whatever of a member was not read is
    skipped when the iteration moves on.
    """

    def __init__(self, raw: BinaryIO, where: str = "") -> None:
        self._raw = raw
        self.where = where
        self._remaining = 0  # unread bytes of the current member
        self._padding = 0

    # ---------------------------------------------------------------- low-level reading

    def _read_exact(self, size: int) -> bytes:
        data = self._raw.read(size)
        if data is None:
            data = b""
        while len(data) < size:
            more = self._raw.read(size - len(data))
            if not more:
                break
            data += more
        return data

    def _skip(self, size: int) -> None:
        while size > 0:
            chunk = self._raw.read(min(size, _SKIP_CHUNK))
            if not chunk:
                raise self._error("truncated archive (member data ends early)")
            size -= len(chunk)

    def _error(self, message: str) -> InventoryError:
        return InventoryError(message, where=self.where or None)

    def _readinto_member(self, buffer: memoryview | bytearray) -> int:
        if self._remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._remaining)]
        count = self._raw.readinto(view)  # type: ignore[attr-defined]
        if not count:
            raise self._error("truncated archive (member data ends early)")
        self._remaining -= count
        return count

    # ---------------------------------------------------------------- public API

    def read(self, limit: int | None = None) -> bytes:
        """The current member's bytes (at most `limit`; the rest is skipped later)."""
        size = self._remaining if limit is None else min(limit, self._remaining)
        data = self._read_exact(size)
        if len(data) < size:
            raise self._error("truncated archive (member data ends early)")
        self._remaining -= size
        return data

    def open(self) -> io.BufferedReader:
        """The current member as a buffered stream (peekable), e.g. a nested layer tar."""
        return io.BufferedReader(_MemberReader(self), BUFFER)

    def __iter__(self) -> Iterator[Member]:
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        read = self._raw.read
        while True:
            skip = self._remaining + self._padding
            self._remaining = self._padding = 0
            if skip > _SKIP_CHUNK:
                self._skip(skip)
                skip = 0
            # one read for the rest of the previous member and the next header
            chunk = read(skip + BLOCK) if skip else read(BLOCK)
            if len(chunk) < skip + BLOCK:
                chunk += self._read_exact(skip + BLOCK - len(chunk))
                if len(chunk) < skip:
                    raise self._error("truncated archive (member data ends early)")
                if len(chunk) == skip:
                    return  # EOF without end-of-archive blocks: tolerated, like tar does
                if len(chunk) < skip + BLOCK:
                    raise self._error("truncated archive (partial header)")
            header = chunk[skip:] if skip else chunk
            if not header[0] and header.count(0) == BLOCK:
                return  # end-of-archive marker
            if not _checksum_ok(header):
                raise self._error("corrupt archive (bad tar header checksum)")
            field = header[124:136]
            if field[0] & 0x80:
                size = _octal(field, "size")
            else:
                try:
                    size = int(field.replace(b"\0", b"") or b"0", 8)
                except ValueError:
                    raise self._error(f"corrupt tar header (size field {field!r})") from None
            typeflag = header[156:157]
            self._remaining = size
            self._padding = -size % BLOCK
            if typeflag in _META_TYPES:
                data = self.read(min(size, 1 << 20))
                if typeflag == b"L":
                    long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif typeflag == b"K":
                    long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif typeflag == b"x":
                    pax = _pax_fields(data)
                continue
            if long_name is not None:
                raw_name = long_name
            elif pax and "path" in pax:
                raw_name = pax["path"]
            else:
                end = header.find(0, 0, 100)
                name = header[: end if end >= 0 else 100]
                if header[345] and header[257:262] == b"ustar":
                    end = header.find(0, 345, 500)
                    name = header[345 : end if end >= 0 else 500] + b"/" + name
                raw_name = name.decode("utf-8", "surrogateescape")
            link = ""
            if pax:
                if "size" in pax:
                    try:
                        self._remaining = size = int(pax["size"])
                    except ValueError:
                        raise self._error("corrupt pax header (size)") from None
                    self._padding = -size % BLOCK
                link = pax.get("linkpath", "")
            if typeflag in _LINK_TYPES:
                link = long_link or link
                if not link:
                    end = header.find(0, 157, 257)
                    link = header[157 : end if end >= 0 else 257].decode("utf-8", "surrogateescape")
            long_name = long_link = None
            pax = {}
            if raw_name[:1] in _ODD_START or "/." in raw_name or "//" in raw_name:
                name = clean_name(raw_name)
                if name is None:
                    continue  # escapes the root: ignored (nothing is extracted anyway)
            else:
                name = raw_name[:-1] if raw_name[-1] == "/" else raw_name
            yield Member(name, _TYPES.get(typeflag, OTHER), size, link)


def open_decompressed(stream: io.BufferedReader, where: str = "") -> BinaryIO:
    """`stream` itself or a decompressing reader, chosen by magic bytes (gzip, zstd, ...)."""
    head = stream.peek(8)[:8]
    if head.startswith(GZIP_MAGIC):
        import gzip

        return io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), BUFFER)  # type: ignore[arg-type]
    if head.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError:  # pragma: no cover - zstandard ships with conda's tooling
            raise InventoryError(
                "zstd-compressed layer, but the zstandard module is not installed", where=where
            ) from None
        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return io.BufferedReader(reader, BUFFER)  # type: ignore[arg-type]
    if head.startswith(BZIP2_MAGIC):
        import bz2

        return io.BufferedReader(bz2.BZ2File(stream), BUFFER)  # type: ignore[arg-type]
    if head.startswith(XZ_MAGIC):
        import lzma

        return io.BufferedReader(lzma.LZMAFile(stream), BUFFER)  # type: ignore[arg-type]
    return stream
