"""Which files make a rebuilt layer differ from the recorded one, and which step wrote it.

`build` re-packs the Dockerfile's own layers canonically, so a layer that still differs
after a rebuild holds other files or other bytes: the step is not deterministic (a
timestamp, a download that moved, a random name). "1 layer differs" does not tell anyone
what to fix; naming the step (its Dockerfile line) and the files does.

The files are compared where both layers can be read: the engine's own storage
(`audit.inventory.enginestore`), which has the rebuilt layer, and the recorded one while
the recorded image (or any image sharing that layer) is still in the engine. Otherwise
the step is named and the reason the files are not.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Files named per layer; the rest are counted.
SHOWN = 10


@dataclass
class LayerDifference:
    """One layer position whose recorded and rebuilt diff_ids differ."""

    position: int  # 1-based, as `docker history` counts from the bottom
    recorded: str
    rebuilt: str
    step: str = ""  # "Dockerfile:4 (RUN date > /stamp)", or the history entry
    changed: list[str] = field(default_factory=list)  # "~ path", "+ path", "- path"
    total: int = 0
    why_no_files: str = ""

    def lines(self) -> list[str]:
        """For people: the layer, its step, then its files (or why they are not listed)."""
        step = f" made by {self.step}" if self.step else ""
        head = (
            f"layer {self.position}{step} is not deterministic: recorded "
            f"{_short(self.recorded)}, rebuilt {_short(self.rebuilt)}"
        )
        if self.why_no_files:
            return [head, f"  files not listed: {self.why_no_files}"]
        if not self.changed:
            return [head, "  the same files with the same bytes (only the tar's form differs)"]
        more = self.total - len(self.changed)
        tail = [f"  … and {more} more"] if more > 0 else []
        return [head, *[f"  {line}" for line in self.changed], *tail]

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded": self.recorded,
            "rebuilt": self.rebuilt,
            "step": self.step,
            "files": self.changed,
            "files_total": self.total,
            "why_no_files": self.why_no_files,
        }


def _short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest


def differing_positions(old: list[str], new: list[str]) -> list[int]:
    """0-based positions where the layer lists differ (same length only: else every
    layer above the first difference is another step, and the count says it)."""
    if len(old) != len(new):
        return []
    return [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]


def describe_differences(
    client: Any,
    old_layers: list[str],
    new_layers: list[str],
    steps: list[str],
    dockerfile: str | None,
    env_layer: str = "",
) -> list[LayerDifference]:
    """Every differing layer position, with its step and (where readable) its files."""
    from audit.dockerfile.history import find_in_text
    from audit.inventory.enginestore import chain_ids, open_store

    differing = differing_positions(old_layers, new_layers)
    positions = [i for i in differing if new_layers[i] != env_layer]
    if not positions:
        return []
    store = open_store(client)
    old_chains, new_chains = chain_ids(old_layers), chain_ids(new_layers)
    out = []
    for i in positions:
        created_by = steps[i] if i < len(steps) else ""
        found = find_in_text(created_by, dockerfile, "Dockerfile") if dockerfile else None
        step = str(found) if found else " ".join(created_by.split())[:100]
        item = LayerDifference(i + 1, old_layers[i], new_layers[i], step)
        if store is None:
            item.why_no_files = "the engine's storage is not readable here (remote engine?)"
        else:
            old_dir = store.layer_dir(old_chains[i], old_layers[i])
            new_dir = store.layer_dir(new_chains[i], new_layers[i])
            if old_dir is None:
                item.why_no_files = (
                    "the recorded layer is not in this engine (pull or load the recorded "
                    "image, then verify again)"
                )
            elif new_dir is None:
                item.why_no_files = "the rebuilt layer is not in the engine's storage"
            else:
                changes = compare_folders(old_dir, new_dir)
                item.total, item.changed = len(changes), changes[:SHOWN]
        out.append(item)
    return out


def _entries(folder: Path) -> dict[str, tuple[Any, ...]]:
    """path → (kind, mode, uid, gid, size, mtime, link target) of a layer folder."""
    out: dict[str, tuple[Any, ...]] = {}
    paths = [Path(top) / name for top, dirs, files in os.walk(folder) for name in dirs + files]
    for path in paths:
        st = path.lstat()
        target = str(path.readlink()) if stat.S_ISLNK(st.st_mode) else ""
        rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) else 0
        out[path.relative_to(folder).as_posix()] = (
            stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
            st.st_size if stat.S_ISREG(st.st_mode) else 0, int(st.st_mtime), target, rdev,
        )  # fmt: skip
    return out


def _same_bytes(a: Path, b: Path) -> bool:
    return _sha256(a) == _sha256(b)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def compare_folders(old: Path, new: Path) -> list[str]:
    """The files that differ between two layer folders, sorted: "~ path (what)",
    "+ path" (only rebuilt), "- path" (only recorded)."""
    a, b = _entries(old), _entries(new)
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            out.append(f"+ /{name}")
        elif name not in b:
            out.append(f"- /{name}")
        elif a[name] != b[name]:
            out.append(f"~ /{name} ({_what(a[name], b[name])})")
        elif stat.S_ISREG(a[name][0]) and not _same_bytes(old / name, new / name):
            out.append(f"~ /{name} (content)")
    return out


_FIELDS = ("type", "mode", "owner", "group", "size", "mtime", "link target", "device")


def _what(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
    return ", ".join(name for name, x, y in zip(_FIELDS, a, b, strict=True) if x != y)
