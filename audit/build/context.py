"""The user's build context: a normalised tar, and the Dockerfile text sent to Docker."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

from audit.core.errors import InputError


def _norm_info(info: tarfile.TarInfo, epoch: int) -> tarfile.TarInfo:
    info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
    return info


def context_paths(context: Path, dockerfile_name: str) -> set[str]:
    """Every path of the context the builder sees: all of it, less what .dockerignore drops.

    docker-py's `exclude_paths` implements .dockerignore's rules; it is imported only when
    there is one, because importing it loads the whole SDK (~150 ms).
    """
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return set(_walk(context))
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return set(exclude_paths(str(context), patterns, dockerfile=dockerfile_name))


def _walk(context: Path) -> list[str]:
    """Relative paths of every directory, file and symlink under `context` (links not followed)."""
    out = []
    for top, dirs, files in os.walk(context):
        rel = os.path.relpath(top, context)
        for name in [*dirs, *files]:
            out.append(name if rel == "." else os.path.join(rel, name))
    return out


def user_context_tar(
    context: Path,
    dockerfile_text: str,
    dockerfile_name: str,
    epoch: int,
    out: Any,
    exclude: frozenset[str] = frozenset(),
) -> None:
    """The user's context (after .dockerignore) as a sorted tar with one mtime and owner 0.

    `exclude` drops a few more paths: the build record, which is this build's output and
    would otherwise change the user's `COPY . …` layer on every rebuild.
    """
    included = sorted(context_paths(context, dockerfile_name) - set(exclude))
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for rel in included:
            path = context / rel
            st = path.lstat()
            info = _norm_info(tarfile.TarInfo(Path(rel).as_posix()), epoch)
            info.mode = st.st_mode & 0o7777
            if stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                archive.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                if rel == dockerfile_name:
                    continue
                info.size = st.st_size
                with path.open("rb") as data:
                    archive.addfile(info, data)
        data = dockerfile_text.encode("utf-8")
        info = _norm_info(tarfile.TarInfo(dockerfile_name), epoch)
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))


def context_excludes(context: Path, paths: list[Path]) -> frozenset[str]:
    """Context-relative POSIX names of `paths` that lie inside `context`."""
    out = set()
    for path in paths:
        try:
            out.add(Path(path).resolve().relative_to(context.resolve()).as_posix())
        except ValueError:
            continue
    return frozenset(out)


def substitute_bases(
    text: str,
    local: dict[str, str],
    path: str = "Dockerfile",
    parsed: Any = None,
    env_tag: str | None = None,
) -> str:
    """`text` with each pinned reference in `local` replaced by its local image id, and
    `repro-audit-env` by `env_tag` (the environment image loaded for this build).

    Only the text sent to Docker changes; labels and the record keep the reference.
    """
    if not local and not env_tag:
        return text
    from audit.dockerfile.parser import Edit, apply_edits, parse_dockerfile

    parsed = parsed if parsed is not None else parse_dockerfile(text, path)
    edits = _env_edits(text, parsed, env_tag) if env_tag else []
    for site in parsed.sites:
        image_id = local.get(site.ref.canonical())
        if image_id is None:
            continue
        start = site.insert_at - len(site.written)
        if site.written != site.expanded or text[start : site.insert_at] != site.written:
            raise InputError(
                f"cannot build {site.expanded} from a local image: the reference is not "
                "written in one piece",
                where=site.where,
            )
        edits.append(Edit(start, site.insert_at, image_id))
    return apply_edits(text, edits, path)


def _env_edits(text: str, parsed: Any, env_tag: str) -> list[Any]:
    """Edits that name the loaded environment image where the Dockerfile says
    `repro-audit-env` (the token on each line that uses it)."""
    import re

    from audit.dockerfile.parser import ENV_IMAGE, Edit

    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    pattern = re.compile(rf"(?<![\w./-]){re.escape(ENV_IMAGE)}(?![\w.:/@-])", re.IGNORECASE)
    edits = []
    for use in parsed.env_uses:
        line_start = starts[use.line - 1]
        segment_end = starts[min(use.line + 20, len(starts) - 1)]
        match = pattern.search(text, line_start, segment_end)
        if match is None:
            raise InputError("cannot find repro-audit-env on its line", where=use.where)
        edits.append(Edit(match.start(), match.end(), env_tag))
    return edits
