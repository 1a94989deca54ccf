"""The Dockerfile's own layers re-packed into canonical tars: the same files, the same bytes.

Every RUN and COPY layer the engine writes carries the build's wall-clock mtimes, so its
diff_id (the sha256 of the layer tar) and with it the image id differ on each rebuild even
when the step wrote the same files. Re-packing each such layer as a canonical tar makes
the diff_id a function of the files alone (the way ko, jib and apko write theirs):

- mtimes clamped to the epoch (`min(mtime, epoch)`, reproducible-builds.org's rule);
- members sorted by name, a hardlink's target written before its links;
- uid/gid kept, uname/gname empty, no PAX atime/ctime, only `security.capability` kept
  of the extended attributes (what the engine itself puts in a layer tar);
- whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) kept, in the tar form.

The files come from the engine's storage when it is local overlay2 (`enginestore`: a
whiteout is a 0:0 character device there, an opaque folder has the overlay xattr), else
from the layer tars of one `docker save`. A layer the repacker cannot express (a device
file, a whiteout in an unknown form) is bad input: one line naming the layer and path.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audit.core.errors import InputError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CAPABILITY = "security.capability"
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
_KNOWN_OVERLAY = ("trusted.overlay.opaque", "user.overlay.opaque")
#: Overlay marks that change what a folder or file means (a renamed folder, a file whose
#: data is in a lower layer): not expressible in a layer tar. Others (origin, impure,
#: nlink) are bookkeeping of the mount and say nothing about the layer's files.
_MEANINGFUL_OVERLAY = ("redirect", "metacopy")


@dataclass
class Member:
    """One entry of a layer, independent of where it was read from."""

    name: str
    kind: bytes  # tarfile.REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, FIFOTYPE
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int = 0
    linkname: str = ""
    xattrs: dict[str, str] = field(default_factory=dict)
    open: Callable[[], IO[bytes]] | None = None
    inode: tuple[int, int] | None = None  # a regular file's identity (hardlinks)


class Unrepackable(InputError):
    """A layer holding what a canonical layer tar cannot say."""


def _refuse(layer: str, name: str, what: str) -> Unrepackable:
    return Unrepackable(
        f"cannot re-pack {layer}: {name} is {what}; build with --no-reproducible-image "
        "to keep the layer as the builder wrote it"
    )


# ---------------------------------------------------------------- reading a layer folder


def _xattrs(path: str) -> dict[str, str]:
    try:
        value = os.getxattr(path, CAPABILITY, follow_symlinks=False)
    except OSError:
        return {}
    return {CAPABILITY: value.decode("latin-1")}


def _overlay_marks(path: str, layer: str, name: str) -> bool:
    """True for an opaque folder; refuses a redirected folder or a metacopy file."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    opaque = False
    for key in names:
        if not key.startswith(_OVERLAY_XATTRS):
            continue
        if key in _KNOWN_OVERLAY:
            opaque = opaque or os.getxattr(path, key, follow_symlinks=False) == b"y"
        elif key.rpartition(".")[2] in _MEANINGFUL_OVERLAY:
            raise _refuse(layer, name, f"marked {key} (an overlay form this tool cannot re-pack)")
    return opaque


def _opener(path: str) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")  # noqa: SIM115 (closed by the writer)


def folder_members(folder: Path, layer: str) -> Iterator[Member]:
    """The members of an overlay2 layer folder, whiteouts in their tar form."""
    pending = [("", str(folder))]
    while pending:
        rel, path = pending.pop()
        with os.scandir(path) as entries:
            listed = list(entries)
        for entry in listed:
            name = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            yield from _folder_member(entry.path, name, st, layer, pending)


