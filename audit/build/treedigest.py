"""The environment's identity independent of layers: a content hash of its tree.

Like Nix's NAR hash, it covers only what the environment is (each path under the prefix,
its type, its permission bits, a symlink's target, a file's bytes, in sorted order) and
nothing of how it got there (mtimes, owners, which layer, tar member order). So the same
environment gives the same digest whether it is the image's last layer or was copied in
by the user's own `COPY --from=repro-audit-env` step, and `verify` can read it back
from any image (`docker cp`'s archive of the prefix) and compare.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Iterable
from typing import IO, Any

from audit.core.errors import InfrastructureError, InputError

ALGORITHM = "repro-audit-tree-v1"


class TreeHash:
    """The digest over (relative path, line) entries, given in any order."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def add(self, rel: str, line: str) -> None:
        self.entries.append((rel, line))

    def digest(self) -> str:
        h = hashlib.sha256(ALGORITHM.encode() + b"\n")
        for rel, line in sorted(self.entries):
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0" + line.encode() + b"\n")
        return "sha256:" + h.hexdigest()


def dir_line(mode: int) -> str:
    return f"d {mode & 0o7777:04o}"


def file_line(mode: int, sha256_hex: str) -> str:
    return f"f {mode & 0o7777:04o} {sha256_hex}"


def link_line(target: str) -> str:
    return f"l {target}"


def _entries(archive: tarfile.TarFile, root: str) -> Iterable[tuple[str, str]]:
    """(relative path, line) for each member below `root` (a member name prefix)."""
    root = root.strip("/")
    files: dict[str, str] = {}
    for member in archive:
        name = posixpath.normpath(member.name.lstrip("./") or ".")
        if name != root and not name.startswith(root + "/"):
            continue
        rel = name[len(root) + 1 :]
        if not rel:
            continue
        if member.isdir():
            line = dir_line(member.mode)
        elif member.issym():
            line = link_line(member.linkname)
        elif member.islnk():
            target = posixpath.normpath(member.linkname.lstrip("./"))[len(root) + 1 :]
            line = files.get(target, f"h {target}")
        elif member.isreg():
            handle = archive.extractfile(member)
            h = hashlib.sha256()
            while handle is not None and (chunk := handle.read(1 << 20)):
                h.update(chunk)
            line = file_line(member.mode, h.hexdigest())
            files[rel] = line
        else:
            raise InputError(f"unexpected file type in the environment: {name}")
        yield rel, line


def tree_digest(stream: IO[bytes], root: str) -> str:
    """`sha256:…` over the sorted entries below `root` of the tar on `stream`."""
    tree = TreeHash()
    with tarfile.open(fileobj=stream, mode="r|*") as archive:
        for rel, line in _entries(archive, root):
            tree.add(rel, line)
    return tree.digest()


def image_tree_digest(client: Any, image: str, prefix: str) -> str:
    """Read `prefix` back out of `image` (a stopped container's archive) and digest it."""
    import io

    from audit.build.imageid import ChunkReader
    from audit.core.dockerapi import EngineError, EngineNotFound

    try:
        container = client.create_container(image, ["/repro-audit-none"])
    except EngineError as exc:
        raise InfrastructureError(f"cannot read {image}: {exc.message}") from None
    try:
        chunks = client.container_archive(container, prefix)
        stream = io.BufferedReader(ChunkReader(chunks), 1 << 20)
        return tree_digest(stream, posixpath.basename(prefix.rstrip("/")))
    except EngineNotFound:
        raise InputError(f"the image has no environment at {prefix}") from None
    finally:
        client.remove_container(container)