def _folder_member(
    path: str, name: str, st: os.stat_result, layer: str, pending: list[tuple[str, str]]
) -> Iterator[Member]:
    base = os.path.basename(name)
    ids = {"uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
    if base.startswith(WHITEOUT):
        raise _refuse(layer, name, "a file named like a whiteout in an overlay folder")
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        opaque = _overlay_marks(path, layer, name)
        yield Member(name, tarfile.DIRTYPE, mode, xattrs=_xattrs(path), **ids)
        if opaque:
            yield Member(f"{name}/{OPAQUE}", tarfile.REGTYPE, mode & 0o777, **ids)
        pending.append((name, path))
    elif stat.S_ISREG(st.st_mode):
        _overlay_marks(path, layer, name)
        yield Member(
            name, tarfile.REGTYPE, mode, size=st.st_size, xattrs=_xattrs(path),
            open=_opener(path), inode=(st.st_dev, st.st_ino) if st.st_nlink > 1 else None,
            **ids,
        )  # fmt: skip
    elif stat.S_ISLNK(st.st_mode):
        yield Member(name, tarfile.SYMTYPE, mode, linkname=os.readlink(path), **ids)
    elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        parent, _, leaf = name.rpartition("/")
        whiteout = f"{parent}/{WHITEOUT}{leaf}" if parent else f"{WHITEOUT}{leaf}"
        yield Member(whiteout, tarfile.REGTYPE, 0o600, **ids)
    elif stat.S_ISFIFO(st.st_mode):
        yield Member(name, tarfile.FIFOTYPE, mode, **ids)
    elif stat.S_ISSOCK(st.st_mode):
        return  # the engine leaves sockets out of layers too
    else:
        kind = "a character device" if stat.S_ISCHR(st.st_mode) else "a block device"
        raise _refuse(layer, name, f"{kind} ({os.major(st.st_rdev)}:{os.minor(st.st_rdev)})")


def _link_groups(members: list[Member]) -> list[Member]:
    """Folder members with hardlinks as LNKTYPE to the first name (members sorted)."""
    first: dict[tuple[int, int], str] = {}
    out = []
    for member in members:
        if member.inode is not None:
            if member.inode in first:
                member = Member(
                    member.name, tarfile.LNKTYPE, member.mode, member.uid, member.gid,
                    member.mtime, linkname=first[member.inode],
                )  # fmt: skip
            else:
                first[member.inode] = member.name
        out.append(member)
    return out


# ---------------------------------------------------------------- reading a layer tar


def tar_members(archive: tarfile.TarFile, layer: str) -> list[Member]:
    """The members of a layer tar (already whiteouts in tar form), checked, hardlinks
    regrouped so the first name of each set in name order holds the data."""
    infos = {}
    for info in archive.getmembers():
        name = info.name.lstrip("/").removeprefix("./").rstrip("/")
        if not name:
            continue
        _check_tar_member(info, name, layer)
        infos[name] = info
    groups: dict[str, list[str]] = {}
    for name, info in infos.items():
        if info.islnk():
            target = info.linkname.lstrip("/").removeprefix("./")
            if target in infos and not infos[target].islnk():
                groups.setdefault(target, [target]).append(name)
    holder: dict[str, tuple[str, str]] = {}  # name -> (first name of its set, data holder)
    for target, names in groups.items():
        for name in names:
            holder[name] = (min(names), target)
    out = []
    for name, info in infos.items():
        out.append(_tar_member(archive, infos, name, info, holder))
    return out


def _check_tar_member(info: tarfile.TarInfo, name: str, layer: str) -> None:
    leaf = name.rpartition("/")[2]
    if info.ischr() or info.isblk():
        what = "a character device" if info.ischr() else "a block device"
        if info.ischr() and info.devmajor == 0 and info.devminor == 0:
            what = "a 0:0 character device (a whiteout in overlay form, not tar form)"
        raise _refuse(layer, name, what)
    unknown = leaf.startswith(WHITEOUT + WHITEOUT) and leaf != OPAQUE
    if leaf.startswith(WHITEOUT) and (not info.isreg() or unknown):
        raise _refuse(layer, name, "a whiteout in a form this tool cannot re-pack")


def _tar_member(
    archive: tarfile.TarFile,
    infos: dict[str, tarfile.TarInfo],
    name: str,
    info: tarfile.TarInfo,
    holder: dict[str, tuple[str, str]],
) -> Member:
    ids = {"uid": info.uid, "gid": info.gid, "mtime": int(info.mtime)}
    xattrs = {
        k.removeprefix("SCHILY.xattr."): v
        for k, v in info.pax_headers.items()
        if k == f"SCHILY.xattr.{CAPABILITY}"
    }
    if name in holder:
        first, target = holder[name]
        if first != name:
            return Member(name, tarfile.LNKTYPE, info.mode, linkname=first, **ids)
        source = infos[target]
        return Member(
            name, tarfile.REGTYPE, source.mode, size=source.size, xattrs=xattrs,
            open=lambda: archive.extractfile(source), **ids,  # type: ignore[arg-type,return-value]
        )  # fmt: skip
    if info.isreg():
        return Member(
            name, tarfile.REGTYPE, info.mode, size=info.size, xattrs=xattrs,
            open=lambda: archive.extractfile(info), **ids,  # type: ignore[arg-type,return-value]
        )  # fmt: skip
    kinds = {tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE}
    kind = info.type if info.type in kinds else tarfile.REGTYPE
    return Member(name, kind, info.mode, linkname=info.linkname, xattrs=xattrs, **ids)


# ---------------------------------------------------------------- writing


def write_canonical(members: list[Member], epoch: int, out: IO[bytes]) -> None:
    """The canonical tar of `members` (sorted by the caller) into `out`."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.kind
            info.mode = member.mode
            info.uid, info.gid = member.uid, member.gid
            info.uname = info.gname = ""
            info.mtime = min(member.mtime, epoch)
            info.linkname = member.linkname
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in sorted(member.xattrs.items())}
            if member.kind == tarfile.REGTYPE and member.open is not None:
                info.size = member.size
                with member.open() as handle:
                    tar.addfile(info, handle)
            else:
                info.size = 0
                tar.addfile(info)


def _sorted(members: list[Member]) -> list[Member]:
    return sorted(members, key=lambda m: m.name.encode("utf-8", "surrogateescape"))


@dataclass
class Repacked:
    """The Dockerfile's own layers re-packed: new diff_ids and the tars that differ."""

    diff_ids: list[str]
    files: list[Path | None]
    changed: int = 0
    #: how many layers were taken from the memo unchecked (a remote engine)
    trusted: int = 0


def _hashed_temp(folder: Path, write: Callable[[IO[bytes]], None]) -> tuple[str, Path]:
    """Write a temp tar under `folder` through `write`, hashed as it is written:
    (its sha256 as diff_id, path)."""
    from audit.build.usermemo import HashingWriter

    folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".tar", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            sink = HashingWriter(handle)
            write(sink)  # type: ignore[arg-type]
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return "sha256:" + sink.hexdigest(), path


#: Bumped when the canonical form changes: a remembered re-pack of another form is unused.
FORM = "1"


def _memo_key(diff_id: str, epoch: int) -> str:
    return f"repack {FORM} {diff_id} {epoch}"


@contextlib.contextmanager
def repack_layers(
    client: Any,
    image_id: str,
    diff_ids: list[str],
    first: int,
    epoch: int,
    work: Path,
    cache_dir: Path | None = None,
    trust: bool = True,
) -> Iterator[Repacked]:
    """The layers `diff_ids[first:]` of `image_id` re-packed; temp tars removed after.

    A layer re-packed before (remembered in `cache_dir` per diff_id and epoch) whose
    canonical form the engine still holds is not read again: the same RUN output under a
    new environment costs nothing.
    """
    from audit.build.usermemo import remember
    from audit.inventory.enginestore import chain_ids, open_store

    own = list(range(first, len(diff_ids)))
    result = Repacked(list(diff_ids), [None] * len(diff_ids))
    temps: list[Path] = []
    store = open_store(client) if own else None
    chains = chain_ids(diff_ids)
    folders = {i: store.layer_dir(chains[i], diff_ids[i]) if store else None for i in own}
    try:
        known = _known_repacks(store, cache_dir, diff_ids, own, epoch, trust)
        todo = [i for i in own if i not in known]
        missing = [i for i in todo if folders[i] is None]
        saved = _save_layers(client, image_id, missing, work, temps) if missing else {}
        for i in own:
            if i in known:
                result.diff_ids[i] = known[i]
                result.changed += known[i] != diff_ids[i]
                result.trusted += store is None
                continue
            layer = f"layer {i + 1} ({diff_ids[i].partition(':')[2][:12]}) of {image_id[:19]}"
            folder = folders[i]
            if folder is not None:
                digest, path = _repack_folder(folder, layer, epoch, work)
            else:
                digest, path = _repack_tar(saved[i], layer, epoch, work)
            temps.append(path)
            if digest != diff_ids[i]:
                result.diff_ids[i], result.files[i] = digest, path
                result.changed += 1
            if cache_dir is not None:
                remember(cache_dir, _memo_key(diff_ids[i], epoch), digest, REPACKED)
        yield result
    finally:
        for path in temps:
            path.unlink(missing_ok=True)


REPACKED = "repacked-layers"


def _known_repacks(
    store: Any,
    cache_dir: Path | None,
    diff_ids: list[str],
    own: list[int],
    epoch: int,
    trust: bool,
) -> dict[int, str]:
    """Own layers whose canonical form was made before and is still in the engine.

    A remote engine's storage cannot be looked into: there the memo is trusted (`trust`)
    and a load that finds a layer missing is retried with every layer re-packed.

    Only a prefix of `own` can be reused: a layer's chain id names everything below it,
    so once one layer must be re-packed, the ones above it are new chains too.
    """
    from audit.build.usermemo import remembered
    from audit.inventory.enginestore import chain_ids

    if cache_dir is None or not trust:
        return {}
    out: dict[int, str] = {}
    canonical = list(diff_ids)
    for i in own:
        new = remembered(cache_dir, _memo_key(diff_ids[i], epoch), REPACKED)
        if new is None:
            break
        canonical[i] = new
        if store is not None and store.layer_dir(chain_ids(canonical[: i + 1])[-1], new) is None:
            break
        out[i] = new
    return out


def _repack_folder(folder: Path, layer: str, epoch: int, work: Path) -> tuple[str, Path]:
    members = _link_groups(_sorted(list(folder_members(folder, layer))))
    return _hashed_temp(work, lambda out: write_canonical(members, epoch, out))


def _repack_tar(source: Path, layer: str, epoch: int, work: Path) -> tuple[str, Path]:
    with tarfile.open(source, mode="r:") as archive:
        members = _sorted(tar_members(archive, layer))
        return _hashed_temp(work, lambda out: write_canonical(members, epoch, out))


def _save_layers(
    client: Any, image_id: str, wanted: list[int], work: Path, temps: list[Path]
) -> dict[int, Path]:
    """The layer tars at positions `wanted`, from one `docker save` (a remote engine)."""
    work.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=work, suffix=".save.tar", delete=False)  # noqa: SIM115
    temps.append(Path(handle.name))
    with handle:
        for chunk in client.save_image(image_id):
            handle.write(chunk)
    out: dict[int, Path] = {}
    with tarfile.open(handle.name, mode="r:") as archive:
        reader = archive.extractfile("manifest.json")
        if reader is None:
            raise InputError(f"docker save of {image_id} holds no manifest.json")
        names = json.loads(reader.read())[0]["Layers"]
        for position in wanted:
            layer = archive.extractfile(names[position])
            if layer is None:
                raise InputError(f"docker save of {image_id} lacks {names[position]}")
            with layer, tempfile.NamedTemporaryFile(dir=work, suffix=".tar", delete=False) as o:
                temps.append(Path(o.name))
                while chunk := layer.read(1 << 20):
                    o.write(chunk)
            out[position] = Path(o.name)
    return out
